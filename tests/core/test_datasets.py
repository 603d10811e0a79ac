"""ClearML's `Dataset` on pipec's store: versions, content-addressed files, immutability,
processes racing or dying, lineage in pipeline steps, the CLI, and bad input."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import tokenize
from pathlib import Path
from typing import Any

import fsspec
import pytest
from conftest import EXAMPLES, PIPELINES, rel, run_pipec, run_python
from pipec import Dataset
from pipec.registry import datasets as registry
from pipec.runtime.runstore import find_run
from pipec.store import Store

LINEAGE = PIPELINES / "datasets" / "lineage.py"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store of its own and a download cache of its own, as `$PIPEC_STORAGE` sets it."""
    folder = tmp_path / "store"
    monkeypatch.setenv("PIPEC_STORAGE", str(folder))
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def folder_of(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def blobs(store: Path) -> list[Path]:
    """Stored blobs; a `.tmp-` name is a write in progress, which the store never reads."""
    folder = store / "datasets" / "blobs"
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))


def made(name: str, folder: Path, project: str = "demo", **create: Any) -> Dataset:
    dataset = Dataset.create(dataset_name=name, dataset_project=project, **create)
    dataset.add_files(folder)
    dataset.upload()
    dataset.finalize()
    return dataset


# ------------------------------------------------------------------ versions and files


def test_a_finalized_dataset_is_found_by_name_and_id_with_its_files(
    store: Path, tmp_path: Path
) -> None:
    data = folder_of(tmp_path / "data", {"a.csv": "1\n", "b.csv": "2\n", "sub/c.txt": "3"})
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo", dataset_tags=["raw"])
    assert dataset.add_files(data) == 3
    assert not dataset.is_final()
    dataset.upload()
    assert dataset.finalize()
    assert dataset.is_final() and dataset.version == "1.0.0"

    by_name = Dataset.get(dataset_project="demo", dataset_name="rows")
    by_id = Dataset.get(dataset_id=dataset.id)
    assert by_name.id == by_id.id == dataset.id
    assert (by_name.project, by_name.name, by_name.tags) == ("demo", "rows", ["raw"])
    assert by_name.list_files() == ["a.csv", "b.csv", "sub/c.txt"]
    assert by_name.list_files("*.csv") == ["a.csv", "b.csv"]
    assert by_name.list_files("sub/*") == ["sub/c.txt"]
    assert {e.relative_path: e.size for e in by_name.file_entries} == {
        "a.csv": 2, "b.csv": 2, "sub/c.txt": 1,
    }  # fmt: skip
    assert len(blobs(store)) == 3


def test_a_local_copy_is_read_only_and_made_once_per_version(store: Path, tmp_path: Path) -> None:
    dataset = made("rows", folder_of(tmp_path / "data", {"a.csv": "1\n", "sub/b.csv": "2\n"}))
    copy = Path(dataset.get_local_copy())
    assert copy.is_relative_to(tmp_path / "cache")
    assert (copy / "sub" / "b.csv").read_text() == "2\n"
    assert not os.stat(copy / "a.csv").st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    (store / "datasets" / "blobs").rename(tmp_path / "gone")  # a second copy reads nothing
    assert Dataset.get(dataset_id=dataset.id).get_local_copy() == str(copy)
    assert dataset.verify_dataset_hash() == []


def test_a_mutable_copy_is_writable_and_verify_finds_what_changed(
    store: Path, tmp_path: Path
) -> None:
    dataset = made("rows", folder_of(tmp_path / "data", {"a.csv": "1\n", "b.csv": "2\n"}))
    target = Path(dataset.get_mutable_local_copy(tmp_path / "mine"))
    (target / "a.csv").write_text("changed\n")
    assert dataset.verify_dataset_hash(str(target)) == ["a.csv"]
    assert dataset.verify_dataset_hash(str(target), skip_hash=True) == ["a.csv"]
    with pytest.raises(ValueError, match="already contains files"):
        dataset.get_mutable_local_copy(target)
    assert dataset.get_mutable_local_copy(target, raise_on_error=False) is None
    again = Path(dataset.get_mutable_local_copy(target, overwrite=True))
    assert (again / "a.csv").read_text() == "1\n"


def test_a_child_holds_its_parents_files_and_stores_only_what_changed(
    store: Path, tmp_path: Path
) -> None:
    files = {f"part-{i}.csv": f"{i}\n" * 100 for i in range(5)}
    data = folder_of(tmp_path / "data", files)
    parent = made("rows", data)
    before = {p.name for p in blobs(store)}
    (data / "part-0.csv").write_text("changed\n")
    (data / "part-4.csv").unlink()
    (data / "new.csv").write_text("new\n")

    child = Dataset.create(dataset_name="rows", dataset_project="demo", parent_datasets=[parent.id])
    assert child.version == "1.0.1"
    assert child.list_files() == parent.list_files()  # the parent's files, merged in
    child.sync_folder(data)
    child.upload()
    child.finalize()

    assert child.list_added_files() == ["new.csv"]
    assert child.list_modified_files() == ["part-0.csv"]
    assert child.list_removed_files() == ["part-4.csv"]
    assert child.list_files(dataset_id=child.id) == ["new.csv", "part-0.csv"]
    assert child.get_dependency_graph() == {parent.id: [], child.id: [parent.id]}
    new = {p.name for p in blobs(store)} - before
    assert new == {hashlib.sha256(b"changed\n").hexdigest(), hashlib.sha256(b"new\n").hexdigest()}
    copy = Path(Dataset.get(dataset_project="demo", dataset_name="rows").get_local_copy())
    assert sorted(p.name for p in copy.iterdir()) == sorted(
        ["new.csv", "part-0.csv", "part-1.csv", "part-2.csv", "part-3.csv"]
    )
    assert (copy / "part-0.csv").read_text() == "changed\n"


def test_later_parents_win_and_the_project_comes_from_the_last_parent(
    store: Path, tmp_path: Path
) -> None:
    first = made("a", folder_of(tmp_path / "one", {"x.txt": "one", "only-a.txt": "a"}), "p")
    second = made("b", folder_of(tmp_path / "two", {"x.txt": "two"}), "q")
    merged = Dataset.create(dataset_name="merged", parent_datasets=[first, second])
    assert merged.project == "q"
    merged.finalize()
    copy = Path(merged.get_local_copy())
    assert (copy / "x.txt").read_text() == "two"
    assert (copy / "only-a.txt").read_text() == "a"


@pytest.mark.parametrize(
    ("version", "following"),
    [("1.0.0", "1.0.1"), ("1.2", "1.3"), ("2.0rc1", "2.0rc2"), ("1.0.post1", "1.0.post2"),
     ("3.1.dev4", "3.1.dev5"), ("1!2.0", "1!2.1"), ("latest", None)],
)  # fmt: skip
def test_versions_count_up_as_in_clearml(version: str, following: str | None) -> None:
    assert registry.next_version(version) == following


def test_a_version_not_given_follows_the_latest(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a"})
    assert made("rows", data).version == "1.0.0"
    assert made("rows", data, dataset_version="2.0rc1").version == "2.0rc1"
    assert made("rows", data).version == "2.0rc2"
    assert made("rows", data, dataset_version="latest").version == "latest"
    assert made("rows", data).version == "2.0rc3"  # a semantic version beats the newest
    assert Dataset.get(dataset_project="demo", dataset_name="rows").version == "2.0rc3"
    assert Dataset.get(dataset_project="demo", dataset_name="rows", dataset_version="1.0.0")
    with pytest.raises(ValueError, match=r"already has a version '1\.0\.0'"):
        made("rows", data, dataset_version="1.0.0")


def test_tags_published_metadata_and_list_datasets(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a"})
    first = made("rows", data, dataset_tags=["gold"])
    second = Dataset.create(dataset_name="rows", dataset_project="demo/sub")
    second.add_files(data)
    second.set_metadata({"rows": 1, "source": "test"}, metadata_name="stats")
    second.finalize(auto_upload=True)
    assert second.get_metadata("stats") == {"rows": 1, "source": "test"}
    assert Dataset.get(dataset_id=second.id).get_metadata("stats") == {"rows": 1, "source": "test"}
    assert Dataset.get(dataset_id=second.id).get_metadata("other") is None

    assert (
        Dataset.get(dataset_project="demo", dataset_name="rows", dataset_tags=["gold"]).id
        == first.id
    )
    with pytest.raises(ValueError, match="published"):
        Dataset.get(dataset_project="demo", dataset_name="rows", only_published=True)
    first.publish()
    assert (
        Dataset.get(dataset_project="demo", dataset_name="rows", only_published=True).id == first.id
    )

    listed = Dataset.list_datasets(dataset_project="demo")
    assert [(d["project"], d["id"], d["status"]) for d in listed] == [
        ("demo", first.id, "published"), ("demo/sub", second.id, "completed"),
    ]  # fmt: skip
    assert [
        d["id"]
        for d in Dataset.list_datasets(dataset_project="demo", recursive_project_search=False)
    ] == [first.id]
    assert [d["id"] for d in Dataset.list_datasets(tags=["gold"])] == [first.id]
    assert Dataset.list_datasets(partial_name="^ro")[0]["version"] == "1.0.0"


def test_wildcards_dataset_path_and_removal(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.csv": "", "b.json": "", "deep/c.csv": ""})
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo")
    assert dataset.add_files(data, wildcard="*.csv", dataset_path="/tables") == 2
    assert dataset.add_files(data, wildcard="*.json", recursive=False) == 1
    assert dataset.add_files(data / "a.csv", dataset_path="single") == 1
    assert dataset.list_files() == ["b.json", "single/a.csv", "tables/a.csv", "tables/deep/c.csv"]
    assert dataset.remove_files("tables/*.csv", recursive=False) == 1
    assert dataset.list_files() == ["b.json", "single/a.csv", "tables/deep/c.csv"]
    assert dataset.remove_files("*.csv") == 2
    assert dataset.list_files() == ["b.json"]


def test_parts_and_chosen_files_make_copies_of_their_own(store: Path, tmp_path: Path) -> None:
    dataset = made("rows", folder_of(tmp_path / "data", {f"{i}.txt": str(i) for i in range(5)}))
    parts = [sorted(os.listdir(dataset.get_local_copy(part=i, num_parts=2))) for i in range(2)]
    assert parts == [["0.txt", "2.txt", "4.txt"], ["1.txt", "3.txt"]]
    assert sorted(os.listdir(dataset.get_local_copy(files=["3.txt"]))) == ["3.txt"]
    assert len(os.listdir(dataset.get_local_copy())) == 5
    with pytest.raises(ValueError, match=r"no files \['nope'\]"):
        dataset.get_local_copy(files=["nope"])


def test_external_files_stay_where_they_are_and_come_with_the_copy(
    store: Path, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe({"/ext-datasets/imgs/a.png": b"A", "/ext-datasets/imgs/b.jpg": b"BB"})
    dataset = Dataset.create(dataset_name="links", dataset_project="demo")
    assert dataset.add_external_files("memory://ext-datasets/imgs", wildcard="*.png") == 1
    assert dataset.add_external_files("memory://ext-datasets/imgs/b.jpg", dataset_path="more") == 1
    dataset.finalize()
    assert blobs(store) == []
    assert {e.relative_path: e.link for e in dataset.link_entries} == {
        "a.png": "memory:///ext-datasets/imgs/a.png", "more/b.jpg": "memory://ext-datasets/imgs/b.jpg",
    }  # fmt: skip
    copy = Path(dataset.get_local_copy())
    assert (copy / "a.png").read_bytes() == b"A"
    assert (copy / "more" / "b.jpg").read_bytes() == b"BB"


def test_files_can_go_to_an_output_url(store: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo")
    dataset.add_files(folder_of(tmp_path / "data", {"a.txt": "a"}))
    dataset.upload(output_url=str(elsewhere))
    dataset.finalize()
    assert blobs(store) == [] and len(blobs(elsewhere)) == 1
    copy = Dataset.get(dataset_id=dataset.id).get_local_copy()
    assert Path(copy, "a.txt").read_text() == "a"


def test_squash_makes_one_version_without_parents(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a", "b.txt": "b"})
    parent = made("rows", data)
    (data / "b.txt").write_text("b2")
    child = made("rows", data, parent_datasets=[parent])
    squashed = Dataset.squash("flat", dataset_ids=[parent.id, child.id])
    assert squashed.is_final() and squashed.get_dependency_graph() == {squashed.id: []}
    assert Path(squashed.get_local_copy(), "b.txt").read_text() == "b2"


def test_delete_keeps_what_others_need(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a", "b.txt": "b"})
    parent = made("rows", data)
    (data / "b.txt").write_text("b2")
    child = made("rows", data, parent_datasets=[parent])
    with pytest.raises(ValueError, match=f"{parent.id} is used by datasets"):
        Dataset.delete(dataset_id=parent.id)
    Dataset.delete(dataset_id=child.id)
    assert len(blobs(store)) == 2  # a.txt and b.txt of the parent; b2 is gone
    with pytest.raises(ValueError, match="Could not find Dataset id"):
        Dataset.get(dataset_id=child.id)
    Dataset.delete(dataset_project="demo", dataset_name="rows", entire_dataset=True, force=True)
    assert blobs(store) == [] and Dataset.list_datasets() == []


# ------------------------------------------------------------------ bad input


def test_writing_to_a_finalized_dataset_is_a_clear_error(store: Path, tmp_path: Path) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a"})
    dataset = made("rows", data)
    again = Dataset.get(dataset_project="demo", dataset_name="rows")
    for change in (
        lambda d: d.add_files(data),
        lambda d: d.remove_files("a.txt"),
        lambda d: d.upload(),
        lambda d: d.set_metadata({}),
        lambda d: d.add_tags("x"),
    ):
        for target in (dataset, again):
            with pytest.raises(ValueError, match=r"demo/rows version 1\.0\.0 .* is finalized"):
                change(target)
    with pytest.raises(ValueError, match="already final"):
        again.finalize()


def test_finalize_with_files_not_uploaded_says_so(store: Path, tmp_path: Path) -> None:
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo")
    dataset.add_files(folder_of(tmp_path / "data", {"a.txt": "a"}))
    with pytest.raises(ValueError, match=r"pending uploads. Call Dataset.upload"):
        dataset.finalize()
    assert not dataset.finalize(raise_on_error=False)
    with pytest.raises(ValueError, match="not finalized"):
        dataset.get_local_copy()
    with pytest.raises(ValueError, match="Cannot inherit from a parent that was not finalized"):
        Dataset.create(dataset_name="child", dataset_project="demo", parent_datasets=[dataset])
    assert Dataset.list_datasets() == []


def test_a_file_changed_between_add_files_and_upload_is_refused(
    store: Path, tmp_path: Path
) -> None:
    data = folder_of(tmp_path / "data", {"a.txt": "a", "b.txt": "b"})
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo")
    dataset.add_files(data)
    (data / "b.txt").write_text("changed")
    with pytest.raises(ValueError, match=r"b\.txt changed after add_files hashed it"):
        dataset.upload(max_workers=1)
    for blob in blobs(store):  # nothing is stored under a name that is not its content
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert hashlib.sha256(b"changed").hexdigest() not in {b.name for b in blobs(store)}


def test_a_missing_dataset_names_project_and_name_and_the_closest_ones(
    store: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="the store has no datasets"):
        Dataset.get(dataset_project="demo", dataset_name="rows")
    data = folder_of(tmp_path / "data", {"a.txt": "a"})
    made("customers", data)
    made("orders", data, project="shop")
    with pytest.raises(ValueError) as caught:
        Dataset.get(dataset_project="shop", dataset_name="order")
    message = str(caught.value)
    assert "project 'shop', name 'order'" in message
    assert message.endswith("closest: shop/orders")
    with pytest.raises(ValueError, match=r"version '9\.9'.*closest: shop/orders"):
        Dataset.get(dataset_project="shop", dataset_name="orders", dataset_version="9.9")


def test_a_missing_file_in_add_files_is_named(store: Path, tmp_path: Path) -> None:
    dataset = Dataset.create(dataset_name="rows", dataset_project="demo")
    with pytest.raises(ValueError, match=r"no file or folder 'data/missing\.csv'"):
        dataset.add_files("data/missing.csv")
    with pytest.raises(ValueError, match="selection criteria"):
        Dataset.get()
    with pytest.raises(ValueError, match=r"Invalid 'Dataset\.get' arguments"):
        Dataset.get(dataset_id="x", dataset_nmae="typo")
    with pytest.raises(ValueError, match="Missing dataset project name"):
        Dataset.create(dataset_name="rows")


# ------------------------------------------------------------------ real processes


def python(code: str, store: Path, *args: str) -> subprocess.Popen[str]:
    """A Python process of its own running `code`, on the store."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env={**os.environ, "PIPEC_STORAGE": str(store)},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(folder: Path, pattern: str, count: int, procs: list[subprocess.Popen[str]]) -> None:
    """Until `count` files in `folder` match `pattern`; a process that ended first fails."""
    while len(list(folder.glob(pattern))) < count:
        ended = [p for p in procs if p.poll() is not None]
        assert not ended, [p.communicate() for p in ended]
        time.sleep(0.01)


def test_processes_finalizing_at_once_get_distinct_versions(store: Path, tmp_path: Path) -> None:
    racers = 4
    go = tmp_path / "go"
    code = f"""
        import pathlib, sys, time
        from pipec import Dataset
        me = sys.argv[1]
        folder = pathlib.Path({str(tmp_path)!r}) / ("data-" + me)
        folder.mkdir()
        (folder / "mine.txt").write_text(me)
        dataset = Dataset.create(dataset_name="race", dataset_project="demo")
        dataset.add_files(folder)
        dataset.upload()
        (pathlib.Path({str(tmp_path)!r}) / ("ready-" + me)).touch()
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.001)
        dataset.finalize()
        print(dataset.id, dataset.version)
    """
    procs = [python(code, store, str(i)) for i in range(racers)]
    wait_for(tmp_path, "ready-*", racers, procs)
    go.touch()
    results = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    finished = dict(line.split() for out, _ in results for line in out.splitlines())
    assert sorted(finished.values()) == ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]
    for dataset_id, version in finished.items():
        found = Dataset.get(dataset_id=dataset_id)
        assert found.version == version
        assert len(found.list_files()) == 1
    latest = Dataset.get(dataset_project="demo", dataset_name="race")
    assert latest.version == "1.0.3"


def test_a_killed_upload_leaves_no_version(store: Path, tmp_path: Path) -> None:
    files = 1500
    data = tmp_path / "data"
    data.mkdir()
    for i in range(files):
        (data / f"{i:04}.bin").write_bytes(i.to_bytes(4, "big") * 16384)  # 64 KiB each
    proc = python(
        f"""
        from pipec import Dataset
        dataset = Dataset.create(dataset_name="big", dataset_project="demo")
        dataset.add_files({str(data)!r})
        dataset.upload(max_workers=1)
        dataset.finalize()
        """,
        store,
    )
    wait_for(store / "datasets" / "blobs", "*/*", 10, [proc])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = blobs(store)
    assert 10 <= len(stored) < files, "the upload finished before it was killed"
    for blob in stored:  # what is there is whole: a half-written file is never under its name
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert Dataset.list_datasets() == []
    with pytest.raises(ValueError, match="the store has no datasets"):
        Dataset.get(dataset_project="demo", dataset_name="big")
    again = made("big", data)  # the next try starts from scratch, reusing what is stored
    assert again.version == "1.0.0" and len(blobs(store)) == files
    assert again.verify_dataset_hash() == []


# ------------------------------------------------------------------ in pipelines


@pytest.mark.parametrize("target", ["debug", "local"])
def test_steps_record_the_versions_they_make_and_read_and_cache_per_version(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"

    def run(bump: bool) -> dict[str, Any]:
        result = run_pipec(
            "run", rel(LINEAGE), "--target", target, "--storage", store, "--json",
            "--param", f"bump={bump}", pipec_home=pipec_home,
            env={"PIPEC_CACHE_DIR": str(tmp_path / "cache")},
        )  # fmt: skip
        assert result.returncode == 0, result
        found = find_run(Store(str(store)), json.loads(result.stdout)["run_id"])
        assert found is not None
        return {step.name: step for step in found[1]}

    first = run(False)
    (made_it,) = first["make"].datasets
    assert (made_it.use, made_it.project, made_it.name, made_it.version) == (
        "created", "lineage", "rows", "1.0.0",
    )  # fmt: skip
    (read,) = first["by_name"].datasets
    assert (read.use, read.id, read.query["name"]) == ("read", made_it.id, "rows")
    assert first["by_name"].parameters == {"Datasets/rows": made_it.id}  # alias="rows"
    assert first["by_id"].datasets[0].query is None

    second = run(False)  # no new version: both readers are reused
    assert second["make"].datasets[0].use == "read"
    assert (second["by_name"].status, second["by_id"].status) == ("cached", "cached")
    assert second["by_name"].datasets == first["by_name"].datasets

    third = run(True)  # a new version: a reader is reused only for the version it read
    assert third["make"].datasets[0].version == "1.0.1"
    assert (third["by_name"].status, third["by_id"].status) == ("completed", "completed")
    assert third["by_name"].datasets[0].version == "1.0.1"
    assert third["by_name"].outputs and third["by_id"].outputs

    manifest = registry.find(Store(str(store)), third["make"].datasets[0].id)
    assert manifest is not None and manifest.created_by == third["make"].id
    shown = run_pipec("datasets", "show", "lineage/rows", "--storage", store, "--json",
                      pipec_home=pipec_home)  # fmt: skip
    assert shown.returncode == 0, shown
    details = json.loads(shown.stdout)
    assert details["version"] == "1.0.1" and details["created_by"] == third["make"].id
    assert sorted(details["read_by"]) == sorted([third["by_name"].id, third["by_id"].id])


def test_the_cli_lists_shows_files_and_removes(
    store: Path, tmp_path: Path, pipec_home: Path
) -> None:
    data = folder_of(tmp_path / "data", {"a.csv": "1\n", "b.csv": "22\n"})
    parent = made("rows", data)
    (data / "b.csv").write_text("333\n")
    child = made("rows", data, parent_datasets=[parent])

    def pipec(*args: str) -> Any:
        return run_pipec(*args, "--storage", str(store), pipec_home=pipec_home,
                         env={"COLUMNS": "200"})  # fmt: skip

    listed = pipec("datasets", "list", "--json")
    assert listed.returncode == 0, listed
    assert [(d["id"], d["version"], d["files"]) for d in json.loads(listed.stdout)] == [
        (parent.id, "1.0.0", 2), (child.id, "1.0.1", 2),
    ]  # fmt: skip
    table = pipec("datasets", "list")
    assert parent.id in table.stdout and "demo/rows" in table.stdout
    shown = pipec("datasets", "show", child.id, "--json")
    details = json.loads(shown.stdout)
    assert (details["parents"], details["size"], details["added_size"]) == ([parent.id], 6, 4)
    assert "1 added or changed here" in pipec("datasets", "show", "demo/rows").stdout
    files = json.loads(
        pipec("datasets", "files", "demo/rows", "--version", "1.0.0", "--json").stdout
    )
    assert [(f["path"], f["size"], f["from"]) for f in files] == [
        ("a.csv", 2, parent.id), ("b.csv", 3, parent.id),
    ]  # fmt: skip
    missing = pipec("datasets", "show", "demo/rosw")
    assert missing.returncode == 2 and "closest: demo/rows" in missing.stderr
    refused = pipec("datasets", "rm", parent.id)
    assert refused.returncode == 2 and child.id in refused.stderr
    assert pipec("datasets", "rm", "demo/rows").returncode == 0  # the latest: the child
    assert [d["id"] for d in json.loads(pipec("datasets", "list", "--json").stdout)] == [parent.id]


# ------------------------------------------------------------------ ClearML's docs flow

DOCS_FLOW = EXAMPLES / "datasets"


def test_the_dataset_examples_change_only_clearml_imports() -> None:
    """Each example names pipec only in its import lines (and in prose): with `clearml`
    there instead, it is the ClearML code its docs describe."""
    for path in sorted(DOCS_FLOW.glob("*.py")):
        source = path.read_text()
        imports = {
            node.lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.Import, ast.ImportFrom))
        }
        with path.open("rb") as handle:
            names = [t for t in tokenize.tokenize(handle.readline) if t.type == tokenize.NAME]
        uses = {t.start[0] for t in names if t.string == "pipec"}
        assert uses and uses <= imports, (path.name, sorted(uses - imports))


@pytest.mark.examples
def test_clearmls_dataset_flow_runs_on_local(
    tmp_path: Path, pipec_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create a dataset from a folder, train from its latest version in a pipeline, add
    a version with one file changed, train again (each training publishes an OutputModel;
    a second pipeline reads the latest with InputModel): the step reading the dataset runs again
    (its cache holds only for the version it read), and a third run is all cached."""
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(tmp_path / "cache"))
    store = tmp_path / ".pipec" / "store"

    def script(name: str) -> str:
        result = run_python(DOCS_FLOW / name, pipec_home=pipec_home, cwd=tmp_path)
        assert result.returncode == 0, result
        return result.stdout

    def train() -> dict[str, Any]:
        result = run_pipec("run", DOCS_FLOW / "train_pipeline.py", "--target", "local",
                           "--json", pipec_home=pipec_home, cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result
        return json.loads(result.stdout)

    assert "version 1.0.0: ['setosa.csv', 'versicolor.csv', 'virginica.csv']" in script(
        "create_dataset.py"
    )
    first = train()
    assert first["return_value"] > 0.9
    assert "version 1.0.1: modified ['setosa.csv']" in script("new_version.py")
    second = train()
    assert {name: s["status"] for name, s in second["steps"].items()} == {
        "load_dataset": "completed", "train": "completed",
    }  # fmt: skip
    found = find_run(Store(str(store)), second["run_id"])
    assert found is not None
    (load,) = [s for s in found[1] if s.name == "load_dataset"]
    assert [(u.use, u.version) for u in load.datasets] == [("read", "1.0.1")]
    (trained,) = [s for s in found[1] if s.name == "train"]
    evaluated = run_pipec("run", DOCS_FLOW / "evaluate_pipeline.py", "--target", "local",
                          "--json", pipec_home=pipec_home, cwd=tmp_path)  # fmt: skip
    assert evaluated.returncode == 0, evaluated
    summary = json.loads(evaluated.stdout)
    assert summary["return_value"] > 0.9
    run_record = find_run(Store(str(store)), summary["run_id"])
    assert run_record is not None
    (evaluate,) = run_record[1]
    # the second pipeline read the model the second training published
    read_id = Store(str(store)).get_value(evaluate.outputs["model_id"])
    assert list(trained.model_ids.values()) == [read_id], (trained.model_ids, read_id)
    third = train()
    assert {s["status"] for s in third["steps"].values()} == {"cached"}
    assert third["return_value"] == second["return_value"]
    monkeypatch.setenv("PIPEC_STORAGE", str(store))
    latest = Dataset.get(dataset_project="dataset_examples", dataset_name="iris")
    assert latest.version == "1.0.1" and len(latest.list_files()) == 3
    assert len(blobs(store)) == 4  # three files, and the one that changed
