"""Removing runs from a store, with the cache entries and values only they hold.

Values are shared: a run that hit the cache points at the values of the run that filled
it, and a cache entry points at its run's values. So a run goes, its folder's files go,
except those that a kept run or a kept cache entry still points at; a cache entry goes
when the runs pointing at it all go. Leftover temporary files (of writes that died) go
once they are older than any write could take. Files outside the run folders (the
model registry's, `pipec.registry`) belong to the registry, never to a run.

Internal: `pipec runs rm` and `pipec gc` are the interface.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from pipec import cache
from pipec.records import CacheEntry, Report, RunRecord, StepRecord, StoredValue
from pipec.runtime.runstore import RunFiles, find_run, list_runs, parse_step_id
from pipec.store import Store, slug

TEMPORARY_AGE = 24 * 3600.0
"""A `.tmp-*` file this old (seconds) is a leftover: no write in progress takes that long."""

_TMP_PREFIX = ".tmp-"


@dataclass
class Removal:
    """What removing some runs takes away, and what it keeps because others use it."""

    runs: list[RunRecord] = field(default_factory=list)
    entries: list[CacheEntry] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """Files to remove, relative to the store."""
    kept: list[str] = field(default_factory=list)
    """Files of removed runs that a kept run or cache entry still points at."""
    folders: list[str] = field(default_factory=list)
    """Run folders that nothing kept points into: removed whole."""


def removal(
    store: Store, run_ids: Iterable[str], *, now: float | None = None, temporary: bool = False
) -> Removal:
    """What removing these runs (and, with `temporary`, leftover temporary files) removes."""
    runs = {(r.pipeline, r.run_id): r for r in list_runs(store)}
    chosen = set(run_ids)
    gone = {key: r for key, r in runs.items() if r.run_id in chosen}
    roots = {RunFiles(p, run_id).root for p, run_id in gone}
    kept_refs: set[str] = set()
    gone_refs: set[str] = set()
    for key, record in runs.items():
        refs = gone_refs if key in gone else kept_refs
        refs.update(_uris(store, [record, *_steps(store, record)]))
    plan = Removal(runs=sorted(gone.values(), key=lambda r: r.started))
    for entry in cache.entries(store):
        refs = set(_uris(store, [entry]))
        creator = parse_step_id(entry.step_id)
        made_by_gone = any(slug(p) == creator[0] and r == creator[1] for p, r in gone)
        if (made_by_gone or refs & gone_refs) and not refs & kept_refs:
            plan.entries.append(entry)
        else:
            kept_refs.update(refs)
    for root in sorted(roots):
        files = store.walk(root)
        kept = sorted(f for f in files if f in kept_refs)
        plan.kept.extend(kept)
        if kept:
            plan.files.extend(sorted(f for f in files if f not in kept_refs))
        else:
            plan.folders.append(root)
    # values of removed runs kept earlier in a folder whose run is gone (see `kept`); what
    # the runs point at outside run folders (a registered model's weights), or in the
    # folder of a run still recorded, is not theirs
    leftovers = {
        r
        for r in gone_refs - kept_refs
        if r.startswith("runs/")
        and _run_root(r) not in roots
        and not store.exists(f"{_run_root(r)}/run.json")
    }
    plan.files.extend(sorted(r for r in leftovers if store.exists(r)))
    if temporary:
        plan.files.extend(leftover_temporary(store, now=now))
    return plan


def remove(store: Store, plan: Removal) -> None:
    """Carry a removal out: cache entries first, so no entry ever points at a removed value;
    a run folder left with no file goes too (local stores keep empty folders)."""
    for entry in plan.entries:
        cache.forget(store, entry.key)
    for folder in plan.folders:
        store.remove(folder)
    for path in plan.files:
        store.remove(path)
    emptied = {_run_root(p) for p in plan.files if p.startswith("runs/")}
    for root in sorted(emptied):
        if not store.walk(root):
            store.remove(root)


def old_runs(
    store: Store, *, older_than: float, keep_last: int = 0, now: float | None = None
) -> list[RunRecord]:
    """Runs that ended more than `older_than` seconds ago, except each pipeline's newest
    `keep_last`; a run still running is never chosen."""
    now = time.time() if now is None else now
    newest: dict[str, int] = {}
    chosen = []
    for record in list_runs(store):  # newest first
        rank = newest[record.pipeline] = newest.get(record.pipeline, 0) + 1
        if rank <= keep_last or record.status == "running" or record.ended is None:
            continue
        if now - record.ended >= older_than:
            chosen.append(record)
    return chosen


def leftover_temporary(store: Store, *, now: float | None = None) -> list[str]:
    """Temporary files older than `TEMPORARY_AGE`, anywhere in the store."""
    now = time.time() if now is None else now
    return sorted(
        path
        for path, modified in store.walk().items()
        if path.rsplit("/", 1)[-1].startswith(_TMP_PREFIX) and now - modified >= TEMPORARY_AGE
    )


def _run_root(path: str) -> str:
    """`runs/<pipeline>/<run_id>` of a path inside a run's folder."""
    return "/".join(path.split("/")[:3])


def _steps(store: Store, record: RunRecord) -> list[StepRecord]:
    found = find_run(store, record.run_id)
    return found[1] if found is not None else []


def _uris(store: Store, models: Iterable[BaseModel]) -> Iterator[str]:
    """Every store file a record points at (values, report files), relative to the store."""
    for model in models:
        for value in _walk(model):
            uri = value.uri if isinstance(value, (StoredValue, Report)) else None
            rel = store.relative(uri) if uri else None
            if rel is not None:
                yield rel


def _walk(obj: object) -> Iterator[object]:
    """`obj` and every record inside it, however deeply (new fields are covered too)."""
    if isinstance(obj, BaseModel):
        yield obj
        for name in type(obj).model_fields:
            yield from _walk(getattr(obj, name))
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _walk(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _walk(value)
