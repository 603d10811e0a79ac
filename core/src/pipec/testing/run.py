"""Running a case the way a user runs a pipeline: `pipec run FILE --target T --json`.

Only the command line and the store are used, so any target an installed plugin
contributes runs the cases unchanged. What step bodies and callbacks did is read
from the log they append to (`pipec.testing.observe`), since on most targets they
run in other processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipec.contract import FEATURES
from pipec.plugins import get_target
from pipec.records import StoredValue
from pipec.store import Store
from pipec.testing.case import PIPELINES, Case, Expected, Run
from pipec.testing.observe import LOG_ENV


@dataclass
class RunOutcome:
    """What one `pipec run` gave, and what the kit observed around it."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    log: list[str]
    summary: dict[str, Any] | None
    """The `--json` summary; None if the command printed none."""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Step -> output name -> value, read from the store (when the case checks them)."""
    consoles: dict[str, list[str]] = field(default_factory=dict)
    """Step -> the lines `pipec runs logs` printed for it (when the case checks them)."""
    metrics: dict[tuple[str, str], float | None] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    times: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    """Step -> when it started and ended, from its record."""
    record_error: str | None = None
    """Why the run record could not be read, if it could not."""


@dataclass
class Outcome:
    """Every run of one case on one target."""

    case_id: str
    target: str
    storage: str
    runs: list[RunOutcome]


def missing_capabilities(case: Case, target: str) -> list[str]:
    """The capabilities `case` needs that `target` does not declare: the target must refuse
    the case's pipeline, at the user's line, before anything runs."""
    if not case.needs:
        return []
    return sorted(case.needs - get_target(target).capabilities)


def refusal(case: Case, target: str) -> str | None:
    """What `target` must refuse in `case`, in words; None when it must run the case."""
    missing = missing_capabilities(case, target)
    if not missing:
        return None
    what = ", ".join(f"{name} ({FEATURES.get(name, name)})" for name in missing)
    return f"target {target!r} lacks the capabilit{'ies' if len(missing) > 1 else 'y'} {what}"


def pipec_command() -> list[str]:
    """The `pipec` console script of this interpreter (what a user of this env types)."""
    beside = Path(sys.executable).parent / ("pipec.exe" if os.name == "nt" else "pipec")
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-c", "import sys; from pipec.cli import main; sys.exit(main())"]


def _param(name: str, value: Any) -> str:
    return f"{name}={value if isinstance(value, str) else json.dumps(value)}"


def _env(log: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PIPEC_TARGET", "PIPEC_STORAGE")}
    env[LOG_ENV] = str(log)
    env["PIPEC_HOME"] = str(home)
    return env


def _pipec(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    proc = subprocess.run(
        [*pipec_command(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _parse_summary(stdout: str) -> dict[str, Any] | None:
    try:
        summary = json.loads(stdout)
    except ValueError:
        return None
    return summary if isinstance(summary, dict) and "steps" in summary else None


def _read_record(
    outcome: RunOutcome,
    expected: Expected,
    storage: str,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
) -> None:
    """Step outputs and monitored values, from `pipec runs show --json` and the store;
    consoles from `pipec runs logs`, as a user reads them."""
    assert outcome.summary is not None
    code, stdout, stderr = _pipec(
        ["runs", "show", outcome.summary["run_id"], "--json", "--storage", storage],
        env,
        cwd,
        timeout,
    )
    try:
        shown = json.loads(stdout) if code == 0 else None
    except ValueError:
        shown = None
    if shown is None:
        outcome.record_error = f"pipec runs show exited with {code}: {stderr.strip()}"
        return
    store = Store.resolve(storage)
    for step in shown["steps"]:
        outcome.times[step["name"]] = (step["started"], step["ended"])
        outcome.outputs[step["name"]] = {
            name: store.get_value(StoredValue.model_validate(stored))
            for name, stored in step["outputs"].items()
        }
    for report in shown["run"]["metrics"]:
        if report["kind"] == "scalar":
            outcome.metrics[(report["title"], report["series"])] = report["value"]
    outcome.artifacts = {
        name: store.get_value(StoredValue.model_validate(stored))
        for name, stored in shown["run"]["artifacts"].items()
    }
    for name in expected.steps:
        if expected.step(name).console is not None:
            logs = ["runs", "logs", outcome.summary["run_id"], name, "--storage", storage]
            _, stdout, stderr = _pipec(logs, env, cwd, timeout)
            outcome.consoles[name] = (stdout + stderr).splitlines()


def user_copy(root: Path) -> Path:
    """The case pipelines copied out of the package: pipec treats files inside itself
    as its own code, not as the user's, and a user's pipeline is never there."""
    where = root / "pipelines"
    if not where.is_dir():
        shutil.copytree(PIPELINES, where, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def run_one(
    pipeline: Path,
    run: Run,
    target: str,
    *,
    storage: str,
    rundir: Path,
    home: Path,
    timeout: float,
) -> RunOutcome:
    """One `pipec run` of a case pipeline, with its own log file."""
    rundir.mkdir(parents=True, exist_ok=True)
    log = rundir / "log.txt"
    env = _env(log, home)
    args = ["run", str(pipeline), "--target", target, "--json", "--storage", storage]
    for name, value in run.params.items():
        args += ["--param", _param(name, value)]
    for step in run.refresh:
        args += ["--refresh", step]
    code, stdout, stderr = _pipec(args, env, rundir, timeout)
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    outcome = RunOutcome(
        argv=["pipec", *args],
        returncode=code,
        stdout=stdout,
        stderr=stderr,
        log=lines,
        summary=_parse_summary(stdout),
    )
    if outcome.summary is not None and run.expected.needs_record:
        _read_record(outcome, run.expected, storage, env, rundir, timeout)
    return outcome


def run_case(
    case: Case,
    target: str,
    *,
    storage: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> Outcome:
    """Run every run of `case` on `target`, in order, sharing one store (only the first
    when the target lacks a capability the case needs: it must refuse it).

    `storage` is a URL every step of the target can reach, and that no other case run
    has used: the cache cases expect to start with an empty cache (default: a folder
    in `workdir`). `workdir` holds the copied pipelines and the logs (default: a new
    temporary folder).
    """
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="pipec-case-"))
    root.mkdir(parents=True, exist_ok=True)
    url = storage if storage is not None else str(root / "store")
    home = root / "pipec_home"
    pipeline = user_copy(root) / case.pipeline
    planned = case.runs[:1] if missing_capabilities(case, target) else case.runs  # refused
    runs = [
        run_one(
            pipeline, run, target, storage=url, rundir=root / f"run-{i}", home=home, timeout=timeout
        )
        for i, run in enumerate(planned, 1)
    ]
    return Outcome(case_id=case.id, target=target, storage=url, runs=runs)
