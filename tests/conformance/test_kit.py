"""The kit itself: its cases are well formed, its check reports a readable diff, and it
skips a case for a target that lacks a capability the case needs."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
from pipec import testing
from pipec.contract import FEATURES
from pipec.hookspecs import hookimpl
from pipec.plugins import plugin_manager
from pipec.testing.run import Outcome, RunOutcome


def test_case_ids_are_unique_and_files_exist() -> None:
    ids = [case.id for case in testing.cases()]
    assert len(ids) == len(set(ids))
    for case in testing.cases():
        assert case.path.is_file(), case.path
        assert case.runs, case.id
        assert case.needs <= set(FEATURES), case.id


def test_every_pipeline_file_parses_and_is_used() -> None:
    used = {case.pipeline for case in testing.cases()} | {"task_script.py"}
    shipped = {path.name for path in testing.PIPELINES.glob("*.py")}
    assert shipped == used
    for name in shipped:
        ast.parse((testing.PIPELINES / name).read_text(encoding="utf-8"))


def _outcome(case: testing.Case, summary: dict, log: list[str]) -> Outcome:
    run = RunOutcome(
        argv=["pipec", "run", case.pipeline],
        returncode=0 if summary["status"] == "completed" else 1,
        stdout="",
        stderr="a line of stderr\n",
        log=log,
        summary=summary,
    )
    return Outcome(case_id=case.id, target="example", storage="/nowhere", runs=[run])


FAILURE_CASE = testing.Case(
    id="example",
    pipeline="failure_branch.py",
    about="an example",
    runs=(
        testing.Run(
            testing.Expected(
                status="failed",
                steps={"bad": testing.StepExpect("failed", error="planned"), "after": "skipped"},
                bodies=("bad",),
            )
        ),
    ),
)


def _step(status: str, attempts: int, error: str | None = None) -> dict:
    return {"status": status, "attempts": attempts, "cache_hit": False, "error": error}


def test_check_accepts_the_expected_outcome() -> None:
    summary = {
        "status": "failed",
        "steps": {"bad": _step("failed", 1, "x: planned failure"), "after": _step("skipped", 0)},
    }
    testing.check(FAILURE_CASE, _outcome(FAILURE_CASE, summary, ["body bad"]))


def test_check_reports_a_diff() -> None:
    summary = {
        "status": "failed",
        "steps": {"bad": _step("failed", 1, "other error"), "after": _step("completed", 1)},
    }
    with pytest.raises(AssertionError) as raised:
        testing.check(FAILURE_CASE, _outcome(FAILURE_CASE, summary, ["body bad", "body after"]))
    message = str(raised.value)
    assert "conformance case 'example' on target 'example'" in message
    assert '-      "status": "skipped"' in message
    assert '+      "status": "completed"' in message
    assert '+    "after",' in message
    assert '+      "error": "other error",' in message
    assert "| a line of stderr" in message


def test_stopped_means_aborted_if_started_else_skipped() -> None:
    case = testing.Case(
        id="stopped",
        pipeline="abort_on_failure.py",
        about="stopped",
        runs=(testing.Run(testing.Expected(status="failed", steps={"slow": "stopped"})),),
    )
    for status, attempts in (("aborted", 1), ("skipped", 0)):
        summary = {"status": "failed", "steps": {"slow": _step(status, attempts)}}
        testing.check(case, _outcome(case, summary, []))
    summary = {"status": "failed", "steps": {"slow": _step("completed", 1)}}
    with pytest.raises(AssertionError):
        testing.check(case, _outcome(case, summary, []))


STOP_CASE = testing.Case(
    id="stopped",
    pipeline="abort_on_failure.py",
    about="stopped",
    runs=(
        testing.Run(
            testing.Expected(
                status="failed",
                steps={"bad": "failed", "slow": "stopped"},
                bodies=("bad",),
            )
        ),
    ),
)


def _stop_outcome(slow_ended: float) -> Outcome:
    summary = {
        "status": "failed",
        "steps": {"bad": _step("failed", 1), "slow": _step("completed", 1)},
    }
    outcome = _outcome(STOP_CASE, summary, ["body slow finished", "body bad"])
    outcome.runs[0].times = {"bad": (10.0, 11.0), "slow": (5.0, slow_ended)}
    return outcome


def test_a_stopped_step_may_have_completed_before_the_failing_step_started() -> None:
    testing.check(STOP_CASE, _stop_outcome(slow_ended=9.5))  # its body is not compared


def test_a_stopped_step_that_completed_after_the_failure_began_is_reported() -> None:
    with pytest.raises(AssertionError, match='"status": "aborted"'):
        testing.check(STOP_CASE, _stop_outcome(slow_ended=10.5))


class StaticTarget:
    """A registered target without the `dynamic` capability (it is never run)."""

    name = "static-example"
    description = "a target that only runs static graphs"
    capabilities = frozenset(FEATURES) - {"dynamic"}

    def compile(self, pipeline: object, out_dir: object) -> list:
        raise NotImplementedError

    def run(self, pipeline: object, options: object, logic: object) -> object:
        raise NotImplementedError


class StaticPlugin:
    @hookimpl
    def pipec_targets(self) -> list:
        return [StaticTarget()]


@pytest.fixture
def static_target() -> Iterator[str]:
    plugin = StaticPlugin()
    plugin_manager().register(plugin)
    try:
        yield StaticTarget.name
    finally:
        plugin_manager().unregister(plugin)


def test_a_case_needing_what_a_target_lacks_must_be_refused(static_target: str) -> None:
    ids = {param.id: param.values[0] for param in testing.params(static_target)}
    case = ids.pop("dynamic-refused")
    assert case.id == "dynamic"
    assert set(ids) == {c.id for c in testing.cases() if c.id != "dynamic"}
    assert testing.refusal(case, static_target) == (
        f"target 'static-example' lacks the capability dynamic ({FEATURES['dynamic']})"
    )

    def outcome(code: int, stderr: str, summary: dict | None, log: list[str]) -> Outcome:
        run = RunOutcome(argv=[], returncode=code, stdout="", stderr=stderr, log=log,
                         summary=summary)  # fmt: skip
        return Outcome(case_id=case.id, target=static_target, storage="/nowhere", runs=[run])

    refused = "/tmp/x/pipelines/dynamic.py:33: error: the pipeline logic makes a ..."
    testing.check(case, outcome(1, refused, None, []))
    with pytest.raises(AssertionError, match="it must be refused before anything runs"):
        testing.check(case, outcome(0, "", {"steps": {}}, ["body evaluate 8"]))
    with pytest.raises(AssertionError, match='"error_in": \\[\\]'):
        testing.check(case, outcome(1, "error: something else", None, []))
