"""The models conformance case with the artifact store on a real S3-compatible server
(moto's, on loopback): the model registry and its weights live in the bucket, and a step
on another process (an Airflow task, a local step process) finds them there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import fsspec.config
import pytest
from pipec import testing
from pipec.registry import models as registry
from pipec.store import Store, slug

KEY, SECRET = "pipec-models-key", "pipec-models-secret"


@pytest.fixture
def s3_store(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[str, str, Any]:
    """A bucket of the test's own; its settings for fsspec in this process and in every
    process the case's `pipec run` starts (`FSSPEC_S3`)."""
    options = {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint}}
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    bucket = slug(request.node.name).lower().replace("_", "-")[:63]
    client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("FSSPEC_S3", json.dumps(options))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setitem(fsspec.config.conf, "s3", options)
    return f"s3://{bucket}/pipec", bucket, client


@pytest.mark.parametrize("target", ["local", "airflow"])
def test_models_case_with_the_store_on_s3(
    target: str, s3_store: tuple[str, str, Any], dags_folder: Path, tmp_path: Path
) -> None:
    (case,) = [c for c in testing.cases() if c.id == "models"]
    storage, bucket, client = s3_store
    testing.check(case, testing.run_case(case, target, storage=storage, workdir=tmp_path))
    models = registry.all_models(Store(storage))
    assert [m.name for m in models] == ["conformance scaler"] * 2
    keys = {
        item["Key"]
        for item in client.list_objects_v2(Bucket=bucket, Prefix="pipec/models/")["Contents"]
    }
    for model in models:
        assert model.url is not None and model.url.startswith(f"{storage}/models/{model.id}/")
        assert f"pipec/models/{model.id}/model.json" in keys
        assert model.url.removeprefix(f"s3://{bucket}/") in keys
