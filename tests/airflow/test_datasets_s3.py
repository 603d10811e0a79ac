"""Datasets with the store on S3 (moto's real server on loopback): versions claimed with
conditional writes, local copies fetched from the bucket, and the conformance kit's
dataset pipelines on Airflow with that store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import fsspec.config
import pytest
from pipec import Dataset, testing
from pipec.store import slug

KEY = "pipec-test-datasets-key"
SECRET = "pipec-test-datasets-secret"


@pytest.fixture
def s3_store(
    endpoint: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A new bucket; its URL is the store of this process and of the processes it starts
    (fsspec's S3 settings from `$FSSPEC_S3`), with a download cache of its own."""
    bucket = slug(request.node.name).lower().replace("_", "-")[:50] + "-ds"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)  # fmt: skip
    settings: dict[str, Any] = {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}
    monkeypatch.setenv("FSSPEC_S3", json.dumps(settings))
    monkeypatch.setitem(fsspec.config.conf, "s3", settings)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(tmp_path / "cache"))
    url = f"s3://{bucket}/store"
    monkeypatch.setenv("PIPEC_STORAGE", url)
    return url


def test_versions_and_local_copies_on_s3(s3_store: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1\n")
    (data / "sub" / "b.csv").write_text("2\n")
    first = Dataset.create(dataset_name="rows", dataset_project="s3")
    second = Dataset.create(dataset_name="rows", dataset_project="s3")  # both take 1.0.0
    for dataset in (first, second):
        dataset.add_files(data)
        dataset.upload()
    first.finalize()
    second.finalize()  # 1.0.0 is taken on the bucket: the conditional write moves it on
    assert (first.version, second.version) == ("1.0.0", "1.0.1")

    fs = fsspec.filesystem("s3")
    stored = fs.find(s3_store.removeprefix("s3://") + "/datasets/blobs")
    assert len(stored) == 2  # the same two files, stored once

    found = Dataset.get(dataset_project="s3", dataset_name="rows")
    assert found.id == second.id
    copy = Path(found.get_local_copy())
    assert copy.is_relative_to(tmp_path / "cache")
    assert (copy / "sub" / "b.csv").read_text() == "2\n"
    assert found.verify_dataset_hash() == []


@pytest.mark.parametrize("case_id", ["dataset_decorator", "dataset_controller"])
def test_the_dataset_cases_on_airflow_with_the_store_on_s3(
    case_id: str, s3_store: str, dags_folder: Path, tmp_path: Path
) -> None:
    case = next(case for case in testing.cases() if case.id == case_id)
    testing.check(case, testing.run_case(case, "airflow", storage=s3_store, workdir=tmp_path))
