"""The step cache: finished steps found again by a key made of what determines them.

The key hashes the step's normalised code (helpers included), the pipeline
version and the *content* hashes of its inputs, never their run-scoped URIs,
so a cache filled by one run, on any target, is hit by the next one that shares
the store. Entries live in the store under `cache/`.

An entry is trusted no further than the store: one that cannot be read, names another
key, or points at a value whose bytes are not those it was written with (or outside the
store) is a miss, and the step runs again and writes a good entry in its place.

Runs that miss the same key at once compute it once: the first takes a lease on the key
(`cache/<key[:2]>/<key>.lease`, created exclusively, renewed while the step runs); the
others wait for its entry (`wait`), or run anyway when the lease expires (its holder was
killed or lost), is released with no entry (the step failed) or the wait is over.

Internal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

from pipec.errors import UsageError
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


# ---------------------------------------------------------------- leases: same work once

LEASE_ENV = "PIPEC_CACHE_LEASE"
LEASE_SECONDS = 30.0
"""How long a lease lives unless renewed (it is renewed every third of that): how soon a
killed holder stops blocking others."""

WAIT_ENV = "PIPEC_CACHE_WAIT"
WAIT_SECONDS = 300.0
"""How long a step waits for another run's live lease on its key before it runs anyway."""

POLL_SECONDS = 0.25


def _seconds(env: str, default: float) -> float:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise UsageError(f"{env}={text!r}: give a number of seconds")
    return value


def _lease_path(key: str) -> str:
    return f"cache/{key[:2]}/{key}.lease"


class Lease:
    """This process's claim on computing `key`, renewed by a thread until released."""

    def __init__(self, store: Store, key: str) -> None:
        self.store, self.key = store, key
        self.holder = uuid.uuid4().hex
        self.seconds = _seconds(LEASE_ENV, LEASE_SECONDS)
        self._released = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="pipec-lease", daemon=True)

    def body(self) -> bytes:
        expires = time.time() + self.seconds
        return json.dumps({"holder": self.holder, "pid": os.getpid(), "expires": expires}).encode()

    def _renew(self) -> None:
        while not self._released.wait(max(self.seconds / 3, POLL_SECONDS)):
            held = _holder(self.store, self.key)
            if held is None or held[0] != self.holder:
                return  # expired and taken over: the other run computes it too
            try:
                self.store.write_bytes(_lease_path(self.key), self.body())
            except (OSError, StorageError):
                continue  # the store is out of reach for now; the next renewal retries

    def release(self) -> None:
        """Give the key up (with or without an entry written): waiters stop waiting."""
        self._released.set()
        self._renewer.join()
        held = _holder(self.store, self.key)
        if held is not None and held[0] == self.holder:
            self.store.remove(_lease_path(self.key))


def _holder(store: Store, key: str) -> tuple[str, float] | None:
    """Who holds the lease on `key` and until when; None when there is none. A lease that
    cannot be read counts as expired, so a garbage file blocks no one."""
    try:
        raw = json.loads(store.read_bytes(_lease_path(key)))
        return str(raw["holder"]), float(raw["expires"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, StorageError):
        return "", 0.0


def claim(store: Store, key: str) -> Lease | None:
    """The lease on `key`, or None while another holder's lease is live. An expired one is
    broken first."""
    lease = Lease(store, key)
    for _ in range(2):
        if store.create_bytes(_lease_path(key), lease.body()):
            lease._renewer.start()
            return lease
        held = _holder(store, key)
        if held is not None and held[1] > time.time():
            return None
        if held is not None:
            store.remove(_lease_path(key))  # its holder stopped renewing it
    return None


def wait(
    store: Store, key: str, found: Callable[[], CacheEntry | None]
) -> CacheEntry | Lease | None:
    """Before a step runs for a missed `key`: the entry another run wrote meanwhile
    (`found` looks it up), else this run's lease on the key, or None when another run's
    lease outlived `$PIPEC_CACHE_WAIT` (the step then runs without one)."""
    deadline = time.monotonic() + _seconds(WAIT_ENV, WAIT_SECONDS)
    while True:
        lease = claim(store, key)
        entry = found()
        if entry is not None:
            if lease is not None:
                lease.release()
            return entry
        if lease is not None or time.monotonic() >= deadline:
            return lease
        time.sleep(POLL_SECONDS)
