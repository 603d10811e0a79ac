"""Trusting the store no further than it deserves, tried as someone who can write to it.

Each test does what a user (or an attacker with write access to the store) did to get a
wrong value, a traceback or code run: changed or truncated bytes of a stored value,
garbage records, crafted paths, tampered pickles.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, Result, marked_line, rel, run_pipec, squash
from pipec import cache
from pipec.adapter import EngineRun
from pipec.capture.session import load_pipeline
from pipec.records import CacheEntry, StepRecord, StoredValue
from pipec.runtime import attempt as attempts
from pipec.store import BadRecordError, CorruptValueError, OutsideStoreError, Store

TRUST = PIPELINES / "run" / "trust.py"
KEY = {"PIPEC_SIGNING_KEY": "correct horse battery staple"}


def run(
    storage: Path, *args: str, pipec_home: Path, target: str = "debug", env: dict | None = None
) -> tuple[Result, dict[str, Any]]:
    result = run_pipec(
        "run", rel(TRUST), "--target", target, "--storage", storage, "--json", *args,
        pipec_home=pipec_home, env=env,
    )  # fmt: skip
    try:
        return result, json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")


def output_file(storage: Path, run_id: str, step: str) -> Path:
    (path,) = storage.glob(f"runs/*/{run_id}/steps/{step}/outputs/*")
    return path


def executions(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


# -- verified reads ----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["changed", "truncated", "emptied"])
@pytest.mark.parametrize("target", ["debug", "local"])
def test_a_cache_entry_pointing_at_damaged_bytes_is_a_miss(
    damage: str, target: str, tmp_path: Path, pipec_home: Path
) -> None:
    storage, marker = tmp_path / "store", tmp_path / "marker"
    first, summary = run(storage, "--param", f"marker={marker}", pipec_home=pipec_home,
                         target=target)  # fmt: skip
    assert first.returncode == 0, first
    assert summary["return_value"] == 6
    stored = output_file(storage, summary["run_id"], "produce")
    data = stored.read_bytes()
    stored.write_bytes(
        {"changed": b'{"n":[100]}', "truncated": data[: len(data) // 2], "emptied": b""}[damage]
    )
    second, summary = run(storage, "--param", f"marker={marker}", pipec_home=pipec_home,
                          target=target)  # fmt: skip
    assert second.returncode == 0, second
    assert summary["return_value"] == 6
    assert summary["steps"]["produce"]["cache_hit"] is False
    assert executions(marker) == 2
    _, summary = run(storage, "--param", f"marker={marker}", pipec_home=pipec_home,
                     target=target)  # fmt: skip
    assert summary["steps"]["produce"]["cache_hit"] is True  # the recomputation's entry
    assert executions(marker) == 2


@pytest.fixture
def engine_run(tmp_path: Path, in_repo_root: Path) -> EngineRun:
    pipeline = load_pipeline(rel(TRUST))
    return EngineRun.begin(Store(str(tmp_path / "store")), pipeline, "run-1", "engine", {})


def run_step(run: EngineRun, name: str) -> StepRecord:
    call = run.call(name, str(Path.cwd()))
    _, record = run.run_step(
        name, lambda number, _limit: attempts.execute(call, number), refresh=True, retry=False
    )
    return record


def test_a_changed_input_fails_the_step_naming_the_value_and_the_run(
    engine_run: EngineRun, tmp_path: Path
) -> None:
    assert run_step(engine_run, "produce").status == "completed"
    stored = output_file(tmp_path / "store", "run-1", "produce")
    assert stored.read_bytes() == b'{"n":[0,1,2,3]}'
    stored.write_bytes(b'{"n":[9,1,2,3]}')
    record = run_step(engine_run, "total")
    assert record.status == "failed"
    assert record.outputs == {}
    error = record.error or ""
    assert "input 'numbers'" in error
    assert "output 'numbers' of step 'produce', written by run run-1" in error
    assert "its bytes changed since" in error


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "store"))


def test_every_serializer_refuses_changed_bytes(store: Store, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    values = {
        "json": {"a": 1},
        "numpy": np.arange(1 << 18),  # large enough to be read through a mapping
        "pandas": pd.DataFrame({"a": [1, 2, 3]}),
        "cloudpickle": {1, 2},
    }
    for serializer, value in values.items():
        stored = store.put_value(f"runs/p/r/steps/s/outputs/{serializer}", value)
        assert stored.serializer == serializer
        path = Path(store._path(stored.uri[len(store.url) + 1 :]))
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(CorruptValueError, match=f"output '{serializer}' of step 's'"):
            store.get_value(stored)


def test_numpy_reads_from_a_local_store_are_mapped_and_writable(store: Store) -> None:
    np = pytest.importorskip("numpy")
    array = np.arange(1 << 18, dtype="float64").reshape(512, 512)
    back = store.get_value(store.put_value("big", array))
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[0, 0] = -1  # copy-on-write: the stored file keeps its bytes
    np.testing.assert_array_equal(store.get_value(store.put_value("big", array)), array)


# -- one bad file does not break a command -----------------------------------------------

BAD_RECORDS = {
    "garbage": b"\x00\xffnot json",
    "empty": b"",
    "newer": None,  # a valid record with a field a newer pipec wrote
}


def bad_bytes(kind: str, good: dict[str, Any]) -> bytes:
    data = BAD_RECORDS[kind]
    return data if data is not None else json.dumps({**good, "lease": 1}).encode()


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_a_bad_cache_entry_or_run_record_is_reported_once_and_skipped(
    kind: str, tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "store"
    first, summary = run(storage, pipec_home=pipec_home)
    assert first.returncode == 0, first
    (entry_file,) = storage.glob("cache/*/*.json")
    good_entry = json.loads(entry_file.read_text())
    bad_entry = storage / "cache" / "ab" / ("ab" + "0" * 62 + ".json")
    bad_entry.parent.mkdir(parents=True)
    bad_entry.write_bytes(bad_bytes(kind, {**good_entry, "key": "ab" + "0" * 62}))
    (run_file,) = storage.glob("runs/*/*/run.json")
    bad_run = run_file.parent.parent / "20000101-000000-bad" / "run.json"
    bad_run.parent.mkdir()
    bad_run.write_bytes(bad_bytes(kind, json.loads(run_file.read_text())))

    for args, bad, good in [
        (("cache", "ls"), bad_entry, good_entry["key"][:12]),
        (("runs", "list"), bad_run, summary["run_id"]),
        (("cache", "clear"), bad_entry, "removed 1 cache entries"),
    ]:
        result = run_pipec(*args, "--storage", storage, pipec_home=pipec_home)
        assert result.returncode == 0, result
        assert good in result.stdout
        assert "Traceback" not in result.stderr and "pydantic" not in result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning: skipped" in line]
        assert len(warnings) == 1, result
        assert str(bad) in warnings[0]
    assert bad_entry.exists()  # reported, never removed unread


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_a_bad_cache_entry_is_a_miss(kind: str, store: Store) -> None:
    key = "cd" + "1" * 62
    good = CacheEntry(key=key, pipeline="p", step="s", step_id="p/r/s", created=0.0)
    store.write_bytes(f"cache/cd/{key}.json", bad_bytes(kind, good.model_dump(mode="json")))
    assert cache.lookup(store, key) is None


def test_a_cache_entry_filed_under_another_key_is_a_miss(store: Store) -> None:
    entry = CacheEntry(key="ef" + "2" * 62, pipeline="p", step="s", step_id="p/r/s", created=0.0)
    cache.record(store, entry)
    other = "ef" + "3" * 62
    store.write_bytes(f"cache/ef/{other}.json", store.read_bytes(f"cache/ef/{entry.key}.json"))
    assert cache.lookup(store, entry.key) == entry
    assert cache.lookup(store, other) is None


# -- path safety -------------------------------------------------------------------------


def test_cache_clear_never_follows_a_crafted_key_out_of_the_store(
    tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "data" / "store"
    victim = tmp_path / "victim.json"  # where cache/<key[:2]>/<key>.json leads
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    crafted = CacheEntry(key="../../victim", pipeline="p", step="s", step_id="x", created=0.0)
    (storage / "cache" / "00").mkdir(parents=True)
    (storage / "cache" / "00" / "crafted.json").write_text(crafted.model_dump_json())
    result = run_pipec("cache", "clear", "--storage", storage, pipec_home=pipec_home)
    assert result.returncode == 0, result
    assert (victim / "keep.txt").read_text() == "precious"
    assert "warning: skipped" in result.stderr and "another key" in result.stderr


def test_runs_show_reads_no_record_outside_the_store(tmp_path: Path, pipec_home: Path) -> None:
    storage = tmp_path / "store"
    first, _ = run(storage, pipec_home=pipec_home)
    assert first.returncode == 0, first
    (run_file,) = storage.glob("runs/*/*/run.json")
    outside = tmp_path / "x"
    outside.mkdir()
    record = json.loads(run_file.read_text())
    (outside / "run.json").write_text(json.dumps({**record, "pipeline": "not in the store"}))
    result = run_pipec("runs", "show", "../../../x", "--storage", storage, pipec_home=pipec_home)
    assert result.returncode == 2, result
    assert "not in the store" not in result.stdout
    assert "not a path inside the store" in result.stderr


def test_a_record_pointing_outside_the_store_is_refused(store: Store, tmp_path: Path) -> None:
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"x": 1}))
    stored = store.put_value("runs/p/r/steps/s/outputs/v", {"x"})
    outside = stored.model_copy(update={"uri": str(evil)})
    sneaky = stored.model_copy(update={"uri": f"{store.url}/runs/../../evil.pkl"})
    for value in (outside, sneaky):
        with pytest.raises(OutsideStoreError):
            store.get_value(value)
    key = "12" + "4" * 62
    cache.record(
        store,
        CacheEntry(key=key, pipeline="p", step="s", step_id="p/r/s", created=0.0,
                   outputs={"v": outside}),
    )  # fmt: skip
    assert cache.lookup(store, key) is None


@pytest.mark.parametrize("rel_path", ["../x", "runs/../../x", "/etc/passwd", "runs//x"])
def test_store_paths_stay_inside(store: Store, rel_path: str) -> None:
    with pytest.raises(OutsideStoreError):
        store.remove(rel_path)


# -- signing -----------------------------------------------------------------------------


class Boom:
    """A pickle that runs code when it is read: it leaves a file where it says."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path(self.marker).write_text, ("pwned",))


def forge(store: Store, stored: StoredValue, payload: bytes, path: str) -> StoredValue:
    """What someone who can write to the store but has no key does: new bytes, and a
    record that matches them."""
    import hashlib

    store.write_bytes(stored.uri[len(store.url) + 1 :], payload)
    forged = stored.model_copy(
        update={"hash": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    )
    record = StepRecord(name="s", id="p/r/s", status="completed", outputs={"v": forged})
    store.write_bytes(path, record.model_dump_json().encode())
    return store.read_model(path, StepRecord).outputs["v"]


def test_without_a_key_writing_to_the_store_is_running_code(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The threat the README describes, shown: no key, a forged pickle runs."""
    monkeypatch.delenv("PIPEC_SIGNING_KEY", raising=False)
    marker = tmp_path / "pwned"
    stored = store.put_value("runs/p/r/steps/s/outputs/v", {"x"})
    forged = forge(store, stored, pickle.dumps(Boom(str(marker))), "runs/p/r/steps/s/step.json")
    store.get_value(forged)
    assert marker.exists()


def test_with_a_key_a_forged_pickle_is_refused_before_it_is_unpickled(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEC_SIGNING_KEY", KEY["PIPEC_SIGNING_KEY"])
    marker = tmp_path / "pwned"
    stored = store.put_value("runs/p/r/steps/s/outputs/v", {"x"})
    assert stored.signature is not None
    assert store.get_value(stored) == {"x"}
    path = "runs/p/r/steps/s/step.json"
    with pytest.raises(BadRecordError, match="not signed"):
        forge(store, stored, pickle.dumps(Boom(str(marker))), path)
    # the record's signature is kept but the bytes and hash change: the value's is wrong
    store.write_model(path, StepRecord(name="s", id="p/r/s", outputs={"v": stored}))
    payload = pickle.dumps(Boom(str(marker)))
    store.write_bytes(stored.uri[len(store.url) + 1 :], payload)
    with pytest.raises(CorruptValueError):
        store.get_value(store.read_model(path, StepRecord).outputs["v"])
    unsigned = stored.model_copy(update={"signature": None})
    with pytest.raises(CorruptValueError, match="refused before unpickling"):
        store.get_value(unsigned)
    assert not marker.exists()


def test_with_a_key_every_record_is_signed_and_checked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPEC_SIGNING_KEY", KEY["PIPEC_SIGNING_KEY"])
    entry = CacheEntry(key="56" + "7" * 62, pipeline="p", step="s", step_id="p/r/s", created=0.0)
    cache.record(store, entry)
    path = f"cache/56/{entry.key}.json"
    assert "signature" in json.loads(store.read_bytes(path))
    assert cache.lookup(store, entry.key) == entry
    changed = json.loads(store.read_bytes(path))
    changed["step"] = "other"
    store.write_bytes(path, json.dumps(changed).encode())
    with pytest.raises(BadRecordError, match="signature does not match"):
        store.read_model(path, CacheEntry)
    assert cache.lookup(store, entry.key) is None
    monkeypatch.setenv("PIPEC_SIGNING_KEY", "another key")
    cache.record(store, entry)
    monkeypatch.setenv("PIPEC_SIGNING_KEY", KEY["PIPEC_SIGNING_KEY"])
    assert cache.lookup(store, entry.key) is None


def test_a_signed_run_reads_back_and_the_key_is_in_no_compiled_file(
    tmp_path: Path, pipec_home: Path
) -> None:
    storage = tmp_path / "store"
    first, summary = run(storage, pipec_home=pipec_home, target="local", env=KEY)
    assert first.returncode == 0, first
    assert summary["return_value"] == 6
    _, summary = run(storage, pipec_home=pipec_home, env=KEY)
    assert summary["steps"]["produce"]["cache_hit"] is True
    listed = run_pipec("runs", "list", "--storage", storage, pipec_home=pipec_home, env=KEY)
    assert "warning" not in listed.stderr and summary["run_id"] in listed.stdout
    unkeyed = run_pipec("runs", "list", "--storage", storage, pipec_home=pipec_home)
    assert unkeyed.returncode == 0 and summary["run_id"] in unkeyed.stdout
    out = tmp_path / "compiled"
    compiled = run_pipec("compile", rel(TRUST), "--target", "json", "--out", out,
                         pipec_home=pipec_home, env=KEY)  # fmt: skip
    assert compiled.returncode == 0, compiled
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert KEY["PIPEC_SIGNING_KEY"] not in path.read_text(errors="replace")


def test_unsigned_records_are_refused_under_a_key(tmp_path: Path, pipec_home: Path) -> None:
    storage = tmp_path / "store"
    first, summary = run(storage, pipec_home=pipec_home)  # written without a key
    assert first.returncode == 0, first
    listed = run_pipec("runs", "list", "--storage", storage, pipec_home=pipec_home, env=KEY)
    assert listed.returncode == 0 and "not signed" in listed.stderr
    assert summary["run_id"] not in listed.stdout
    second, summary = run(storage, pipec_home=pipec_home, env=KEY)
    assert second.returncode == 0, second
    assert summary["steps"]["produce"]["cache_hit"] is False  # an unsigned entry is a miss


# -- what the cache key holds ------------------------------------------------------------

PROJECT_PIPELINE = """
import os

from helpers import scale
from pipec import PipelineDecorator


def dumps_plain(value):
    return repr(value).encode()


def loads_plain(data):
    return eval(data.decode())


def dumps_marked(value):
    return b"marked:" + repr(value).encode()


def loads_marked(data):
    assert data.startswith(b"marked:"), "not written by dumps_marked"
    return eval(data[len(b"marked:"):].decode())


MARKED = os.environ.get("PAIR") == "marked"


@PipelineDecorator.component(return_values=["value"], cache=True)
def compute(x: int):
    return {"scaled": scale(x)}


@PipelineDecorator.pipeline(
    name="project", project="pipec tests", version="1.0.0",
    artifact_serialization_function=dumps_marked if MARKED else dumps_plain,
    artifact_deserialization_function=loads_marked if MARKED else loads_plain,
)
def pipeline(x: int = 1):
    return compute(x)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "lib").mkdir(parents=True)
    (folder / "pipe.py").write_text(PROJECT_PIPELINE)
    (folder / "helpers.py").write_text("from lib.factor import FACTOR\n\n\ndef scale(x):\n"
                                       "    return x * FACTOR\n")  # fmt: skip
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "factor.py").write_text("FACTOR = 2\n")
    return folder


def run_project(project: Path, pipec_home: Path, **env: str) -> dict[str, Any]:
    result = run_pipec(
        "run", project / "pipe.py", "--target", "debug", "--storage", project / "store",
        "--json", pipec_home=pipec_home, cwd=project, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def test_editing_a_project_module_the_step_imports_changes_the_key(
    project: Path, pipec_home: Path
) -> None:
    assert run_project(project, pipec_home)["return_value"] == {"scaled": 2}
    again = run_project(project, pipec_home)
    assert again["steps"]["compute"]["cache_hit"] is True
    (project / "lib" / "factor.py").write_text("FACTOR = 3\n")  # imported through helpers
    edited = run_project(project, pipec_home)
    assert edited["steps"]["compute"]["cache_hit"] is False
    assert edited["return_value"] == {"scaled": 3}


def test_switching_the_serialization_functions_changes_the_key(
    project: Path, pipec_home: Path
) -> None:
    assert run_project(project, pipec_home)["return_value"] == {"scaled": 2}
    marked = run_project(project, pipec_home, PAIR="marked")
    assert marked["steps"]["compute"]["cache_hit"] is False
    assert marked["return_value"] == {"scaled": 2}
    assert run_project(project, pipec_home, PAIR="marked")["steps"]["compute"]["cache_hit"]


# -- clear messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--refresh", "prodcue"), "--refresh"),
        (("--max-workers", "0"), "--max-workers"),
        (("--max-workers", "-3"), "--max-workers"),
    ],
)
def test_bad_run_options_are_usage_errors_naming_the_option(
    args: tuple[str, ...], named: str, tmp_path: Path, pipec_home: Path
) -> None:
    result = run_pipec(
        "run", rel(TRUST), "--target", "debug", "--storage", tmp_path / "store", *args,
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert named in result.stderr
    assert "Traceback" not in result.stderr and "ValueError" not in result.stderr
    assert not (tmp_path / "store" / "runs").exists()  # refused before anything ran


def test_refresh_takes_a_repeat_of_a_step(tmp_path: Path, pipec_home: Path) -> None:
    result, _ = run(tmp_path / "store", "--refresh", "produce", pipec_home=pipec_home)
    assert result.returncode == 0, result
    result = run_pipec(
        "run", rel(TRUST), "--target", "debug", "--storage", tmp_path / "store",
        "--refresh", "produce_2", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result


def test_credentials_in_a_store_url_stay_out_of_records_and_json(
    tmp_path: Path, pipec_home: Path
) -> None:
    url = "memory://reader:s3cr3t@bucket-trust"
    store = Store(url)
    stored = store.put_value("runs/p/r/steps/s/outputs/v", {"a": 1})
    assert "s3cr3t" not in stored.uri and "s3cr3t" not in repr(store)
    assert store.get_value(stored) == {"a": 1}
    result, summary = run(url, pipec_home=pipec_home)  # type: ignore[arg-type]
    assert result.returncode == 0, result
    assert summary["return_value"] == 6
    assert "s3cr3t" not in result.stdout and "s3cr3t" not in result.stderr


@pytest.mark.parametrize("target", ["debug", "local"])
def test_sys_exit_in_a_step_fails_it_at_the_line_that_called_it(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    exits = PIPELINES / "run" / "exits.py"
    result = run_pipec(
        "run", rel(exits), "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 1, result
    summary = json.loads(result.stdout)
    assert summary["steps"]["quits"]["status"] == "failed"
    error = summary["steps"]["quits"]["error"]
    assert f"{rel(exits)}:{marked_line(exits)}: SystemExit: 3" in error


def test_an_empty_step_name_is_refused_at_its_line(tmp_path: Path, pipec_home: Path) -> None:
    pipeline = tmp_path / "empty_name.py"
    pipeline.write_text(
        "from pipec import PipelineController\n\n\n"
        "def f():\n    return 1\n\n\n"
        "pipe = PipelineController(name='empty', project='x')\n"
        "pipe.add_function_step(name='', function=f, function_return=['r'])\n"
    )
    result = run_pipec("inspect", pipeline, pipec_home=pipec_home, cwd=tmp_path)
    assert result.returncode == 1, result
    assert "empty_name.py:9: error: a step name must not be empty" in squash(result.stderr)


def test_a_global_from_the_environment_is_never_pickled_into_a_compiled_file(
    tmp_path: Path, pipec_home: Path
) -> None:
    pipeline = PIPELINES / "run" / "environment_global.py"
    out = tmp_path / "compiled"
    result = run_pipec("compile", rel(pipeline), "--target", "json", "--out", out,
                       pipec_home=pipec_home)  # fmt: skip
    assert result.returncode == 1, result
    message = squash(result.stderr)
    assert "reads the module global 'TOKEN'" in message
    assert f"set from the environment at {rel(pipeline)}:{marked_line(pipeline)}" in message
    assert not out.exists() or "t0ps3cret" not in "".join(
        p.read_text() for p in out.rglob("*") if p.is_file()
    )
