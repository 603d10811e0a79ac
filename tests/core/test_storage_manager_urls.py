"""ClearML's `StorageManager` file calls on any fsspec URL: a folder, and `memory://`
buckets (one per test), with ClearML's return values and failures."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from pipec import StorageManager


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def bucket() -> str:
    return f"memory://bucket-{uuid.uuid4().hex}"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A local folder: a.txt, empty.txt, sub/b.json, sub/deeper/c.json."""
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "empty.txt").write_text("")
    (root / "sub" / "b.json").write_text('{"b": 1}')
    (root / "sub" / "deeper" / "c.json").write_text('{"c": 2}')
    return root


def read(url: str) -> bytes:
    with fsspec.open(url, "rb") as handle:
        return handle.read()


def write(url: str, data: bytes) -> None:
    with fsspec.open(url, "wb") as handle:
        handle.write(data)


# ---------------------------------------------------------------- upload_file


def test_upload_file_puts_the_file_at_the_url_and_returns_it(tree: Path, bucket: str) -> None:
    url = f"{bucket}/models/v1/a.txt"
    assert StorageManager.upload_file(str(tree / "a.txt"), url) == url
    assert read(url) == b"alpha"


def test_upload_file_to_a_folder_path(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "share" / "deep" / "a.txt"
    assert StorageManager.upload_file(str(tree / "a.txt"), str(target)) == str(target)
    assert target.read_text() == "alpha"


def test_upload_file_of_a_missing_file_is_one_clear_error(bucket: str) -> None:
    with pytest.raises(FileNotFoundError, match="upload_file: no local file '/no/such/file'"):
        StorageManager.upload_file("/no/such/file", f"{bucket}/x")


class FlakyFileSystem(MemoryFileSystem):
    """A memory filesystem whose first `failures` uploads fail."""

    protocol = "flaky"
    failures = 0
    tries = 0

    def put_file(self, lpath: Any, rpath: Any, *args: Any, **kwargs: Any) -> None:
        type(self).tries += 1
        if type(self).tries <= type(self).failures:
            raise ConnectionError(f"upload {type(self).tries} dropped")
        super().put_file(lpath, rpath, *args, **kwargs)


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> type[FlakyFileSystem]:
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    monkeypatch.setattr(FlakyFileSystem, "tries", 0)
    return FlakyFileSystem


@pytest.mark.parametrize(
    ("failures", "retries", "tries", "uploaded"),
    [(2, None, 3, True), (3, None, 3, False), (1, 2, 2, True), (2, 2, 2, False), (4, 5, 5, True)],
)
def test_upload_file_tries_retries_times(
    failures: int,
    retries: int | None,
    tries: int,
    uploaded: bool,
    flaky: type[FlakyFileSystem],
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(flaky, "failures", failures)
    url = f"flaky://retries-{uuid.uuid4().hex}/a.txt"
    if uploaded:
        assert StorageManager.upload_file(str(tree / "a.txt"), url, retries=retries) == url
        assert read(url) == b"alpha"
    else:
        with pytest.raises(ConnectionError, match=f"upload {failures} dropped"):
            StorageManager.upload_file(str(tree / "a.txt"), url, retries=retries)
    assert flaky.tries == tries


# ---------------------------------------------------------------- upload_folder


def test_upload_folder_keeps_the_structure(tree: Path, bucket: str) -> None:
    assert StorageManager.upload_folder(str(tree), f"{bucket}/data/") == f"{bucket}/data/"
    assert StorageManager.list(f"{bucket}/data/") == [
        "data/a.txt",
        "data/empty.txt",
        "data/sub/b.json",
        "data/sub/deeper/c.json",
    ]
    assert read(f"{bucket}/data/sub/deeper/c.json") == b'{"c": 2}'


def test_upload_folder_with_a_wildcard_takes_matching_files_at_any_depth(
    tree: Path, bucket: str
) -> None:
    assert StorageManager.upload_folder(str(tree), bucket, match_wildcard="*.json") == bucket
    assert StorageManager.list(bucket) == ["sub/b.json", "sub/deeper/c.json"]


def test_upload_folder_of_a_missing_folder_is_none_with_the_reason(
    bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pipec"):
        assert StorageManager.upload_folder("/no/such/folder", bucket) is None
    assert caplog.messages == ["upload_folder: local folder '/no/such/folder' does not exist"]


def test_upload_folder_with_a_failing_file_is_none(
    tree: Path, flaky: type[FlakyFileSystem], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(flaky, "failures", 1)
    url = f"flaky://folder-{uuid.uuid4().hex}"
    with caplog.at_level(logging.ERROR, logger="pipec"):
        assert StorageManager.upload_folder(str(tree), url, retries=1) is None
    assert caplog.messages == [
        f"upload_folder: 1 of 4 files from {tree} failed: {tree / 'a.txt'}: upload 1 dropped"
    ]
    assert StorageManager.list(url) == ["empty.txt", "sub/b.json", "sub/deeper/c.json"]


# ---------------------------------------------------------------- download_file


def test_download_file_recreates_the_key_under_the_folder(bucket: str, tmp_path: Path) -> None:
    write(f"{bucket}/sub/f.csv", b"a,b\n")
    local = StorageManager.download_file(f"{bucket}/sub/f.csv", str(tmp_path / "out"))
    assert local == str(tmp_path / "out" / "sub" / "f.csv")
    assert Path(local).read_bytes() == b"a,b\n"


def test_download_file_without_a_folder_goes_to_the_cache(bucket: str, cache: Path) -> None:
    write(f"{bucket}/f.csv", b"x")
    assert StorageManager.download_file(f"{bucket}/f.csv") == str(cache / "global" / "f.csv")


def test_download_file_keeps_a_local_copy_unless_overwrite(bucket: str, tmp_path: Path) -> None:
    url, out = f"{bucket}/f.txt", str(tmp_path / "out")
    write(url, b"first")
    local = StorageManager.download_file(url, out)
    write(url, b"second")
    assert StorageManager.download_file(url, out) == local
    assert Path(local).read_bytes() == b"first"
    assert StorageManager.download_file(url, out, overwrite=True) == local
    assert Path(local).read_bytes() == b"second"


def test_download_file_of_an_empty_file_needs_skip_zero_size_check(
    bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{bucket}/empty.txt"
    write(url, b"")
    with caplog.at_level(logging.ERROR, logger="pipec"):
        assert StorageManager.download_file(url, str(tmp_path / "out")) is None
    assert caplog.messages == [
        f"download_file: could not download {url}: downloaded a 0-sized file"
    ]
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []  # no partial file
    local = StorageManager.download_file(url, str(tmp_path / "out"), skip_zero_size_check=True)
    assert local is not None and Path(local).read_bytes() == b""


def test_download_file_of_a_missing_file_is_none(
    bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pipec"):
        assert StorageManager.download_file(f"{bucket}/none", str(tmp_path)) is None
        assert caplog.messages[0].startswith(f"download_file: could not download {bucket}/none:")
        caplog.clear()
        assert StorageManager.download_file(f"{bucket}/none", silence_errors=True) is None
    assert caplog.messages == []


def test_download_file_of_a_local_file(tree: Path, tmp_path: Path) -> None:
    source = tree / "a.txt"
    assert StorageManager.download_file(str(source)) == str(source)  # no copy, as in ClearML
    assert StorageManager.download_file(f"file://{source}") == str(source)
    copied = StorageManager.download_file(str(source), str(tmp_path / "out"))
    assert copied == str(tmp_path / "out" / str(source).lstrip("/"))
    assert Path(copied).read_text() == "alpha"


# ---------------------------------------------------------------- download_folder


def test_download_folder_downloads_every_file_under_its_key(
    tree: Path, bucket: str, tmp_path: Path
) -> None:
    StorageManager.upload_folder(str(tree), f"{bucket}/data")
    out = tmp_path / "out"
    assert StorageManager.download_folder(f"{bucket}/data", str(out)) == str(out)
    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # the empty file fails the zero size check, as ClearML's does
    assert got == ["data/a.txt", "data/sub/b.json", "data/sub/deeper/c.json"]
    assert (out / "data" / "sub" / "deeper" / "c.json").read_text() == '{"c": 2}'


def test_download_folder_with_a_wildcard_on_the_full_url(
    tree: Path, bucket: str, tmp_path: Path
) -> None:
    StorageManager.upload_folder(str(tree), bucket)
    out = tmp_path / "out"
    StorageManager.download_folder(
        bucket, str(out), match_wildcard=f"{bucket}/sub/*", skip_zero_size_check=True, max_workers=1
    )
    got = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert got == ["sub/b.json", "sub/deeper/c.json"]


def test_download_folder_without_a_folder_goes_to_the_cache(bucket: str, cache: Path) -> None:
    write(f"{bucket}/x/f.txt", b"f")
    assert StorageManager.download_folder(f"{bucket}/x") == str(cache / "global")
    assert (cache / "global" / "x" / "f.txt").read_bytes() == b"f"


def test_download_folder_of_nothing_warns(
    bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pipec"):
        assert StorageManager.download_folder(f"{bucket}/none", str(tmp_path)) == str(tmp_path)
        assert caplog.messages == [f"download_folder: no files match {bucket}/none"]
        caplog.clear()
        StorageManager.download_folder(f"{bucket}/none", str(tmp_path), silence_errors=True)
    assert caplog.messages == []


# ---------------------------------------------------------------- list


def test_list_of_a_bucket_gives_keys_that_start_with_the_url(tree: Path, bucket: str) -> None:
    StorageManager.upload_folder(str(tree), f"{bucket}/data_1")
    write(f"{bucket}/data_2/x.txt", b"x")
    write(f"{bucket}/other/y.txt", b"y")
    assert StorageManager.list(f"{bucket}/data_") == [
        "data_1/a.txt",
        "data_1/empty.txt",
        "data_1/sub/b.json",
        "data_1/sub/deeper/c.json",
        "data_2/x.txt",
    ]
    assert StorageManager.list(f"{bucket}/data_1/sub/", return_full_path=True) == [
        f"{bucket}/data_1/sub/b.json",
        f"{bucket}/data_1/sub/deeper/c.json",
    ]
    assert StorageManager.list(f"{bucket}/other", with_metadata=True) == [
        {"name": "other/y.txt", "size": 1}
    ]
    assert StorageManager.list(f"{bucket}/nothing") == []


def test_list_of_a_folder_gives_paths_relative_to_it(tree: Path) -> None:
    names = ["a.txt", "empty.txt", "sub/b.json", "sub/deeper/c.json"]
    assert StorageManager.list(str(tree)) == names
    assert StorageManager.list(f"{tree}/", return_full_path=True) == [f"{tree}/{n}" for n in names]
    assert StorageManager.list(f"file://{tree / 'sub'}", with_metadata=True) == [
        {"name": "b.json", "size": 8},
        {"name": "deeper/c.json", "size": 8},
    ]


def test_list_of_what_cannot_be_listed_is_none(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipec"):
        assert StorageManager.list("nosuchprotocol://bucket/x") is None
    assert caplog.messages[0].startswith("list: cannot list nosuchprotocol://bucket/x:")


# ---------------------------------------------------------------- exists_file, file size


def test_exists_file_is_true_for_files_only(tree: Path, bucket: str) -> None:
    write(f"{bucket}/dir/f.txt", b"f")
    assert StorageManager.exists_file(f"{bucket}/dir/f.txt") is True
    assert StorageManager.exists_file(f"{bucket}/dir") is False
    assert StorageManager.exists_file(f"{bucket}/dir/f.txt/") is False
    assert StorageManager.exists_file(f"{bucket}/none") is False
    assert StorageManager.exists_file(str(tree / "a.txt")) is True
    assert StorageManager.exists_file(str(tree / "sub")) is False
    assert StorageManager.exists_file("nosuchprotocol://bucket/x") is False


def test_get_file_size_bytes(tree: Path, bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    write(f"{bucket}/f.bin", b"12345")
    assert StorageManager.get_file_size_bytes(f"{bucket}/f.bin") == 5
    assert StorageManager.get_file_size_bytes(str(tree / "sub" / "b.json")) == 8
    with caplog.at_level(logging.WARNING, logger="pipec"):
        assert StorageManager.get_file_size_bytes(f"{bucket}/none") is None
        assert StorageManager.get_file_size_bytes(str(tree / "sub")) is None
        assert caplog.messages == [
            f"get_file_size_bytes: no file {bucket}/none",
            f"get_file_size_bytes: no file {tree / 'sub'}",
        ]
        caplog.clear()
        assert StorageManager.get_file_size_bytes(f"{bucket}/none", silence_errors=True) is None
    assert caplog.messages == []
