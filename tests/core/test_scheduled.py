"""The step an engine task runs (`pipec.runtime.scheduled.run_step`), with no engine: the
engine adapters' tests run the same through Airflow and Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PIPELINES, rel
from pipec.capture.session import load_pipeline
from pipec.runtime import runs, scheduled, shim
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import AttemptFn
from pipec.store import Store
from pipec.testing.observe import LOG_ENV


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_repo_root: Path) -> StoredRun:
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "log.txt"))
    pipeline = load_pipeline(rel(PIPELINES / "run" / "engine_steps.py"))
    store = Store.resolve(str(tmp_path / "store"))
    state, record = runs.begin(store, pipeline, "run-1", "example-engine", {})
    scheduled.write_specs(state, record)
    return state


def in_process(run: StoredRun, step: str) -> AttemptFn:
    call = StepCall(
        store=run.store.url, pipeline=run.pipeline.name, run_id=run.run_id, step=step,
        project_dir=str(Path.cwd()),
    )  # fmt: skip
    return lambda number, _limit: shim.execute(call, number)


def step(run: StoredRun, name: str, *, retry: bool = False) -> tuple[str, str, int]:
    node, record = scheduled.run_step(
        run, name, in_process(run, name), target="example-engine", refresh=False, retry=retry
    )
    return node.status, record.status, len(record.attempts)


def test_callbacks_see_the_run_and_a_callable_retries_within_one_engine_try(
    run: StoredRun, tmp_path: Path
) -> None:
    assert step(run, "first") == ("completed", "completed", 1)
    assert step(run, "flaky") == ("completed", "completed", 2)
    log = (tmp_path / "log.txt").read_text().splitlines()
    assert log == [
        "post first run-1 first",
        "retry flaky 0 counted,first,flaky",
        "post flaky run-1 first,flaky",
    ]


def test_a_retry_count_is_left_to_the_engine(run: StoredRun) -> None:
    step(run, "first")
    assert step(run, "counted") == ("running", "failed", 1)  # the engine's next try
    assert step(run, "counted", retry=True) == ("completed", "completed", 2)


def test_a_raising_callback_fails_the_step(run: StoredRun, tmp_path: Path) -> None:
    (tmp_path / "log.txt").mkdir()  # the callback's note cannot write its line
    status, record, _ = step(run, "first")
    assert (status, record) == ("failed", "failed")
    assert "a callback raised IsADirectoryError" in (run.step_record("first").error or "")
