"""The step cache: finished steps found again by a key made of what determines them.

The key hashes the step's normalised code (helpers included), the pipeline
version and the *content* hashes of its inputs, never their run-scoped URIs,
so a cache filled by one run, on any target, is hit by the next one that shares
the store. Entries live in the store under `cache/`.

An entry is trusted no further than the store: one that cannot be read, names another
key, or points at a value whose bytes are not those it was written with (or outside the
store) is a miss, and the step runs again and writes a good entry in its place.

Internal.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping

from pipec.ir import IR_VERSION, Pipeline, Step
from pipec.records import CacheEntry
from pipec.store import BadRecordError, Skipped, StorageError, Store

_KEY = re.compile(r"[0-9a-f]{64}")


def cache_key(pipeline: Pipeline, step: Step, input_hashes: Mapping[str, str]) -> str:
    """What determines a step's outputs (the README's "What the cache key holds")."""
    payload: dict[str, object] = {
        "ir": IR_VERSION,
        "kind": step.kind,
        "code": step.code.hash,
        "version": pipeline.version,
        "outputs": step.outputs,
        "inputs": dict(sorted(input_hashes.items())),
    }
    if step.code.modules:  # steps importing no project module keep the keys they had
        payload["modules"] = step.code.modules
    serialization = _serialization(pipeline)
    if serialization:  # the functions that wrote the outputs must be the ones to read them
        payload["serialization"] = serialization
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _serialization(pipeline: Pipeline) -> list[str]:
    """Hashes of the pipeline's `artifact_serialization_function` pair: of their source
    where it was found, else of the pickled functions."""
    policies = pipeline.policies
    specs = (policies.artifact_serialization_function, policies.artifact_deserialization_function)
    return [
        hashlib.sha256((spec.source or spec.pickled).encode()).hexdigest()
        for spec in specs
        if spec is not None
    ]


def _path(key: str) -> str:
    return f"cache/{key[:2]}/{key}.json"


def lookup(store: Store, key: str) -> CacheEntry | None:
    """The entry for `key` if every value it points at is in the store as it was written."""
    if not store.exists(_path(key)):
        return None
    try:
        entry = _read(store, _path(key))
        for value in [*entry.outputs.values(), *entry.artifacts.values(), *entry.models.values()]:
            store.verify(value)
    except StorageError:
        return None
    return entry


def _read(store: Store, path: str) -> CacheEntry:
    entry = store.read_model(path, CacheEntry)
    if path != _path(entry.key) or not _KEY.fullmatch(entry.key):
        raise BadRecordError(store.uri(path), f"it is the entry of another key ({entry.key!r})")
    return entry


def record(store: Store, entry: CacheEntry) -> None:
    """Write an entry; call only once every output of the step is stored."""
    store.write_model(_path(entry.key), entry)


def entries(store: Store, skipped: Skipped | None = None) -> Iterator[CacheEntry]:
    """Every readable entry; each one that is not is given to `skipped` (if any) instead."""
    for prefix in store.listdir("cache"):
        for name in store.listdir(f"cache/{prefix}"):
            if name.endswith(".json"):
                try:
                    yield _read(store, f"cache/{prefix}/{name}")
                except BadRecordError as exc:
                    if skipped is not None:
                        skipped(exc)


def forget(store: Store, key: str) -> None:
    """Remove one entry; the values it points at stay where they are."""
    store.remove(_path(key))


def clear(
    store: Store,
    *,
    pipeline: str | None = None,
    step: str | None = None,
    skipped: Skipped | None = None,
) -> int:
    """Forget entries (all, or those of one pipeline / step); returns how many. Only
    readable entries are removed: an unreadable one is given to `skipped`."""
    removed = 0
    for entry in list(entries(store, skipped)):
        if pipeline not in (None, entry.pipeline) or step not in (None, entry.step):
            continue
        store.remove(_path(entry.key))
        removed += 1
    return removed
