"""How values become bytes in the store.

A serializer is picked per value: among the registered ones (built-ins and
plugins, see the `pipec_serializers` hook) the highest-priority one whose
`accepts` is true writes it, and its name is recorded in the `StoredValue` so
any process can read the value back. The built-ins prefer open formats (JSON,
.npy, Parquet) and fall back to cloudpickle for everything else.

numpy, pandas and pyarrow are optional: they are imported only when a value of
theirs is stored or read.
"""

from __future__ import annotations

import importlib.util
import io
import json
from typing import Any

import cloudpickle

from pipec.contract import Serializer, Unsupported
from pipec.hookspecs import hookimpl
from pipec.ir import is_exact_json


class SerializationError(TypeError):
    """A value cannot be written or read back (the message names its type and why)."""


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
        import numpy as np

        if not obj.flags.c_contiguous:  # one layout per value, so equal arrays hash equal
            obj = obj.copy(order="C")
        buffer = io.BytesIO()
        np.save(buffer, obj, allow_pickle=False)
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)


class PandasSerializer:
    """DataFrames as Parquet, when pyarrow is installed and the frame survives the round trip.

    Parquet loses some things (mixed object columns, sub-ns datetime units, an
    index's freq...): such frames are refused after a trial read and pickled instead.
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
        from pandas.testing import assert_frame_equal

        buffer = io.BytesIO()
        try:
            obj.to_parquet(buffer, engine="pyarrow")
            data = buffer.getvalue()
            assert_frame_equal(obj, self.loads(data), check_exact=True, check_freq=True)
        except Exception as exc:
            raise Unsupported(f"Parquet does not keep this DataFrame exactly: {exc}") from exc
        return data

    def loads(self, data: bytes) -> Any:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


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


JSON = JsonSerializer()
NUMPY = NumpySerializer()
PANDAS = PandasSerializer()
CLOUDPICKLE = CloudpickleSerializer()


@hookimpl
def pipec_serializers() -> list[Serializer]:
    return [JSON, NUMPY, PANDAS, CLOUDPICKLE]
