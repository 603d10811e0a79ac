"""pipec runs logged to a real MLflow: a server on loopback, read back through its REST
API, and the file store, read back with MLflow's client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PIPELINES, ROOT, Rest, Runner, free_port

IRIS = "examples/iris_pipeline.py"
IRIS_STEPS = {"load_data", "split_data", "train_model", "score_model"}
REPORTING = str(PIPELINES / "reporting.py")


def parent_and_children(runs: list[dict]) -> tuple[dict, dict[str, dict]]:
    parents = [r for r in runs if "mlflow.parentRunId" not in r["tags"]]
    assert len(parents) == 1, [r["info"]["run_name"] for r in parents]
    (parent,) = parents
    children = {r["info"]["run_name"]: r for r in runs if r is not parent}
    assert {r["tags"]["mlflow.parentRunId"] for r in children.values()} == {
        parent["info"]["run_id"]
    }
    return parent, children


def stored_output(summary: dict, step: str, name: str) -> object:
    return json.loads(Path(summary["steps"][step]["outputs"][name]).read_text())


def test_iris_on_local_is_one_parent_run_with_four_nested_runs(
    pipec_run: Runner, rest: Rest, mlflow_server: str
) -> None:
    code, summary, stderr = pipec_run(IRIS, env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert (code, summary["status"]) == (0, "completed"), stderr
    assert "observer_notes" not in summary
    assert f"pipec-mlflow: run {summary['run_id']} logged to MLflow: {mlflow_server}" in stderr

    parent, children = parent_and_children(rest.runs_of("examples", summary["run_id"]))
    assert parent["info"]["run_name"] == "iris"
    assert parent["info"]["status"] == "FINISHED"
    tags = {k: v for k, v in parent["tags"].items() if k.startswith("pipec.")}
    assert tags == {
        "pipec.pipeline": "iris",
        "pipec.version": "1.0.0",
        "pipec.target": "local",
        "pipec.run_id": summary["run_id"],
        "pipec.project": "examples",
        "pipec.status": "completed",
    }
    assert parent["params"] == {
        "csv_url": str(ROOT / "examples" / "data" / "iris.csv"),
        "test_size": "0.2",
    }
    assert float(parent["metrics"]["return_value"]) == pytest.approx(summary["return_value"])

    assert set(children) == IRIS_STEPS
    for name, child in children.items():
        assert child["info"]["status"] == "FINISHED"
        assert child["tags"]["pipec.status"] == "completed"
        took = child["info"]["end_time"] - child["info"]["start_time"]
        assert took == pytest.approx(summary["steps"][name]["duration"] * 1000, abs=2)
    accuracy = stored_output(summary, "score_model", "accuracy")
    assert 0.5 < accuracy <= 1.0
    # its result, and the scalar it reports (examples/iris_pipeline.py)
    assert children["score_model"]["metrics"] == {"accuracy": accuracy, "accuracy/test": accuracy}
    assert rest.artifacts(children["score_model"]["info"]["run_id"]) == [
        "images/confusion matrix/test/0-image.png"
    ]
    assert children["split_data"]["params"] == {
        "data_frame": "${load_data.data_frame}",
        "test_size": "0.2",
        "random_state": "42",
    }


def test_reports_artifacts_and_registered_models(
    pipec_run: Runner, rest: Rest, mlflow_server: str
) -> None:
    code, summary, stderr = pipec_run(REPORTING, env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert (code, summary["status"]) == (0, "completed"), stderr
    parent, children = parent_and_children(rest.runs_of("mlflow tests", summary["run_id"]))
    train = children["train"]
    history = rest.get(
        "metrics/get-history", run_id=train["info"]["run_id"], metric_key="loss/train"
    )["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert train["params"] == {"epochs": "3", "fail": "false"}
    assert rest.artifacts(train["info"]["run_id"]) == [
        "artifacts/summary/summary.json",
        "images/samples/first/0-image.png",
        "models/weights/weights.bin",
        "plots/losses/counts/0-data.json",
        "plots/losses/counts/0-plot.png",
        "tables/results/per epoch/0-table.json",
        "text.txt",
    ]
    # monitor_metrics forwards the loss to the pipeline's run, as in ClearML
    assert float(parent["metrics"]["loss/train"]) == pytest.approx(1 / 3)
    assert children["evaluate"]["metrics"] == {"accuracy": 0.75}

    versions = rest.get("model-versions/search", filter="name='reporting-weights'")
    (version,) = [v for v in versions["model_versions"] if v["run_id"] == train["info"]["run_id"]]
    assert version["source"].endswith("/models/weights")
    assert version["status"] == "READY"


def test_a_failed_step_is_a_failed_nested_run(
    pipec_run: Runner, rest: Rest, mlflow_server: str
) -> None:
    code, summary, stderr = pipec_run(
        REPORTING, "-p", "fail=true", env={"MLFLOW_TRACKING_URI": mlflow_server}
    )
    assert (code, summary["status"]) == (1, "failed"), stderr
    parent, children = parent_and_children(rest.runs_of("mlflow tests", summary["run_id"]))
    assert parent["info"]["status"] == "FAILED"
    assert "training failed on purpose" in parent["tags"]["pipec.error"]
    train = children["train"]
    assert (train["info"]["status"], train["tags"]["pipec.status"]) == ("FAILED", "failed")
    assert "training failed on purpose" in train["tags"]["pipec.error"]
    # what it reported before failing is logged all the same
    assert "text.txt" in rest.artifacts(train["info"]["run_id"])
    assert set(children) <= {"train", "evaluate"}
    if "evaluate" in children:
        assert children["evaluate"]["info"]["status"] == "KILLED"


@pytest.mark.parametrize(
    ("env", "note"),
    [
        pytest.param(
            {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
            "mlflow: run not logged, tracking server http://127.0.0.1:",
            id="server down",
        ),
        pytest.param(
            {"MLFLOW_TRACKING_URI": "mlruns"},  # MLflow 3 refuses a folder without an opt-in
            "mlflow: run not logged to mlruns: The filesystem tracking backend",
            id="file store refused",
        ),
    ],
)
def test_a_tracker_that_is_down_never_fails_the_run(
    pipec_run: Runner, tmp_path: Path, env: dict[str, str], note: str
) -> None:
    code, summary, stderr = pipec_run(REPORTING, env=env, cwd=tmp_path)
    assert (code, summary["status"]) == (0, "completed"), stderr
    (said,) = summary["observer_notes"]
    assert said.startswith(note)
    record = tmp_path / "store" / "runs" / "reporting" / summary["run_id"] / "run.json"
    assert json.loads(record.read_text())["observer_notes"] == [said]
    assert not (tmp_path / "mlruns").exists()


def test_the_file_store(pipec_run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for the client reading it back
    uri = (tmp_path / "mlruns").as_uri()
    code, summary, stderr = pipec_run(
        REPORTING,
        env={
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_EXPERIMENT_NAME": "on files",
        },
    )
    assert (code, summary["status"]) == (0, "completed"), stderr
    assert "observer_notes" not in summary
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("on files").experiment_id])
    nested = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    (parent,) = [r for r in runs if r.info.run_name not in nested]
    assert set(nested) == {"train", "evaluate"}
    assert {r.data.tags["mlflow.parentRunId"] for r in nested.values()} == {parent.info.run_id}
    train = nested["train"].info.run_id
    history = client.get_metric_history(train, "loss/train")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert nested["evaluate"].data.metrics == {"accuracy": 0.75}
    assert [a.path for a in client.list_artifacts(train, "models/weights")] == [
        "models/weights/weights.bin"
    ]
    (version,) = client.search_model_versions("name='reporting-weights'")
    assert version.run_id == train


def test_unset_tracking_uri_is_mlflows_default_local_database(
    pipec_run: Runner, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    code, summary, stderr = pipec_run(REPORTING, env={}, cwd=tmp_path)
    assert (code, summary["status"]) == (0, "completed"), stderr
    assert "observer_notes" not in summary
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mlflow tests").experiment_id])
    assert len(runs) == 3
    assert {r.data.tags["pipec.run_id"] for r in runs} == {summary["run_id"]}


def test_iris_on_prefect_is_logged_the_same_way(
    pipec_run: Runner, rest: Rest, mlflow_server: str, tmp_path: Path
) -> None:
    code, summary, stderr = pipec_run(
        IRIS,
        "--target",
        "prefect",
        env={
            "MLFLOW_TRACKING_URI": mlflow_server,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        },
    )
    assert (code, summary["status"], summary["target"]) == (0, "completed", "prefect"), stderr
    parent, children = parent_and_children(rest.runs_of("examples", summary["run_id"]))
    assert parent["tags"]["pipec.target"] == "prefect"
    assert set(children) == IRIS_STEPS
    assert {c["info"]["status"] for c in children.values()} == {"FINISHED"}
    accuracy = stored_output(summary, "score_model", "accuracy")
    assert children["score_model"]["metrics"] == {"accuracy": accuracy, "accuracy/test": accuracy}
