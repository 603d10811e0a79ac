"""`pipec runs rm` and `pipec gc`: runs go with what only they hold; nothing a kept run or
cache entry points at goes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from conftest import PIPELINES, run_pipec
from pipec import cache
from pipec.housekeeping import TEMPORARY_AGE, old_runs
from pipec.records import RunRecord
from pipec.runtime.runstore import RunFiles, find_run, list_runs
from pipec.store import Store

FAST = {"PYTHONDONTWRITEBYTECODE": ""}
CACHED = PIPELINES / "run" / "cached.py"
TINY = PIPELINES / "run" / "tiny.py"


def run(path: Path, store: Path, home: Path, *args: str) -> dict[str, Any]:
    result = run_pipec(
        "run", path, "--target", "debug", "--storage", store, "--json", *args,
        pipec_home=home, env=FAST,
    )  # fmt: skip
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def pipec(*args: str | Path, home: Path) -> Any:
    return run_pipec(*args, pipec_home=home, env=FAST)


def hits(summary: dict[str, Any]) -> dict[str, bool]:
    return {name: step["cache_hit"] for name, step in summary["steps"].items()}


def value_files(store: Store, run_id: str) -> set[str]:
    """The store files of a run's step outputs (wherever they live)."""
    found = find_run(store, run_id)
    assert found is not None
    return {value.uri for step in found[1] for value in step.outputs.values()}


def test_rm_keeps_what_a_kept_run_uses_and_the_last_rm_removes_it(
    tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "store"
    store = Store(str(path))
    first = run(CACHED, path, pipec_home)
    second = run(CACHED, path, pipec_home)  # every step reused: it points at first's values
    assert hits(second) == {"load": True, "total": True}
    shared = value_files(store, second["run_id"])
    assert all(f"/{first['run_id']}/" in uri for uri in shared)

    removed = pipec("runs", "rm", first["run_id"], "--storage", path, home=pipec_home)

    assert removed.returncode == 0, removed
    assert [r.run_id for r in list_runs(store)] == [second["run_id"]]
    assert all(os.path.exists(uri) for uri in shared)  # the kept run still has its values
    assert len(list(cache.entries(store))) == 2  # and the entries it reused stay
    third = run(CACHED, path, pipec_home)
    assert hits(third) == {"load": True, "total": True}
    assert third["return_value"] == 30
    page = pipec("runs", "report", second["run_id"], "--storage", path, "-o", tmp_path / "p.html",
                 home=pipec_home)  # fmt: skip
    assert page.returncode == 0, page
    assert "<pre class='preview'>30</pre>" in (tmp_path / "p.html").read_text()

    last = pipec("runs", "rm", second["run_id"], third["run_id"], "--storage", path,
                 home=pipec_home)  # fmt: skip

    assert last.returncode == 0, last
    assert list_runs(store) == []
    assert list(cache.entries(store)) == []
    assert not any(os.path.exists(uri) for uri in shared)
    assert [f for f in store.walk() if f.startswith("runs/")] == []
    assert sorted(os.listdir(path / "runs" / "cached")) == []  # no empty folder left behind
    fresh = run(CACHED, path, pipec_home)
    assert hits(fresh) == {"load": False, "total": False}


def test_a_run_whose_entries_a_later_run_replaced_goes_whole(
    tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "store"
    store = Store(str(path))
    first = run(CACHED, path, pipec_home)
    second = run(CACHED, path, pipec_home, "--refresh", "all")  # new entries, its own values
    assert hits(second) == {"load": False, "total": False}

    assert pipec("runs", "rm", first["run_id"], "--storage", path, home=pipec_home).returncode == 0

    assert not (path / RunFiles("cached", first["run_id"]).root).exists()
    entries = list(cache.entries(store))
    assert len(entries) == 2 and all(second["run_id"] in e.step_id for e in entries)
    assert hits(run(CACHED, path, pipec_home)) == {"load": True, "total": True}


def test_gc_chooses_finished_runs_by_age_and_keeps_each_pipelines_newest(
    tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "store"
    store = Store(str(path))
    ids = [run(TINY, path, pipec_home, "--param", f"word=w{i}")["run_id"] for i in range(3)]
    other = run(CACHED, path, pipec_home)["run_id"]
    still = store.read_model(RunFiles("tiny", ids[0]).record, RunRecord)
    store.write_model(
        RunFiles("tiny", "20000101-000000-000000").record,
        still.model_copy(update={"run_id": "20000101-000000-000000", "status": "running",
                                 "started": 0.0, "ended": None}),
    )  # fmt: skip
    later = time.time() + 7200

    def chosen(**kw: Any) -> set[str]:
        return {r.run_id for r in old_runs(store, now=later, **kw)}

    assert chosen(older_than=3600) == {*ids, other}  # never the running one
    assert chosen(older_than=3600, keep_last=1) == set(ids[:2])  # newest tiny and cached stay
    assert chosen(older_than=3 * 3600) == set()

    listed = pipec("gc", "--storage", path, "--older-than", "0", "--keep-last", "2",
                   "--dry-run", home=pipec_home)  # fmt: skip
    assert listed.returncode == 0, listed
    assert f"would remove run {ids[0]} (tiny, completed)" in listed.stdout
    assert len(list_runs(store)) == 5  # a dry run removes nothing

    done = pipec("gc", "--storage", path, "--older-than", "0", "--keep-last", "2", home=pipec_home)
    assert done.returncode == 0, done
    left = {r.run_id for r in list_runs(store)}
    assert left == {ids[1], ids[2], other, "20000101-000000-000000"}


def test_gc_removes_temporary_files_left_by_dead_writes_only(
    tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "store"
    run_id = run(TINY, path, pipec_home)["run_id"]
    folder = path / RunFiles("tiny", run_id).root
    old, fresh = folder / ".tmp-0123456789abcdef", folder / "steps" / ".tmp-fedcba9876543210"
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    past = time.time() - TEMPORARY_AGE - 60
    os.utime(old, (past, past))

    done = pipec("gc", "--storage", path, home=pipec_home)  # 30 days: no run is that old

    assert done.returncode == 0, done
    assert not old.exists() and fresh.exists()
    assert [r.run_id for r in list_runs(Store(str(path)))] == [run_id]


def test_rm_refuses_unknown_and_running_runs(tmp_path: Path, pipec_home: Path) -> None:
    path = tmp_path / "store"
    store = Store(str(path))
    run_id = run(TINY, path, pipec_home)["run_id"]
    files = RunFiles("tiny", run_id)
    record = store.read_model(files.record, RunRecord)
    store.write_model(files.record, record.model_copy(update={"status": "running"}))

    unknown = pipec("runs", "rm", "nope", run_id, "--storage", path, home=pipec_home)
    running = pipec("runs", "rm", run_id, "--storage", path, home=pipec_home)
    assert (unknown.returncode, running.returncode) == (2, 2), (unknown, running)
    assert "no run 'nope'" in unknown.stderr
    assert "still running" in running.stderr
    assert [r.run_id for r in list_runs(store)] == [run_id]

    forced = pipec("runs", "rm", run_id, "--force", "--storage", path, home=pipec_home)
    assert forced.returncode == 0, forced
    assert list_runs(store) == []


def test_walk_sees_every_file_temporary_ones_too_on_an_object_store() -> None:
    store = Store(f"memory://walk-{os.getpid()}")
    store.write_bytes("runs/p/r/run.json", b"{}")
    store.write_bytes("runs/p/r/.tmp-0123", b"half")
    before = time.time()

    found = store.walk()

    assert set(found) == {"runs/p/r/run.json", "runs/p/r/.tmp-0123"}
    assert all(0 < modified <= before + 1 for modified in found.values())
    assert store.listdir("runs/p/r") == ["run.json"]
    assert store.walk("runs/p/nothing") == {}
