"""How values become bytes in the store.

A serializer is picked per value: among the registered ones (built-ins and
plugins, see the `pipec_serializers` hook) the highest-priority one whose
`accepts` is true writes it, and its name is recorded in the `StoredValue` so
any process can read the value back. The built-ins prefer open formats (JSON,
.npy, Parquet) and fall back to cloudpickle for everything else.

The built-ins stream: they write into the store's file object and read from a
buffer of the value's bytes (which the store has already checked against their hash),
so a large array is never held twice. numpy, pandas and pyarrow are optional: they are
imported only when a value of theirs is stored or read.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
from typing import Any, BinaryIO, Protocol, runtime_checkable

import cloudpickle

from pipec.contract import Serializer, Unsupported
from pipec.hookspecs import hookimpl
from pipec.ir import is_exact_json


class SerializationError(TypeError):
    """A value cannot be written or read back (the message names its type and why)."""


@runtime_checkable
class Streaming(Protocol):
    """A serializer that writes into a file and reads from a buffer, besides the
    `dumps` / `loads` of the contract (which plugins may implement alone)."""

    def dump(self, obj: Any, file: BinaryIO) -> None: ...

    def load(self, buffer: bytearray | memoryview) -> Any:
        """`buffer` is writable and the value may keep it (a mapped file)."""
        ...


def type_name(obj: Any) -> str:
    """`module.QualName` of the value's type, as recorded in `StoredValue.type_name`."""
    tp = type(obj)
    return f"{tp.__module__}.{tp.__qualname__}"


class JsonSerializer:
    """Exact JSON values, as canonical bytes: equal values give equal bytes (and hashes)."""

    name = "json"
    extension = ".json"
    priority = 30

    def accepts(self, obj: Any) -> bool:
        try:
            return is_exact_json(obj)
        except RecursionError:  # a cycle or absurd nesting: leave it to pickle
            return False

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        file.write(self.dumps(obj))

    def load(self, buffer: bytearray | memoryview) -> Any:
        return json.loads(bytes(buffer))


_CHUNK = 16 << 20
"""Bytes per write of a large value: the hash and the disk see it in pieces this size."""


class NumpySerializer:
    """Plain numpy arrays as .npy (no pickled objects inside)."""

    name = "numpy"
    extension = ".npy"
    priority = 20

    def accepts(self, obj: Any) -> bool:
        if type(obj).__module__ != "numpy":  # keeps numpy unimported for other values
            return False
        import numpy as np

        return type(obj) is np.ndarray and not obj.dtype.hasobject

    def dumps(self, obj: Any) -> bytes:
        buffer = io.BytesIO()
        self.dump(obj, buffer)
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        return self.load(bytearray(data))

    def dump(self, obj: Any, file: BinaryIO) -> None:
        import numpy as np

        if not obj.flags.c_contiguous:  # one layout per value, so equal arrays hash equal
            obj = obj.copy(order="C")
        header = io.BytesIO()
        fields = np.lib.format.header_data_from_array_1_0(obj)
        try:
            np.lib.format.write_array_header_1_0(header, fields)
        except ValueError:  # a header too large for version 1.0, as np.save decides
            header = io.BytesIO()
            np.lib.format.write_array_header_2_0(header, fields)
        file.write(header.getvalue())
        data = memoryview(obj.reshape(-1).view(np.uint8))  # the array's own bytes, no copy
        for start in range(0, len(data), _CHUNK):
            file.write(data[start : start + _CHUNK])

    def load(self, buffer: bytearray | memoryview) -> Any:
        """The array on `buffer` itself, no copy: on a mapped file, its pages are the
        array's memory."""
        import numpy as np

        fmt = np.lib.format
        head = io.BytesIO(bytes(memoryview(buffer)[: 1 << 20]))
        version = fmt.read_magic(head)
        if version not in ((1, 0), (2, 0)):  # utf-8 field names: numpy's own reader
            return np.load(io.BytesIO(buffer), allow_pickle=False)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(head)
        if dtype.hasobject:
            raise ValueError("the .npy holds Python objects, which are never unpickled")
        order = "F" if fortran else "C"
        return np.ndarray(shape, dtype, buffer=buffer, offset=head.tell(), order=order)


class PandasSerializer:
    """DataFrames as Parquet, when pyarrow is installed and Parquet keeps the frame exactly.

    Parquet loses some things (mixed object columns, second datetime units, an index's
    freq...). Whether it keeps a frame is decided before writing, without a second copy
    of it: the frame's first row goes through Parquet and back, which shows every column's
    dtype, categories, the index and the column names as they would come back; and each
    object column must hold only strings or only bytes (and None), since other objects
    change type on the way. Refused frames are pickled instead.
    """

    name = "pandas"
    extension = ".parquet"
    priority = 20

    def accepts(self, obj: Any) -> bool:
        if not type(obj).__module__.startswith("pandas"):
            return False
        import pandas as pd

        return type(obj) is pd.DataFrame and importlib.util.find_spec("pyarrow") is not None

    def dumps(self, obj: Any) -> bytes:
        buffer = io.BytesIO()
        self.dump(obj, buffer)
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        return self.load(bytearray(data))

    def dump(self, obj: Any, file: BinaryIO) -> None:
        try:
            _check_parquet_keeps(obj)
        except Exception as exc:
            raise Unsupported(f"Parquet does not keep this DataFrame exactly: {exc}") from exc
        obj.to_parquet(file, engine="pyarrow")

    def load(self, buffer: bytearray | memoryview) -> Any:
        import pandas as pd
        import pyarrow as pa

        return pd.read_parquet(pa.BufferReader(pa.py_buffer(buffer)), engine="pyarrow")


def _check_parquet_keeps(frame: Any) -> None:
    """Raise unless Parquet gives `frame` back exactly (see `PandasSerializer`)."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import infer_dtype

    sample = frame.iloc[:1]
    buffer = io.BytesIO()
    sample.to_parquet(buffer, engine="pyarrow")
    back = pd.read_parquet(io.BytesIO(buffer.getvalue()), engine="pyarrow")
    pd.testing.assert_frame_equal(sample, back, check_exact=True, check_freq=True)
    for position, dtype in enumerate(frame.dtypes):
        if not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
            continue
        values = frame.iloc[:, position].to_numpy()
        kind = infer_dtype(values, skipna=True)
        if kind not in ("string", "bytes", "empty"):
            raise ValueError(f"column {frame.columns[position]!r} holds {kind} objects")
        if pd.isna(values).sum() != np.equal(values, None).sum():
            raise ValueError(f"column {frame.columns[position]!r} has NaN among its strings")


_PICKLING_ERRORS = (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError)


class CloudpickleSerializer:
    """Anything picklable: the fallback for every value no other serializer takes."""

    name = "cloudpickle"
    extension = ".pkl"
    priority = 0

    def accepts(self, obj: Any) -> bool:
        return True

    def dumps(self, obj: Any) -> bytes:
        try:
            return cloudpickle.dumps(obj)
        except Exception as exc:
            raise SerializationError(f"cannot pickle a {type_name(obj)}: {exc}") from exc

    def loads(self, data: bytes) -> Any:
        return cloudpickle.loads(data)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        try:
            cloudpickle.dump(obj, file)
        except _PICKLING_ERRORS as exc:  # the file's own errors (a full disk) pass through
            raise SerializationError(f"cannot pickle a {type_name(obj)}: {exc}") from exc

    def load(self, buffer: bytearray | memoryview) -> Any:
        return cloudpickle.loads(buffer)


JSON = JsonSerializer()
NUMPY = NumpySerializer()
PANDAS = PandasSerializer()
CLOUDPICKLE = CloudpickleSerializer()


@hookimpl
def pipec_serializers() -> list[Serializer]:
    return [JSON, NUMPY, PANDAS, CLOUDPICKLE]
