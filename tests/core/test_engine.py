"""The step an engine task runs (`pipec.adapter.EngineRun`), with no engine: the engine
adapters' tests run the same through Airflow and Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PIPELINES, rel
from pipec.adapter import EngineRun
from pipec.capture.session import load_pipeline
from pipec.runtime import attempt as attempts
from pipec.runtime.step import AttemptFn
from pipec.store import Store
from pipec.testing.observe import LOG_ENV


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_repo_root: Path) -> EngineRun:
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "log.txt"))
    pipeline = load_pipeline(rel(PIPELINES / "run" / "engine_steps.py"))
    store = Store.resolve(str(tmp_path / "store"))
    return EngineRun.begin(store, pipeline, "run-1", "example-engine", {})


def in_process(run: EngineRun, step: str) -> AttemptFn:
    call = run.call(step, str(Path.cwd()))
    return lambda number, _limit: attempts.execute(call, number)


def step(run: EngineRun, name: str, *, retry: bool = False) -> tuple[str, str, int]:
    node, record = run.run_step(name, in_process(run, name), refresh=False, retry=retry)
    return node.status, record.status, len(record.attempts)


def test_callbacks_see_the_run_and_a_callable_retries_within_one_engine_try(
    run: EngineRun, tmp_path: Path
) -> None:
    assert step(run, "first") == ("completed", "completed", 1)
    assert step(run, "flaky") == ("completed", "completed", 2)
    log = (tmp_path / "log.txt").read_text().splitlines()
    assert log == [
        "post first run-1 first",
        "retry flaky 0 counted,first,flaky",
        "post flaky run-1 first,flaky",
    ]


def test_a_retry_count_is_left_to_the_engine(run: EngineRun) -> None:
    step(run, "first")
    assert step(run, "counted") == ("running", "failed", 1)  # the engine's next try
    assert step(run, "counted", retry=True) == ("completed", "completed", 2)


def test_a_raising_callback_fails_the_step(run: EngineRun, tmp_path: Path) -> None:
    (tmp_path / "log.txt").mkdir()  # the callback's note cannot write its line
    status, record, _ = step(run, "first")
    assert (status, record) == ("failed", "failed")
    assert "a callback raised IsADirectoryError" in (run.state.step_record("first").error or "")


GLOBALS_PIPELINE = """
from pipec import PipelineDecorator

THRESHOLD = 0.5


@PipelineDecorator.component(return_values=["x"])
def make(n):
    return n


@PipelineDecorator.pipeline(name="globals", project="tests")
def main(n: int = 3):
    x = make(n)
    print(f"x={x} above {THRESHOLD}: {x > THRESHOLD}")
    return x * 2
"""


@pytest.mark.parametrize("file_here", [True, False])
def test_logic_reading_module_globals_is_replayed_from_the_pipeline_file(
    file_here: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "uses_globals.py").write_text(GLOBALS_PIPELINE)
    pipeline = load_pipeline(str(project / "uses_globals.py"))
    pipeline = pipeline.model_copy(
        update={"source": pipeline.source.model_copy(update={"file": "uses_globals.py"})}
    )
    store = Store.resolve(str(tmp_path / "store"))
    run = EngineRun.begin(store, pipeline, "run-1", "example-engine", {})
    step(run, "make")
    state = run.state
    capsys.readouterr()
    where = str(project) if file_here else str(tmp_path / "elsewhere")
    final = run.conclude(replay_from=where)
    printed = capsys.readouterr().out
    assert final.status == "completed"
    assert final.return_value is not None
    if file_here:  # the real logic ran, with THRESHOLD from its module
        assert "x=3 above 0.5: True" in printed
        assert state.load(final.return_value) == 6
    else:  # the note says why; the return value is the traced expression of step outputs
        assert "reads THRESHOLD from its module, and uses_globals.py is not in" in printed
        assert state.load(final.return_value) == 6


def test_method_calls_in_traced_logic_change_what_the_next_step_gets(tmp_path: Path) -> None:
    """The traced graph, run step by step as an engine runs it, gives the step what the
    live logic would: the list after `append`, `pop` and `sort`, the popped value, and the
    dict after a nested `extend` and an `update`."""
    pipeline = load_pipeline(str(PIPELINES / "decorator" / "method_mutation.py"))
    store = Store.resolve(str(tmp_path / "store"))
    run = EngineRun.begin(store, pipeline, "run-1", "example-engine", {})
    state = run.state
    for name in ("load", "settings", "use"):
        node, _ = run.run_step(name, in_process(run, name), refresh=False, retry=False)
        assert node.status == "completed", state.step_record(name).error
    seen = state.load(state.step_record("use").outputs["seen"])
    assert seen == {"items": [1, 2, 3], "last": 4, "config": {"layers": [8, 4, 2], "lr": 0.1}}
