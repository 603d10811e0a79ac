"""A decorator pipeline's logic on Airflow: replayed by `pipec_end` with the run's values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipec.cli import app
from pipec.records import RunRecord
from pipec.runtime.runstore import open_run
from pipec.store import slug
from typer.testing import CliRunner

REPLAY = "tests/airflow/pipelines/replay.py"


def run(tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    """`pipec run REPLAY --json`: exit code, summary, and what went to stderr (the logic's
    prints among it: `--json` keeps stdout for the summary)."""
    result = CliRunner().invoke(
        app, ["run", REPLAY, "--target", "airflow", "--storage", str(tmp_path), "--json", *args]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.usefixtures("dags_folder")
def test_prints_and_return_value_use_real_values(tmp_path: Path) -> None:
    code, summary, stderr = run(tmp_path, "-p", "x=4")
    assert (code, summary["status"]) == (0, "completed"), summary
    assert summary["return_value"] == {"total": 90, "parts": [4, 5]}
    assert "replayed total: 9" in stderr


@pytest.mark.usefixtures("dags_folder")
def test_a_failing_assert_fails_the_run_at_its_line(tmp_path: Path) -> None:
    code, summary, _ = run(tmp_path, "-p", "limit=5")
    assert (code, summary["status"]) == (1, "failed")
    assert {s["status"] for s in summary["steps"].values()} == {"completed"}
    assert summary["error"].startswith(f"{REPLAY}:23: AssertionError: total 5 reached the limit 5")
    assert "return_value" not in summary


def test_a_step_the_graph_lacks_fails_the_run_naming_step_and_line(
    dags_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = CliRunner().invoke(
        app, ["compile", REPLAY, "--target", "airflow", "--out", str(dags_folder)]
    )
    assert compiled.exit_code == 0, compiled.output
    monkeypatch.setenv("PIPEC_STORAGE", str(tmp_path))
    monkeypatch.setenv("PIPEC_TEST_EXTRA_STEP", "1")  # the logic now takes the other path
    from airflow.dag_processing.dagbag import DagBag  # after conftest configured Airflow

    dag = DagBag(dag_folder=str(dags_folder / "replay.py")).get_dag("replay")
    dag_run = dag.test()
    assert dag_run.state == "failed"
    record = open_run(str(tmp_path), "replay", slug(dag_run.run_id)).run_record()
    assert isinstance(record, RunRecord)
    assert record.status == "failed"
    assert record.error is not None
    assert record.error.startswith(f"{REPLAY}:21: ReplayError: the pipeline logic calls")
    assert "component 'add' as step 'add_1', which the compiled graph does not have" in (
        record.error
    )
