"""Comparing what a target did with what a case expects, as a readable diff.

Both sides are turned into the same plain view (only what the case checks), so
a failure shows a unified diff of expected against actual, followed by the
command and the end of its stderr.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from pipec.testing.case import NOT_CHECKED, Case, Expected, Run
from pipec.testing.run import Outcome, RunOutcome, missing_capabilities, refusal

_STDERR_TAIL = 40


def _plain(value: Any) -> Any:
    """JSON-shaped, so tuples equal lists and a diff prints the same for equal values."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def _bodies(log: list[str]) -> list[str]:
    return sorted(line.removeprefix("body ") for line in log if line.startswith("body "))


def _events(log: list[str]) -> list[str]:
    return [line for line in log if not line.startswith("body ")]


def _metrics(metrics: Any) -> dict[str, Any]:
    return {f"{title}/{series}": value for (title, series), value in sorted(metrics.items())}


def _in_order(lines: Sequence[str], printed: list[str]) -> bool:
    """Whether each of `lines` is a printed line, in this order (others between them)."""
    rest = iter(line.rstrip() for line in printed)
    return all(any(line == seen for seen in rest) for line in lines)


def _stopped(name: str, seen: dict[str, Any], steps: dict[str, Any], actual: RunOutcome) -> str:
    """What a `stopped` step must be: completed only if it ended before any failed step
    started (a target running one step at a time ran it first), else aborted if it
    started, skipped if not."""
    if seen.get("status") == "completed":
        ended = actual.times.get(name, (None, None))[1]
        failed = [actual.times.get(n, (None, None))[0] for n, s in steps.items()
                  if s.get("status") == "failed"]  # fmt: skip
        if ended is not None and failed and all(f is not None and ended <= f for f in failed):
            return "completed"
    return "aborted" if seen.get("attempts", 0) else "skipped"


def views(expected: Expected, actual: RunOutcome) -> tuple[dict[str, Any], dict[str, Any]]:
    """(expected, actual) as comparable plain data."""
    summary = actual.summary or {}
    steps = summary.get("steps", {})
    want: dict[str, Any] = {
        "status": expected.status,
        "exit_code": 0 if expected.status == "completed" else 1,  # `pipec run`'s contract
        "steps": {},
    }
    got: dict[str, Any] = {
        "status": summary.get("status"),
        "exit_code": actual.returncode,
        "steps": {},
    }
    if expected.error is not None:
        error = summary.get("error") or ""
        want["error"] = f"...{expected.error}..."
        got["error"] = want["error"] if expected.error in error else error
    ran_first: set[str] = set()  # `stopped` steps a one-at-a-time target ran before the failure
    for name in expected.steps:
        spec = expected.step(name)
        seen = steps.get(name, {})
        status = spec.status
        if status == "stopped":
            status = _stopped(name, seen, steps, actual)
            if status == "completed":
                ran_first.add(name)
        w: dict[str, Any] = {"status": status, "cache_hit": status == "cached"}
        g: dict[str, Any] = {"status": seen.get("status"), "cache_hit": seen.get("cache_hit")}
        w["attempts"] = spec.expected_attempts(started=bool(seen.get("attempts")))
        g["attempts"] = seen.get("attempts")
        if spec.error is not None:
            error = seen.get("error") or ""
            w["error"] = f"...{spec.error}..."
            g["error"] = w["error"] if spec.error in error else error
        if spec.outputs is not None:
            w["outputs"] = spec.outputs
            g["outputs"] = actual.outputs.get(name, {})
        if spec.console is not None:
            printed = actual.consoles.get(name, [])
            w["console"] = list(spec.console)
            g["console"] = w["console"] if _in_order(spec.console, printed) else printed
        want["steps"][name], got["steps"][name] = w, g
    for name in steps:
        if name not in expected.steps:
            got["steps"][name] = {"status": steps[name].get("status"), "unexpected": True}
    want["bodies"] = sorted(expected.bodies)
    got["bodies"] = [b for b in _bodies(actual.log) if b.split(" ", 1)[0] not in ran_first]
    want["events"], got["events"] = list(expected.events), _events(actual.log)
    if expected.return_value is not NOT_CHECKED:
        want["return_value"] = expected.return_value
        got["return_value"] = summary.get("return_value")
    if expected.metrics is not None:
        want["metrics"], got["metrics"] = _metrics(expected.metrics), _metrics(actual.metrics)
    if expected.artifacts is not None:
        want["artifacts"], got["artifacts"] = expected.artifacts, actual.artifacts
    if actual.record_error is not None:
        got["record_error"] = actual.record_error
    return _plain(want), _plain(got)


def _describe(index: int, total: int, run: Run, actual: RunOutcome, diff: list[str]) -> str:
    lines = [f"run {index}/{total}: {' '.join(actual.argv)}  (exit {actual.returncode})"]
    if run.params or run.refresh:
        lines.append(f"  params={dict(run.params)} refresh={list(run.refresh)}")
    if actual.summary is None:
        lines.append("  no --json summary on stdout:")
        lines.extend(f"  | {line}" for line in actual.stdout.splitlines()[-_STDERR_TAIL:])
    lines.append("  --- expected / +++ actual")
    lines.extend(f"  {line}" for line in diff)
    tail = actual.stderr.splitlines()[-_STDERR_TAIL:]
    if tail:
        lines.append("  stderr (end):")
        lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


def refused_views(case: Case, actual: RunOutcome) -> tuple[dict[str, Any], dict[str, Any]]:
    """(expected, actual) for a case the target must refuse: `pipec run` fails before
    anything runs (no run, no step body), with an error at a line of the case's file."""
    errors = _ERROR_AT.findall(actual.stderr)
    want = {"refused": True, "error_in": case.pipeline, "bodies": []}
    got = {
        "refused": actual.returncode != 0 and actual.summary is None,
        "error_in": case.pipeline if case.pipeline in errors else errors,
        "bodies": _bodies(actual.log),
    }
    return _plain(want), _plain(got)


_ERROR_AT = re.compile(r"([^\s/:]+\.py):\d+: error: ")
"""`FILE:LINE: error: ` as pipec reports a problem with the user's pipeline."""


def mismatches(case: Case, outcome: Outcome) -> list[str]:
    """One readable report per run whose outcome differs from the case's expectation."""
    reports = []
    refused = bool(missing_capabilities(case, outcome.target))
    planned = case.runs[:1] if refused else case.runs
    total = len(planned)
    for index, (run, actual) in enumerate(zip(planned, outcome.runs, strict=True), 1):
        want, got = refused_views(case, actual) if refused else views(run.expected, actual)
        if want == got:
            continue
        diff = difflib.unified_diff(
            json.dumps(want, indent=2, sort_keys=True).splitlines(),
            json.dumps(got, indent=2, sort_keys=True).splitlines(),
            "expected",
            "actual",
            lineterm="",
            n=10_000,  # the whole view: it is short, and context shows which step
        )
        reports.append(_describe(index, total, run, actual, list(diff)[2:]))
    return reports


def check(case: Case, outcome: Outcome) -> None:
    """Raise AssertionError with a diff for every run that did not go as the case says."""
    reports = mismatches(case, outcome)
    if reports:
        header = (
            f"conformance case {case.id!r} on target {outcome.target!r} "
            f"({case.about}); store {outcome.storage}"
        )
        why = refusal(case, outcome.target)
        if why is not None:
            header += f"\n  it must be refused before anything runs: {why}"
        raise AssertionError("\n".join([header, *reports]))
