"""A DAG run whose `pipec_begin` fails (IR file not deployed, store unreachable,
credentials missing): no step runs, each task fails naming `pipec_begin`'s error, and a
DAG file without its IR file is an import error when Airflow parses it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec_airflow.target import AirflowTarget

REPLAY = "tests/airflow/pipelines/replay.py"


def test_a_dag_file_without_its_ir_file_is_an_import_error(dags_folder: Path) -> None:
    dag_file, data_file = AirflowTarget().compile(load_pipeline(REPLAY), dags_folder)
    data_file.unlink()
    from airflow.dag_processing.dagbag import DagBag  # after conftest configured Airflow

    bag = DagBag(dag_folder=str(dags_folder))

    assert list(bag.import_errors) == [str(dag_file)]
    error = bag.import_errors[str(dag_file)]
    assert f"FileNotFoundError: pipec: {data_file.name} is missing beside this DAG file" in error
    assert "deploy it with the DAG file" in error


def test_a_failed_begin_fails_every_task_with_its_error(
    dags_folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    options = {"storage": str(tmp_path / "store"), "storage_conn": "not_defined"}
    dag_file, _ = AirflowTarget().compile(load_pipeline(REPLAY), dags_folder, options)
    from airflow.dag_processing.dagbag import DagBag

    dag_run = DagBag(dag_folder=str(dag_file)).get_dag("replay").test(run_conf={"x": 4})

    assert dag_run.state == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states == dict.fromkeys(("pipec_begin", "split", "add", "pipec_end"), "failed")
    assert not (tmp_path / "store").exists()  # no step ran, no run record was written
    output = capfd.readouterr()
    log = output.out + output.err
    assert "NoneType" not in log
    error = (
        "pipec could not open the run: UsageError: storage_conn: Airflow has no connection"
        f" 'not_defined'. Check that the store {tmp_path / 'store'} is reachable from this"
        " worker with the credentials in Airflow connection 'not_defined', then trigger the"
        " DAG again"
    )
    assert f"AirflowFailException: {error}\n" in log  # pipec_begin's own log
    failed = f"AirflowFailException: pipec: not run, since pipec_begin failed: {error}\n"
    assert log.count(failed) == 3  # split, add and pipec_end


def test_a_mistyped_conf_key_is_warned_about_in_begins_log(
    dags_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"storage": str(tmp_path / "store")}
    dag_file, _ = AirflowTarget().compile(load_pipeline(REPLAY), dags_folder, options)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(dag_file)).get_dag("replay")
    with caplog.at_level(logging.WARNING):
        dag_run = dag.test(run_conf={"x": 4, "y": 5, "pipec_refresh": True})

    assert dag_run.state == "success"
    warned = [r for r in caplog.records if "DAG run conf" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in warned] == [
        (
            logging.WARNING,
            "pipec: DAG run conf 'y': no such parameter of 'replay', ignored"
            " (its parameters: limit, x)",
        )
    ]
