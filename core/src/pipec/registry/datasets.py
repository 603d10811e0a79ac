"""ClearML datasets in the artifact store: files by content, one manifest per version.

Layout (relative to the store, or to a version's `output_url` for its files):

    datasets/blobs/<sha[:2]>/<sha256>                   a file's bytes, stored once
    datasets/versions/<project>/<name>/<version>.json   a finalized version's Manifest
    datasets/ids/<id>.json                              where the version with that id is
    datasets/published/<id>                             the version was published

A version becomes visible when its manifest appears, and the manifest is written
last, whole, and only if no manifest of that version exists (`Store.create_bytes`):
files uploaded by a process that dies before it are in no version, and of two
processes finalizing the same version at once one gets it and the other moves on to
the next free version. Nothing rewrites a manifest, so a finalized version cannot
change. Nothing here needs a lock or a server: any machine sharing the store sees
the same versions.

Internal: pipeline code uses `pipec.api.dataset.Dataset` (ClearML's `Dataset`).
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fsspec
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from pipec.records import DatasetUse, StoredValue
from pipec.store import ContentChanged, Store, slug
from pipec.store.downloads import cache_dir

ROOT = "datasets"
DEFAULT_VERSION = "1.0.0"
"""A dataset's first version when none is given, as in ClearML."""


class DatasetError(ValueError):
    """A dataset cannot be found, or an operation does not apply to its state.

    A ValueError, as ClearML raises for the same cases, so code that catches them
    keeps working."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Entry):
    """One file of a version (ClearML's `FileEntry`): where it is in the dataset, its
    content, and the version that added this content."""

    relative_path: str
    hash: str
    size: int
    parent_dataset_id: str
    store: str | None = None
    """The store holding its bytes when it is not the registry's (`upload(output_url=)`)."""
    local_path: str | None = Field(default=None, exclude=True)
    """Where the file is on this machine until `upload()` stores it (never in a manifest)."""


class LinkEntry(_Entry):
    """A file kept where it is (`add_external_files`): fetched by its URL on `get_local_copy`."""

    relative_path: str
    link: str
    size: int | None = None
    hash: str | None = None
    parent_dataset_id: str


class Manifest(_Entry):
    """One finalized version: everything it holds, its parents' files merged in."""

    id: str
    project: str
    name: str
    version: str
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    created: float
    files: dict[str, FileEntry] = Field(default_factory=dict)
    links: dict[str, LinkEntry] = Field(default_factory=dict)
    dependency_graph: dict[str, list[str]] = Field(default_factory=dict)
    """Each version's direct parents, this one's and its ancestors' (ClearML's DAG)."""
    metadata: dict[str, StoredValue] = Field(default_factory=dict)
    created_by: str | None = None
    """The id of the pipeline step that finalized it (`Task.get_task(task_id=...)`)."""

    @property
    def parents(self) -> list[str]:
        return self.dependency_graph.get(self.id, [])

    def use(self, kind: str, query: dict[str, JsonValue] | None = None) -> DatasetUse:
        return DatasetUse(
            id=self.id,
            project=self.project,
            name=self.name,
            version=self.version,
            use=kind,  # type: ignore[arg-type]
            query=query,
        )


class _Pointer(_Entry):
    path: str


# ------------------------------------------------------------------ versions


def parse_version(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def next_version(version: str) -> str | None:
    """The version after `version`, as ClearML counts: the last number of its dev, else
    post, else pre-release, else release part goes up by one (`1.0.0` -> `1.0.1`,
    `2.0rc1` -> `2.0rc2`). None when it is not a PEP 440 version."""
    parsed = parse_version(version)
    if parsed is None:
        return None
    release, pre, post, dev = list(parsed.release), parsed.pre, parsed.post, parsed.dev
    if dev is not None:
        dev += 1
    elif post is not None:
        post += 1
    elif pre is not None:
        pre = (pre[0], pre[1] + 1)
    else:
        release[-1] += 1
    text = (f"{parsed.epoch}!" if parsed.epoch else "") + ".".join(map(str, release))
    text += f"{pre[0]}{pre[1]}" if pre else ""
    text += f".post{post}" if post is not None else ""
    text += f".dev{dev}" if dev is not None else ""
    return text + (f"+{parsed.local}" if parsed.local else "")


def latest(manifests: Iterable[Manifest]) -> Manifest | None:
    """ClearML's pick among versions: the highest PEP 440 version; when none parses,
    the newest."""
    best: Manifest | None = None
    for manifest in sorted(manifests, key=lambda m: m.created, reverse=True):
        if best is None:
            best = manifest
            continue
        mine, theirs = parse_version(manifest.version), parse_version(best.version)
        if mine is not None and (theirs is None or theirs < mine):
            best = manifest
    return best


# ------------------------------------------------------------------ reading


def _version_path(project: str, name: str, version: str) -> str:
    return f"{ROOT}/versions/{slug(project)}/{slug(name)}/{slug(version)}.json"


def _id_path(dataset_id: str) -> str:
    return f"{ROOT}/ids/{slug(dataset_id)}.json"


def blob_path(digest: str) -> str:
    return f"{ROOT}/blobs/{digest[:2]}/{digest}"


def versions(store: Store, project: str, name: str) -> list[Manifest]:
    """Every finalized version of one dataset."""
    folder = f"{ROOT}/versions/{slug(project)}/{slug(name)}"
    found = [
        store.read_model(f"{folder}/{entry}", Manifest)
        for entry in store.listdir(folder)
        if entry.endswith(".json")
    ]
    return [m for m in found if m.project == project and m.name == name]


def every(store: Store) -> Iterator[Manifest]:
    """Every finalized version in the store."""
    top = f"{ROOT}/versions"
    for project in store.listdir(top):
        for name in store.listdir(f"{top}/{project}"):
            for entry in store.listdir(f"{top}/{project}/{name}"):
                if entry.endswith(".json"):
                    yield store.read_model(f"{top}/{project}/{name}/{entry}", Manifest)


def find(store: Store, dataset_id: str) -> Manifest | None:
    """The version with this id, if it is finalized (and not deleted)."""
    pointer = _id_path(dataset_id)
    if store.exists(pointer):
        path = store.read_model(pointer, _Pointer).path
        if store.exists(path):
            return store.read_model(path, Manifest)
    # the pointer is written just after the manifest: a process may have died between
    return next((m for m in every(store) if m.id == dataset_id), None)


def is_published(store: Store, dataset_id: str) -> bool:
    return store.exists(f"{ROOT}/published/{slug(dataset_id)}")


def select(
    store: Store,
    project: str | None,
    name: str | None,
    *,
    version: str | None = None,
    tags: Sequence[str] | None = None,
    only_published: bool = False,
) -> Manifest | None:
    """The version `Dataset.get` returns for these arguments: of that version if given,
    else the latest (`latest`); with every tag in `tags`; published if asked."""
    if project is not None and name is not None:
        candidates = versions(store, project, name)
    else:
        candidates = [
            m for m in every(store) if project in (None, m.project) and name in (None, m.name)
        ]
    if version is not None:
        candidates = [m for m in candidates if m.version == str(version)]
    if tags:
        candidates = [m for m in candidates if set(tags) <= set(m.tags)]
    if only_published:
        candidates = [m for m in candidates if is_published(store, m.id)]
    return latest(candidates)


def missing(
    store: Store, project: str | None, name: str | None, query: dict[str, JsonValue]
) -> str:
    """Why `select` found nothing: what was asked for, and the closest datasets the store
    has (a misspelt name is the usual reason)."""
    asked = f"project {project!r}, name {name!r}"
    if query.get("version"):
        asked += f", version {query['version']!r}"
    if query.get("tags"):
        asked += f", tags {query['tags']}"
    if query.get("only_published"):
        asked += ", published"
    have = sorted({f"{m.project}/{m.name}" for m in every(store)})
    close = difflib.get_close_matches(f"{project}/{name}", have, n=3, cutoff=0.4)
    hint = f"; closest: {', '.join(close)}" if close else ""
    if not have:
        hint = "; the store has no datasets"
    return f"Could not find Dataset ({asked}) in storage {store.url}{hint}"


def unchanged(store: Store, uses: Iterable[DatasetUse]) -> bool:
    """Whether every dataset version a cached step created or read is still the one it
    would get: a read by project and name must find the same version again."""
    for use in uses:
        if use.query is None:
            if find(store, use.id) is None:
                return False
            continue
        query = use.query
        found = select(
            store,
            query.get("project"),  # type: ignore[arg-type]
            query.get("name"),  # type: ignore[arg-type]
            version=query.get("version"),  # type: ignore[arg-type]
            tags=query.get("tags"),  # type: ignore[arg-type]
            only_published=bool(query.get("only_published")),
        )
        if found is None or found.id != use.id:
            return False
    return True


# ------------------------------------------------------------------ writing


def _workers(max_workers: int | None) -> int:
    return max_workers or min(16, 4 * (os.cpu_count() or 1))


def upload(
    store: Store,
    entries: Iterable[FileEntry],
    *,
    elsewhere: bool = False,
    max_workers: int | None = None,
) -> list[FileEntry]:
    """Store the bytes of the entries that wait for upload (a `local_path`), each once
    by content: a file already in the store is not sent again. Returns the entries as
    stored: no `local_path`, and `store` naming `store` when it is `elsewhere` than the
    registry's own."""
    pending = [entry for entry in entries if entry.local_path is not None]
    where = store.url if elsewhere else None

    def put(entry: FileEntry) -> FileEntry:
        assert entry.local_path is not None
        rel = blob_path(entry.hash)
        if not store.exists(rel):
            try:
                store.copy_in(rel, entry.local_path, entry.hash)
            except ContentChanged:
                raise DatasetError(
                    f"{entry.local_path} changed after add_files hashed it: add it again "
                    f"(dataset path {entry.relative_path!r})"
                ) from None
        return entry.model_copy(update={"local_path": None, "store": where})

    with ThreadPoolExecutor(_workers(max_workers)) as pool:
        return list(pool.map(put, pending))


def commit(store: Store, manifest: Manifest, *, auto_version: bool) -> Manifest:
    """Make a version visible: its manifest, written once. When its version is taken,
    an automatic version moves on to the next free one; a version the user gave is an
    error."""
    while True:
        path = _version_path(manifest.project, manifest.name, manifest.version)
        if store.create_bytes(path, manifest.model_dump_json(exclude_none=True).encode()):
            store.write_model(_id_path(manifest.id), _Pointer(path=path))
            return manifest
        if not auto_version:
            raise DatasetError(
                f"dataset {manifest.project}/{manifest.name} already has a version "
                f"{manifest.version!r}: give another dataset_version, or none to take the next"
            )
        taken = [parse_version(m.version) for m in versions(store, manifest.project, manifest.name)]
        newest = max([v for v in taken if v is not None], default=None)
        base = manifest.version
        if newest is not None and (parse_version(base) or newest) < newest:
            base = str(newest)
        manifest = manifest.model_copy(update={"version": next_version(base) or DEFAULT_VERSION})


def publish(store: Store, dataset_id: str) -> None:
    store.create_bytes(f"{ROOT}/published/{slug(dataset_id)}", b"")


def children(store: Store, dataset_id: str) -> list[Manifest]:
    """Versions that have this one among their parents."""
    return [m for m in every(store) if m.id != dataset_id and dataset_id in m.parents]


def remove(store: Store, manifest: Manifest, *, files: bool = True) -> None:
    """Forget a version (its manifest first: it is gone at once), and with `files` the
    files no other version holds and its metadata."""
    store.remove(_version_path(manifest.project, manifest.name, manifest.version))
    store.remove(_id_path(manifest.id))
    store.remove(f"{ROOT}/published/{slug(manifest.id)}")
    if not files:
        return
    still_used = {entry.hash for other in every(store) for entry in other.files.values()}
    for entry in manifest.files.values():
        if entry.store is None and entry.hash not in still_used:
            store.remove(blob_path(entry.hash))
    for stored in manifest.metadata.values():
        store.remove(stored.uri)


# ------------------------------------------------------------------ local copies


def local_copy(
    store: Store,
    manifest: Manifest,
    paths: Sequence[str] | None = None,
    max_workers: int | None = None,
    suffix: str = "",
) -> str:
    """A read-only folder with the version's files (`paths` only, when given), made once
    per version on this machine: built in a temporary folder renamed when complete, so
    a folder that is there is whole."""
    target = cache_dir() / ROOT / (slug(manifest.id) + suffix)
    if target.is_dir():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    wanted = set(manifest.files) | set(manifest.links) if paths is None else set(paths)
    try:
        jobs = [(scratch / rel, entry) for rel, entry in manifest.files.items() if rel in wanted]
        links = [(scratch / rel, entry) for rel, entry in manifest.links.items() if rel in wanted]
        for where, _ in [*jobs, *links]:
            where.parent.mkdir(parents=True, exist_ok=True)

        def fetch_file(job: tuple[Path, FileEntry]) -> None:
            where, entry = job
            source = store if entry.store is None else Store(entry.store)
            source.copy_out(blob_path(entry.hash), str(where))
            os.chmod(where, 0o444)

        def fetch_link(job: tuple[Path, LinkEntry]) -> None:
            where, entry = job
            with fsspec.open(entry.link, "rb") as src, open(where, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.chmod(where, 0o444)

        with ThreadPoolExecutor(_workers(max_workers)) as pool:
            list(pool.map(fetch_file, jobs))
            list(pool.map(fetch_link, links))
        try:
            os.rename(scratch, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # read-only files go with their folder
    return str(target)
