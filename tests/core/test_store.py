"""The artifact store on real fsspec backends: a local folder and memory://."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipec.records import StepRecord, StoredValue
from pipec.store import DEFAULT_STORE, SerializationError, StorageError, Store, slug


@pytest.fixture(autouse=True)
def download_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "downloads"
    monkeypatch.setenv("PIPEC_CACHE_DIR", str(cache))
    return cache


def memory_store() -> Store:
    return Store(f"memory://test-store-{uuid.uuid4().hex}")


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(str(tmp_path / "store")) if request.param == "local" else memory_store()
    yield store
    store.remove("")


def tmp_names(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-")]


# -- URLs --------------------------------------------------------------------------------


def test_plain_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store("data/store/")
    assert store.url == str(tmp_path / "data" / "store")
    assert store.uri("runs/a.json") == str(tmp_path / "data" / "store" / "runs" / "a.json")


def test_urls_keep_their_form() -> None:
    assert Store("file:///tmp/somewhere/").url == "file:///tmp/somewhere"
    assert Store("memory://bucket/path/").uri("x/y.json") == "memory://bucket/path/x/y.json"
    assert Store("memory://").uri("x") == "memory://x"


def test_resolve_prefers_the_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIPEC_STORAGE", raising=False)
    assert Store.resolve().url == str(tmp_path / DEFAULT_STORE)
    monkeypatch.setenv("PIPEC_STORAGE", "from-env")
    assert Store.resolve().url == str(tmp_path / "from-env")
    assert Store.resolve("memory://from-arg").url == "memory://from-arg"


def test_memory_is_not_shared_between_processes(tmp_path: Path) -> None:
    assert not memory_store().shared_between_processes
    assert Store(str(tmp_path)).shared_between_processes
    assert Store(f"file://{tmp_path}").shared_between_processes


# -- check -------------------------------------------------------------------------------


def test_check_creates_a_local_store_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "new" / "store"
    Store(str(root)).check()
    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_check_accepts_memory() -> None:
    store = memory_store()
    store.check()
    assert store.listdir("") == []


def test_unknown_protocol_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"storage foo://bucket/x is not usable: .*'foo'"):
        Store("foo://bucket/x").check()


def test_a_missing_filesystem_package_is_named() -> None:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed")
    with pytest.raises(StorageError, match=r"s3://bucket/x is not usable: .*pip install s3fs"):
        Store("s3://bucket/x")


def test_a_file_in_the_way_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    url = str(tmp_path / "file" / "store")
    with pytest.raises(StorageError, match=f"storage {url} is not usable: a file is in the way"):
        Store(url).check()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder_is_a_storage_error(tmp_path: Path) -> None:
    root = tmp_path / "readonly"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(StorageError, match=f"storage {root} is not usable: permission denied"):
            Store(str(root)).check()
    finally:
        root.chmod(0o700)


# -- bytes, models, folders --------------------------------------------------------------


def test_bytes_by_relative_path_or_uri(store: Store) -> None:
    uri = store.write_bytes("a/b/c.bin", b"one")
    assert uri == store.uri("a/b/c.bin")
    assert store.read_bytes("a/b/c.bin") == store.read_bytes(uri) == b"one"
    assert store.exists("a/b/c.bin") and store.exists(uri)
    assert not store.exists("a/b/missing.bin")
    store.write_bytes("a/b/c.bin", b"two")
    assert store.read_bytes(uri) == b"two"


def test_read_any_fsspec_url(store: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"outside")
    assert store.read_bytes(str(elsewhere)) == b"outside"
    assert store.read_bytes(f"file://{elsewhere}") == b"outside"


def test_models_round_trip(store: Store) -> None:
    value = StoredValue(uri="memory://x", hash="0" * 64, serializer="json", type_name="t", size=1)
    record = StepRecord(name="train", id="r1.train", status="completed", outputs={"m": value})
    store.write_model("runs/p/r1/steps/train/step.json", record)
    assert store.read_model("runs/p/r1/steps/train/step.json", StepRecord) == record


def test_listdir_and_remove(store: Store) -> None:
    assert store.listdir("runs") == []
    for rel in ["runs/b/run.json", "runs/a/run.json", "runs/a/steps/s/step.json", "runs/c"]:
        store.write_bytes(rel, b"{}")
    assert store.listdir("runs") == ["a", "b", "c"]
    assert store.listdir("runs/a") == ["run.json", "steps"]
    assert store.listdir("runs/c") == []  # a file has no entries
    store.remove("runs/a")
    store.remove("runs/c")
    store.remove("runs/missing")
    assert store.listdir("runs") == ["b"]
    assert not store.exists("runs/a/steps/s/step.json")


def test_listdir_hides_writes_in_progress(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / ".tmp-0123").write_bytes(b"half")
    store.write_bytes("dir/done.json", b"{}")
    assert store.listdir("dir") == ["done.json"]


def test_readers_never_see_a_half_written_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    size = 4 << 20
    payloads = (b"a" * size, b"b" * size)
    store.write_bytes("big.bin", payloads[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def write() -> None:
        for i in range(20):
            store.write_bytes("big.bin", payloads[i % 2])
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        seen.add(store.read_bytes("big.bin"))
    writer.join()
    assert seen <= set(payloads)
    assert tmp_names(tmp_path) == []


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    (tmp_path / "taken" / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        store.write_bytes("taken", b"cannot replace a folder")
    assert (tmp_path / "taken" / "inside").is_dir()
    assert tmp_names(tmp_path) == []


def test_create_bytes_keeps_what_is_there(tmp_path: Path) -> None:
    """Of two creates of one name, the second writes nothing (a lease or a dataset
    manifest must not be replaced by a loser of the race)."""
    store = Store(str(tmp_path / "store"))
    assert store.create_bytes("a/once", b"first")
    assert not store.create_bytes("a/once", b"second")
    assert store.read_bytes("a/once") == b"first"
    assert os.listdir(tmp_path / "store" / "a") == ["once"]


# -- values ------------------------------------------------------------------------------


def test_json_values(store: Store) -> None:
    value = {"b": [1, 2.5, None, True], "a": "é"}
    stored = store.put_value("runs/p/r/steps/s/outputs/result", value)
    data = store.read_bytes(stored.uri)
    assert stored.uri == store.uri("runs/p/r/steps/s/outputs/result.json")
    assert stored.serializer == "json"
    assert stored.type_name == "builtins.dict"
    assert stored.hash == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert store.get_value(stored) == value


def test_tuples_round_trip_as_tuples(store: Store) -> None:
    stored = store.put_value("t", (1, "two", [3]))
    assert stored.serializer == "cloudpickle"
    assert stored.uri.endswith("t.pkl")
    assert store.get_value(stored) == (1, "two", [3])


def test_numpy_values(store: Store) -> None:
    np = pytest.importorskip("numpy")
    array = np.arange(12, dtype="float32").reshape(3, 4)
    stored = store.put_value("arr", array)
    assert (stored.serializer, stored.type_name) == ("numpy", "numpy.ndarray")
    assert stored.uri.endswith("arr.npy")
    back = store.get_value(stored)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_pandas_values_keep_their_index(store: Store) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"score": [0.1, 0.7], "label": ["x", "y"]}, index=pd.Index([10, 20], name="id")
    )
    stored = store.put_value("frame", frame)
    assert stored.serializer == "pandas"
    assert stored.uri.endswith("frame.parquet")
    pd.testing.assert_frame_equal(store.get_value(stored), frame, check_exact=True)


def test_equal_values_have_equal_hashes(store: Store) -> None:
    first = store.put_value("one", {"a": 1, "b": [1, 2]})
    again = store.put_value("two", {"b": [1, 2], "a": 1})
    other = store.put_value("three", {"a": 1, "b": [2, 1]})
    assert first.hash == again.hash != other.hash
    assert first.hash == memory_store().put_value("x", {"a": 1, "b": [1, 2]}).hash


def test_custom_functions(store: Store) -> None:
    custom = (lambda v: repr(v).encode(), lambda b: ("parsed", b.decode()))
    stored = store.put_value("c", {"a": 1}, custom=custom)
    assert (stored.serializer, stored.type_name) == ("custom", "builtins.dict")
    assert stored.uri.endswith("c.bin")
    assert store.read_bytes(stored.uri) == b"{'a': 1}"
    assert store.get_value(stored, custom=custom) == ("parsed", "{'a': 1}")
    with pytest.raises(SerializationError, match="deserialization function"):
        store.get_value(stored)


def test_failing_custom_functions_write_nothing(store: Store) -> None:
    def broken(value: object) -> bytes:
        raise ValueError("no way")

    with pytest.raises(SerializationError, match=r"builtins\.int.*no way"):
        store.put_value("c", 1, custom=(broken, bytes))
    with pytest.raises(SerializationError, match=r"returned a builtins\.str, not bytes"):
        store.put_value("c", 1, custom=(str, bytes))
    assert store.listdir("") == []


@pytest.mark.parametrize(
    ("make", "type_name"),
    [(threading.Lock, "_thread.lock"), (lambda: (i for i in range(3)), "builtins.generator")],
    ids=["lock", "generator"],
)
def test_unpicklable_values_write_nothing(store: Store, make, type_name: str) -> None:
    with pytest.raises(SerializationError, match=f"cannot pickle a {type_name}"):
        store.put_value("outputs/bad", make())
    assert store.listdir("") == []
    assert store.listdir("outputs") == []


def test_unknown_serializer_is_named(store: Store) -> None:
    uri = store.write_bytes("v.xyz", b"...")
    stored = StoredValue(uri=uri, hash="0", serializer="xyz", type_name="t.T", size=3)
    with pytest.raises(SerializationError, match="'xyz'"):
        store.get_value(stored)


# -- files and folders -------------------------------------------------------------------


def test_files_keep_their_name(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    stored = store.put_file("artifacts", source)
    assert stored.uri == store.uri("artifacts/data.csv")
    assert (stored.serializer, stored.size) == ("file", source.stat().st_size)
    assert stored.hash == hashlib.sha256(source.read_bytes()).hexdigest()
    local = store.get_value(stored)
    assert Path(local).name == "data.csv"
    assert Path(local).read_text() == "a,b\n1,2\n"


def test_a_stored_csv_reads_with_pandas(store: Store, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    source = tmp_path / "table.csv"
    source.write_text("a,b\n1,2\n")
    stored = store.put_file("artifacts", str(source))
    assert pd.read_csv(stored.uri).to_dict("list") == {"a": [1], "b": [2]}


def make_folder(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "top.txt").write_text("top")
    (root / "sub" / "deeper" / "leaf.bin").write_bytes(bytes(range(256)))
    return root


def test_folders_round_trip(store: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "model_dir")
    stored = store.put_file("models", folder)
    assert stored.serializer == "folder"
    assert stored.uri == store.uri("models/model_dir.zip")
    local = Path(store.get_value(stored))
    assert local.name == "model_dir"
    assert (local / "top.txt").read_text() == "top"
    assert (local / "sub" / "deeper" / "leaf.bin").read_bytes() == bytes(range(256))
    assert (local / "empty").is_dir()
    assert store.get_value(stored) == str(local)


def test_equal_folders_have_equal_hashes(store: Store, tmp_path: Path) -> None:
    first = store.put_file("a", make_folder(tmp_path / "one" / "folder"))
    later = make_folder(tmp_path / "two" / "folder")
    os.utime(later / "top.txt", (0, 0))
    assert store.put_file("b", later).hash == first.hash
    (later / "top.txt").write_text("changed")
    assert store.put_file("c", later).hash != first.hash


def test_local_path_of_a_local_store_is_the_file_itself(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    stored = store.put_value("v", [1, 2])
    assert store.local_path(stored) == str(tmp_path / "store" / "v.json")


def test_local_path_downloads_once(download_cache: Path) -> None:
    store = memory_store()
    stored = store.put_value("dir/v", {"k": "v"})
    path = store.local_path(stored)
    assert Path(path).is_relative_to(download_cache)
    assert Path(path).name == "v.json"
    assert Path(path).read_bytes() == store.read_bytes(stored.uri)
    store.remove("dir/v.json")  # a second call must not need the store
    assert store.local_path(stored) == path
    assert tmp_names(download_cache) == []


def test_local_path_refuses_changed_content() -> None:
    store = memory_store()
    stored = store.put_value("v", 1)
    store.write_bytes("v.json", b"2")
    with pytest.raises(StorageError, match="is not what was stored"):
        store.local_path(stored)


# -- names -------------------------------------------------------------------------------


def test_slug_keeps_safe_names() -> None:
    assert slug("train_model-2.v1") == "train_model-2.v1"


@pytest.mark.parametrize("name", ["a b", "a/b", "..", ".hidden", "", "ü", "x" * 300])
def test_slug_makes_one_safe_segment(name: str) -> None:
    segment = slug(name)
    assert segment and "/" not in segment and not segment.startswith(".")
    assert len(segment) <= 100


def test_slug_never_merges_two_names() -> None:
    names = ["a b", "a_b", "a/b", "a  b", "A b"]
    assert len({slug(n) for n in names}) == len(names)
