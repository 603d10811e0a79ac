"""Decorator pipelines whose logic decides from step values which steps run: on Prefect the
logic is the flow body, and each component call a task run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec.runtime.runstore import list_runs
from pipec.store import Store
from test_compile import compile_to
from test_run import flow_run_view, statuses

LOOP = "tests/prefect/pipelines/retrain_loop.py"


def test_the_capture_says_where_the_trace_was_cut() -> None:
    pipeline = load_pipeline(LOOP, dynamic=True)
    assert pipeline.controller is not None
    assert str(pipeline.controller.cut) == f"{LOOP}:17"  # the `while`
    assert [s.name for s in pipeline.steps] == ["train"]


def test_a_loop_on_a_step_value_runs_as_task_runs(pipec_run: Callable, tmp_path: Path) -> None:
    code, summary = pipec_run(LOOP, "--target", "prefect", "--storage", str(tmp_path))
    assert code == 0, summary
    assert statuses(summary) == {n: ("completed", 1) for n in ("train", "train_1", "train_2")}
    assert summary["return_value"] == pytest.approx(0.9)
    flow_run, tasks, _ = flow_run_view(summary["run_id"])
    assert flow_run.state.is_completed()
    assert set(tasks) == {"train #1", "train_1 #1", "train_2 #1"}

    code, summary = pipec_run(LOOP, "--target", "prefect", "--storage", str(tmp_path),
                              "-p", "target=0.6")  # fmt: skip
    assert code == 0, summary
    assert statuses(summary) == {"train": ("cached", 0), "train_1": ("cached", 0)}
    assert summary["return_value"] == pytest.approx(0.7)


def test_the_compiled_flow_file_runs_the_logic_from_the_pipeline_file(
    prefect_api: str, tmp_path: Path
) -> None:
    flow_file, _ = compile_to(LOOP, tmp_path / "flows")
    text = flow_file.read_text()
    assert f"pipeline file {LOOP} from PROJECT_DIR" in text
    store = tmp_path / "store"
    env = {**os.environ, "PIPEC_STORAGE": str(store), "PREFECT_API_URL": prefect_api}
    env["PREFECT_LOGGING_LEVEL"] = "INFO"  # the logic's prints are flow-run log lines
    proc = subprocess.run(
        [sys.executable, str(flow_file)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "score 0.90 after 3 rounds" in proc.stdout + proc.stderr
    (record,) = list_runs(Store.resolve(str(store)))
    assert (record.target, record.status) == ("prefect", "completed")
    assert record.steps == ["train", "train_1", "train_2"]
