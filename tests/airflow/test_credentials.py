"""Storage credentials from an Airflow connection named at compile time, against a real
S3-compatible server (moto's) on loopback: the DAG file names the connection, never its
contents, and the tasks and their step processes reach the bucket through it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import fsspec.config
import pytest
from pipec.capture.session import load_pipeline
from pipec.store import slug
from pipec_airflow.credentials import STORAGE_CONN
from pipec_airflow.target import AirflowTarget

REPLAY = "tests/airflow/pipelines/replay.py"
CONN_ID = "pipec_artifacts"
KEY = "pipec-test-access-key"
SECRET = "pipec-test-secret-key-never-in-a-dag-file"


@pytest.fixture
def s3(endpoint: str) -> Any:
    """A client of the server with explicit credentials: the test's own view of the bucket."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> str:
    name = slug(request.node.name).lower().replace("_", "-")[:63]
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    """Defines the storage connection (`AIRFLOW_CONN_<ID>`; each test names it with the
    compile option `storage_conn`), in an environment without AWS credentials or fsspec
    settings; the fsspec settings the tasks apply in this process are undone afterwards."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "FSSPEC_")):
            monkeypatch.delenv(name)
    # without the connection's settings fail at once, not by asking the network for credentials
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for protocol in ("s3", "gs"):  # no settings yet; what the tasks set is undone afterwards
        monkeypatch.setenv(f"FSSPEC_{protocol.upper()}", "{}")
        monkeypatch.setitem(fsspec.config.conf, protocol, {})

    def define(conn: dict[str, Any]) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))

    return define


NAMED = ("--option", f"{STORAGE_CONN}={CONN_ID}")
"""`pipec run`'s option naming the storage connection."""


def stored(s3: Any, bucket: str, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", [])}


def test_a_dag_run_reaches_the_bucket_through_an_aws_connection(
    dags_folder: Path, connection: Callable, bucket: str, s3: Any, endpoint: str
) -> None:
    connection(
        {"conn_type": "aws", "login": KEY, "password": SECRET, "extra": {"endpoint_url": endpoint}}
    )
    target = AirflowTarget()
    options = {"storage": f"s3://{bucket}/pipec", STORAGE_CONN: CONN_ID}
    written = target.compile(load_pipeline(REPLAY), dags_folder, options)
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert KEY not in text and SECRET not in text and endpoint not in text
    assert f'STORAGE_CONN = "{CONN_ID}"' in written[0].read_text(encoding="utf-8")
    from airflow.dag_processing.dagbag import DagBag  # after conftest configured Airflow

    dag = DagBag(dag_folder=str(written[0])).get_dag("replay")
    dag_run = dag.test(run_conf={"x": 4})
    assert dag_run.state == "success"

    run = f"pipec/runs/replay/{slug(dag_run.run_id)}/"
    keys = stored(s3, bucket, run)
    assert {"run.json", "steps/split/step.json", "steps/add/step.json"} <= keys
    assert any(k.startswith("steps/add/outputs/total") for k in keys), keys
    record = json.loads(s3.get_object(Bucket=bucket, Key=run + "run.json")["Body"].read())
    assert record["status"] == "completed"
    assert record["return_value"]["uri"].startswith(f"s3://{bucket}/{run}")


def test_pipec_run_uses_storage_options_from_any_connection(
    pipec_run: Callable, connection: Callable, bucket: str, s3: Any, endpoint: str
) -> None:
    options = {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint}}
    connection({"conn_type": "generic", "extra": {"storage_options": options}})
    storage = f"s3://{bucket}/pipec"
    code, summary = pipec_run(
        REPLAY, "--target", "airflow", "--storage", storage, "-p", "x=4", *NAMED
    )
    assert (code, summary["status"]) == (0, "completed"), summary
    assert summary["return_value"] == {"total": 90, "parts": [4, 5]}
    assert summary["steps"]["add"]["outputs"]["total"].startswith(f"{storage}/runs/replay/")
    assert "run.json" in stored(s3, bucket, f"pipec/runs/replay/{summary['run_id']}/")


@pytest.mark.parametrize(
    ("conn", "error"),
    [
        (
            {"conn_type": "http", "host": "example.invalid"},
            f"Airflow connection '{CONN_ID}' (type 'http') gives no storage settings",
        ),
        (
            {"conn_type": "aws", "login": KEY, "password": SECRET},
            f"Airflow connection '{CONN_ID}' is an 'aws' connection, but the storage is gs://",
        ),
        (
            {"conn_type": "generic", "extra": {"storage_options": "token=anon"}},
            f"Airflow connection '{CONN_ID}': 'storage_options' in its extra must be",
        ),
    ],
)
def test_a_connection_with_no_settings_for_the_store_is_a_clear_error(
    conn: dict[str, Any], error: str, connection: Callable, dags_folder: Path
) -> None:
    from pipec.cli import app
    from typer.testing import CliRunner

    connection(conn)
    result = CliRunner().invoke(
        app, ["run", REPLAY, "--target", "airflow", "--storage", "gs://bucket/pipec", *NAMED]
    )
    assert result.exit_code == 2
    assert error in result.stderr
    assert SECRET not in result.output


def test_a_missing_connection_is_a_clear_error(
    connection: Callable, dags_folder: Path, tmp_path: Path
) -> None:
    from pipec.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["run", REPLAY, "--target", "airflow", "--storage", str(tmp_path), *NAMED]
    )
    assert result.exit_code == 2
    assert f"{STORAGE_CONN}: Airflow has no connection '{CONN_ID}'" in result.stderr
