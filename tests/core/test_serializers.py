"""The built-in serializers and how plugins add their own."""

from __future__ import annotations

import collections
import enum
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pipec import plugins
from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.store import Store
from pipec.store.serializers import (
    CLOUDPICKLE,
    JSON,
    NUMPY,
    PANDAS,
    SerializationError,
    Unsupported,
)


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(f"memory://test-serializers-{uuid.uuid4().hex}")
    yield store
    store.remove("")


class Colour(enum.IntEnum):
    RED = 1


def _cycle() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(2**70), 1.5, -0.0, "é ✓", [], {}, {"a": [1, {"b": None}], "c": "d"}],
)
def test_json_takes_exact_json_values(value: Any) -> None:
    assert JSON.accepts(value)
    assert JSON.loads(JSON.dumps(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        (1, 2),
        [1, (2, 3)],
        {1: "int key"},
        {"a": {1, 2}},
        float("nan"),
        [float("inf")],
        Colour.RED,
        collections.OrderedDict(a=1),
        b"bytes",
        _cycle(),
    ],
    ids=repr,
)
def test_json_refuses_values_that_would_come_back_different(value: Any) -> None:
    assert not JSON.accepts(value)


def test_json_bytes_are_canonical() -> None:
    assert JSON.dumps({"b": 1, "a": [1, 2]}) == JSON.dumps({"a": [1, 2], "b": 1})
    assert JSON.dumps({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


def test_cloudpickle_takes_anything_picklable() -> None:
    square = CLOUDPICKLE.loads(CLOUDPICKLE.dumps(lambda x: x * x))
    assert square(3) == 9
    assert CLOUDPICKLE.loads(CLOUDPICKLE.dumps((1, {2, 3}))) == (1, {2, 3})


def test_cloudpickle_error_names_the_type_and_reason() -> None:
    with pytest.raises(SerializationError, match=r"builtins\.dict.*cannot pickle") as caught:
        CLOUDPICKLE.dumps({"lock": threading.Lock()})
    assert isinstance(caught.value, TypeError)


def test_optional_libraries_stay_unimported_for_other_values() -> None:
    code = (
        "import sys\n"
        "from pipec.store.serializers import NUMPY, PANDAS\n"
        "assert not NUMPY.accepts([1]) and not PANDAS.accepts({'a': 1})\n"
        "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_round_trip_keeps_dtype_and_shape() -> None:
    np = pytest.importorskip("numpy")
    for array in [np.arange(12, dtype="int16").reshape(3, 4), np.array(2.5), np.zeros((0, 3))]:
        assert NUMPY.accepts(array)
        back = NUMPY.loads(NUMPY.dumps(array))
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_numpy_equal_arrays_give_equal_bytes_whatever_the_layout() -> None:
    np = pytest.importorskip("numpy")
    c_order = np.arange(6.0).reshape(2, 3)
    assert NUMPY.dumps(c_order) == NUMPY.dumps(np.asfortranarray(c_order))


def test_numpy_leaves_objects_scalars_and_subclasses_to_others() -> None:
    np = pytest.importorskip("numpy")
    assert not NUMPY.accepts(np.array([{}, 1], dtype=object))
    assert not NUMPY.accepts(np.float64(1.0))
    assert not NUMPY.accepts(np.ma.masked_array([1, 2], mask=[0, 1]))
    assert not JSON.accepts(np.float64(1.0))  # a float subclass is not exact JSON


def test_pandas_round_trip_keeps_index_and_dtypes() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, None, 2.0],
            "c": pd.Categorical(["a", "b", "a"]),
            "t": pd.date_range("2024-01-01", periods=3, tz="UTC"),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    assert PANDAS.accepts(frame)
    pd.testing.assert_frame_equal(PANDAS.loads(PANDAS.dumps(frame)), frame, check_exact=True)
    assert PANDAS.dumps(frame) == PANDAS.dumps(frame.copy())


def test_pandas_refuses_frames_parquet_would_change() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    mixed = pd.DataFrame({"a": pd.Series(["x", 1], dtype=object)})
    with_freq = pd.DataFrame({"a": [1, 2]}, index=pd.date_range("2024", periods=2, freq="D"))
    for frame in (mixed, with_freq):
        with pytest.raises(Unsupported):
            PANDAS.dumps(frame)


def test_frames_parquet_cannot_keep_fall_back_to_cloudpickle(store: Store) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.date_range("2024", periods=2, freq="D"))
    stored = store.put_value("frame", frame)
    assert stored.serializer == "cloudpickle"
    back = store.get_value(stored)
    pd.testing.assert_frame_equal(back, frame, check_freq=True)


def test_pandas_series_is_not_a_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    assert not PANDAS.accepts(pd.Series([1, 2]))


def test_builtins_are_registered_highest_priority_first() -> None:
    found = plugins.serializers()
    names = [s.name for s in found]
    assert {"json", "numpy", "pandas", "cloudpickle"} <= set(names)
    assert names[-1] == "cloudpickle"
    priorities = [s.priority for s in found]
    assert priorities == sorted(priorities, reverse=True)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class PointSerializer:
    name = "point"
    extension = ".point"
    priority = 50

    def accepts(self, obj: Any) -> bool:
        return isinstance(obj, Point)

    def dumps(self, obj: Any) -> bytes:
        return json.dumps([obj.x, obj.y]).encode()

    def loads(self, data: bytes) -> Any:
        return Point(*json.loads(data))


class PointPlugin:
    def __init__(self, *serializers: Any) -> None:
        self.serializers = list(serializers)

    @hookimpl
    def pipec_serializers(self) -> list[Any]:
        return self.serializers


@pytest.fixture
def register() -> Iterator[Any]:
    pm = plugins.plugin_manager()
    registered: list[Any] = []

    def add(plugin: Any) -> None:
        pm.register(plugin)
        registered.append(plugin)

    yield add
    for plugin in registered:
        pm.unregister(plugin)


def test_a_plugin_serializer_wins_for_its_type(store: Store, register: Any) -> None:
    register(PointPlugin(PointSerializer()))
    stored = store.put_value("p", Point(3, 4))
    assert stored.serializer == "point"
    assert stored.uri.endswith("/p.point")
    assert stored.type_name == f"{__name__}.Point"
    assert store.read_bytes(stored.uri) == b"[3, 4]"
    back = store.get_value(stored)
    assert (back.x, back.y) == (3, 4)
    assert store.put_value("other", {"a": 1}).serializer == "json"


def test_plugin_serializers_cannot_take_an_existing_name(register: Any) -> None:
    taken = PointSerializer()
    taken.name = "json"
    register(PointPlugin(taken))
    with pytest.raises(UsageError, match="'json'"):
        plugins.serializers()


def test_plugin_serializers_cannot_take_a_store_format_name(register: Any) -> None:
    reserved = PointSerializer()
    reserved.name = "file"
    register(PointPlugin(reserved))
    with pytest.raises(UsageError, match="reserved"):
        plugins.serializers()


def test_a_value_from_a_missing_plugin_names_its_serializer(store: Store, register: Any) -> None:
    plugin = PointPlugin(PointSerializer())
    register(plugin)
    stored = store.put_value("p", Point(1, 2))
    plugin.serializers.clear()  # as in a process without the plugin installed
    with pytest.raises(SerializationError, match=r"'point'.*plugin"):
        store.get_value(stored)
