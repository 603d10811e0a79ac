"""The step cache: finished steps found again by a key made of what determines them.

The key hashes the step's normalised code (helpers included), the pipeline
version and the *content* hashes of its inputs, never their run-scoped URIs,
so a cache filled by one run, on any target, is hit by the next one that shares
the store. Entries live in the store under `cache/`.

Internal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping

from pipec.ir import IR_VERSION, Pipeline, Step
from pipec.records import CacheEntry
from pipec.store import Store


def cache_key(pipeline: Pipeline, step: Step, input_hashes: Mapping[str, str]) -> str:
    payload = {
        "ir": IR_VERSION,
        "kind": step.kind,
        "code": step.code.hash,
        "version": pipeline.version,
        "outputs": step.outputs,
        "inputs": dict(sorted(input_hashes.items())),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _path(key: str) -> str:
    return f"cache/{key[:2]}/{key}.json"


def lookup(store: Store, key: str) -> CacheEntry | None:
    """The entry for `key` if every value it points at is still in the store."""
    if not store.exists(_path(key)):
        return None
    entry = store.read_model(_path(key), CacheEntry)
    stored = [*entry.outputs.values(), *entry.artifacts.values(), *entry.models.values()]
    if not all(store.exists(value.uri) for value in stored):
        return None
    return entry


def record(store: Store, entry: CacheEntry) -> None:
    """Write an entry; call only once every output of the step is stored."""
    store.write_model(_path(entry.key), entry)


def entries(store: Store) -> Iterator[CacheEntry]:
    for prefix in store.listdir("cache"):
        for name in store.listdir(f"cache/{prefix}"):
            if name.endswith(".json"):
                yield store.read_model(f"cache/{prefix}/{name}", CacheEntry)


def forget(store: Store, key: str) -> None:
    """Remove one entry; the values it points at stay where they are."""
    store.remove(_path(key))


def clear(store: Store, *, pipeline: str | None = None, step: str | None = None) -> int:
    """Forget entries (all, or those of one pipeline / step); returns how many."""
    removed = 0
    for entry in list(entries(store)):
        if pipeline not in (None, entry.pipeline) or step not in (None, entry.step):
            continue
        store.remove(_path(entry.key))
        removed += 1
    return removed
