"""ClearML's `StorageManager.get_local_copy`: any fsspec URL as a local path, archives
extracted into the cache as ClearML does by default."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import fsspec
import pytest
from pipec import StorageManager


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(folder))
    return folder


def archive(tmp_path: Path, fmt: str) -> Path:
    content = tmp_path / "content"
    (content / "data").mkdir(parents=True, exist_ok=True)
    (content / "data" / "rows.csv").write_text("a,b\n1,2\n")
    return Path(shutil.make_archive(str(tmp_path / f"dataset-{fmt}"), fmt, content))


@pytest.mark.parametrize("fmt", ["zip", "gztar", "tar"])
def test_a_local_archive_comes_back_as_a_folder_of_its_content(tmp_path: Path, fmt: str) -> None:
    path = archive(tmp_path, fmt)
    folder = Path(StorageManager.get_local_copy(str(path)))
    assert folder.is_dir()
    assert (folder / "data" / "rows.csv").read_text() == "a,b\n1,2\n"
    assert StorageManager.get_local_copy(str(path)) == str(folder)  # extracted once
    assert StorageManager.get_local_copy(str(path), extract_archive=False) == str(path)


def test_a_remote_archive_is_downloaded_and_extracted(tmp_path: Path, cache: Path) -> None:
    url = f"memory://storage-manager-{uuid.uuid4().hex}/dataset.zip"
    with fsspec.open(url, "wb") as out:
        out.write(archive(tmp_path, "zip").read_bytes())
    folder = Path(StorageManager.get_local_copy(url, cache_context="datasets"))
    assert folder.is_relative_to(cache / "datasets")
    assert (folder / "data" / "rows.csv").exists()
    plain = Path(StorageManager.get_local_copy(url, extract_archive=False))
    assert plain.is_file() and plain.name == "dataset.zip"


def test_a_changed_archive_is_extracted_again(tmp_path: Path) -> None:
    path = archive(tmp_path, "zip")
    first = StorageManager.get_local_copy(str(path))
    (tmp_path / "content" / "data" / "more.csv").write_text("c\n3\n")
    shutil.make_archive(str(path.with_suffix("")), "zip", tmp_path / "content")
    second = Path(StorageManager.get_local_copy(str(path)))
    assert str(second) != first
    assert (second / "data" / "more.csv").exists()


def test_other_files_come_back_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a\n")
    assert StorageManager.get_local_copy(str(path)) == str(path)
