"""Monitored metrics where Airflow users look: the task logs and `pipec_end`'s XCom."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec_airflow.target import AirflowTarget

MONITORED = "tests/core/pipelines/run/monitored.py"


def test_monitored_metrics_show_in_the_task_logs_and_end_xcom(
    dags_folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    options = {"storage": str(tmp_path / "store")}
    dag_file, _ = AirflowTarget().compile(load_pipeline(MONITORED), dags_folder, options)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(dag_file)).get_dag("monitored")
    dag_run = dag.test(run_conf={"counter": str(tmp_path / "counter")})

    assert dag_run.state == "success"
    end = dag_run.get_task_instance("pipec_end")
    pushed = end.xcom_pull(task_ids="pipec_end")
    assert pushed["status"] == "completed"
    assert pushed["metrics"] == {"score/accuracy": 0.875}
    assert (pushed["artifacts"], pushed["models"]) == ({}, {})
    output = capfd.readouterr()
    lines = (output.out + output.err).splitlines()
    rows = ["monitored  name            value", "metric     score/accuracy  0.875"]
    starts = [i for i, line in enumerate(lines) if line == rows[0]]
    assert len(starts) == 2, lines  # in the log of `score`, then in `pipec_end`'s
    assert all(lines[i + 1] == rows[1] for i in starts)
