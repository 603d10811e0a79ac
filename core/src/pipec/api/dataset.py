"""ClearML's `Dataset`, versioned in the artifact store instead of on a ClearML server.

Same names, parameters and defaults as `clearml.Dataset`. A dataset is made in one
process (`create`, `add_files`, `upload`, `finalize`) and becomes visible to every
other process and machine sharing the store when it is finalized; storage and
versions are `pipec.registry.datasets`. The store is the running step's (or
pipeline's) store, else `pipec run --storage`, else `$PIPEC_STORAGE`, else
`./.pipec/store`. In a pipeline step, the versions the step creates and reads are
kept in its record, and a cached step is reused only while a read by name still
finds the version it read.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import posixpath
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
from pydantic import JsonValue

from pipec.api.launch import active_request
from pipec.api.task import Task
from pipec.records import StoredValue
from pipec.registry import datasets as registry
from pipec.registry.datasets import DatasetError, FileEntry, LinkEntry, Manifest
from pipec.runtime import logic
from pipec.runtime.context import current_step
from pipec.store import Store, file_digest

__all__ = ["Dataset", "FileEntry", "LinkEntry"]

_log = logging.getLogger("pipec")

_DATA_PREFIX = "data_"
"""ClearML keeps a version's file chunks in artifacts of this prefix: no metadata name
may start with it."""


def _store() -> Store:
    """Where datasets are: the running step's or pipeline's store, else `pipec run
    --storage`, else `$PIPEC_STORAGE`, else `./.pipec/store`."""
    ctx = current_step()
    if ctx is not None:
        return ctx.run.store
    live = logic.active_run()
    if live is not None:
        return live.run.store
    request = active_request()
    return Store.resolve(request.options.storage if request else None)


def _matches(path: str, patterns: str | Sequence[str] | None, recursive: bool) -> bool:
    """ClearML's wildcard rule for dataset paths: recursive, `dir/*.csv` matches a
    `*.csv` file anywhere under a folder matching `dir/*`; not recursive, each path
    segment matches its pattern segment."""
    wanted = ["*"] if patterns is None else [patterns] if isinstance(patterns, str) else patterns
    for pattern in map(str, wanted):
        if recursive:
            leaf = pattern.split("/")[-1]
            folder = pattern[: len(pattern) - len(leaf)] + "*"
            if fnmatch.fnmatch(path, folder) and fnmatch.fnmatch("/" + path, "*/" + leaf):
                return True
        else:
            parts, pattern_parts = path.split("/"), pattern.split("/")
            if len(parts) == len(pattern_parts) and all(
                fnmatch.fnmatch(p, q) for p, q in zip(parts, pattern_parts, strict=True)
            ):
                return True
    return False


def _in_dataset(dataset_path: str | None, relative: str) -> str:
    return (Path(dataset_path.lstrip("/") if dataset_path else ".") / relative).as_posix()


class Dataset:
    """A dataset version: its files (and links), parents, tags and metadata.

    Made by `Dataset.create` (writable until `finalize()`) or found by `Dataset.get`
    (finalized, so read-only).
    """

    def __init__(
        self,
        manifest: Manifest,
        store: Store,
        *,
        final: bool,
        auto_version: bool = False,
        output_url: str | None = None,
    ) -> None:
        self._manifest = manifest
        self._store = store
        self._final = final
        self._auto_version = auto_version
        self._output_url = output_url
        self._dirty = False

    def __repr__(self) -> str:
        return f"<Dataset {self.project}/{self.name} {self.version} id={self.id}>"

    # ------------------------------------------------------------- what it is

    @property
    def id(self) -> str:
        return self._manifest.id

    @property
    def name(self) -> str:
        return self._manifest.name

    @property
    def project(self) -> str:
        return self._manifest.project

    @property
    def version(self) -> str:
        """Its version; an automatic one may move on at `finalize()` when another
        process took it first."""
        return self._manifest.version

    @version.setter
    def version(self, version: str) -> None:
        self._writable("set its version")
        self._manifest.version, self._auto_version = str(version).strip(), False

    @property
    def tags(self) -> list[str]:
        return list(self._manifest.tags)

    @tags.setter
    def tags(self, values: list[str]) -> None:
        self._writable("set its tags")
        self._manifest.tags = list(values or [])

    def add_tags(self, tags: Sequence[str] | str) -> None:
        self._writable("add tags")
        for tag in [tags] if isinstance(tags, str) else tags:
            if tag not in self._manifest.tags:
                self._manifest.tags.append(tag)

    def set_description(self, description: str) -> None:
        self._writable("set its description")
        self._manifest.description = description

    @property
    def file_entries(self) -> list[FileEntry]:
        return list(self._manifest.files.values())

    @property
    def file_entries_dict(self) -> dict[str, FileEntry]:
        return self._manifest.files

    @property
    def link_entries(self) -> list[LinkEntry]:
        return list(self._manifest.links.values())

    @property
    def link_entries_dict(self) -> dict[str, LinkEntry]:
        return self._manifest.links

    def is_final(self) -> bool:
        """True once finalized: then nothing in it can change."""
        return self._final

    def is_dirty(self) -> bool:
        return self._dirty

    def get_default_storage(self) -> str:
        return self._output_url or self._store.url

    def get_dependency_graph(self) -> dict[str, list[str]]:
        """Each version of its history and that version's direct parents."""
        return {k: list(v) for k, v in self._manifest.dependency_graph.items()}

    def _writable(self, what: str) -> None:
        if self._final:
            raise DatasetError(
                f"dataset {self.project}/{self.name} version {self.version} (id {self.id}) "
                f"is finalized and cannot change: cannot {what}. Make a new version with "
                f"Dataset.create(parent_datasets=[{self.id!r}], ...)"
            )

    # ------------------------------------------------------------- making one

    @classmethod
    def create(
        cls,
        dataset_name: str | None = None,
        dataset_project: str | None = None,
        dataset_tags: Sequence[str] | None = None,
        parent_datasets: Sequence[str | Dataset] | None = None,
        use_current_task: bool = False,
        dataset_version: str | None = None,
        output_uri: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """A new, writable version; with parents, it starts with their files merged in
        order (a later parent's file wins). Without `dataset_version`, the version after
        the latest one of this project and name, else 1.0.0."""
        store = _store()
        parents = [
            p if isinstance(p, Dataset) else cls.get(dataset_id=p) for p in parent_datasets or []
        ]
        if any(not p.is_final() for p in parents):
            raise DatasetError("Cannot inherit from a parent that was not finalized/closed")
        if dataset_name == "":
            raise DatasetError("`dataset_name` cannot be an empty string")
        task = Task.current_task()
        if dataset_name and not dataset_project and task is not None:
            dataset_project = task.get_project_name()
        if dataset_project is None and dataset_name is None:
            use_current_task = True
        if use_current_task:
            if task is None:
                raise DatasetError(
                    "Dataset.create(use_current_task=True) (or without dataset_name and "
                    "dataset_project) needs a running task: give dataset_project and dataset_name"
                )
            dataset_project = dataset_project or task.get_project_name()
            dataset_name = dataset_name or task.name
        if not dataset_project:
            if not parents:
                raise DatasetError(
                    "Missing dataset project name. Could not infer project name from parent "
                    "dataset."
                )
            dataset_project = parents[-1].project
        if not dataset_name:
            raise DatasetError("Dataset.create needs a dataset_name")
        dataset_id = secrets.token_hex(16)
        files: dict[str, FileEntry] = {}
        links: dict[str, LinkEntry] = {}
        graph: dict[str, list[str]] = {}
        for parent in parents:
            files.update({k: v.model_copy() for k, v in parent._manifest.files.items()})
            links.update({k: v.model_copy() for k, v in parent._manifest.links.items()})
            graph.update(parent.get_dependency_graph())
        graph[dataset_id] = [p.id for p in parents]
        auto = dataset_version is None
        if auto:
            newest = registry.latest(registry.versions(store, dataset_project, dataset_name))
            version = (newest and registry.next_version(newest.version)) or registry.DEFAULT_VERSION
        else:
            version = str(dataset_version).strip()
            if registry.parse_version(version) is None:
                _log.warning("Setting non-semantic dataset version '%s'", version)
        manifest = Manifest(
            id=dataset_id,
            project=dataset_project,
            name=dataset_name,
            version=version,
            tags=list(dataset_tags or []),
            description=description,
            created=0.0,
            files=files,
            links=links,
            dependency_graph=graph,
        )
        return cls(manifest, store, final=False, auto_version=auto, output_url=output_uri)

    def add_files(
        self,
        path: str | os.PathLike[str],
        wildcard: str | Sequence[str] | None = None,
        local_base_folder: str | None = None,
        dataset_path: str | None = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: int | None = None,
    ) -> int:
        """Add a file or a folder's files (those matching `wildcard`); a file whose content
        did not change stays its parent's. Returns how many files were added (changed
        ones are counted as modified, not added, as in ClearML)."""
        self._writable("add files")
        source = Path(path)
        base = Path(local_base_folder) if local_base_folder else source
        if source.is_file():
            found = [source]
            if not base.is_dir():
                base = base.parent
        elif source.is_dir():
            patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard or ["*"])
            found = sorted(
                {f for w in patterns for f in (source.rglob(w) if recursive else source.glob(w))}
            )
            found = [f for f in found if f.is_file()]
        else:
            raise DatasetError(
                f"Dataset.add_files: no file or folder {os.fspath(path)!r} "
                f"(looked for {source.absolute()})"
            )

        def entry(file: Path) -> FileEntry:
            return FileEntry(
                relative_path=_in_dataset(dataset_path, file.relative_to(base).as_posix()),
                hash=file_digest(str(file)),
                size=file.stat().st_size,
                parent_dataset_id=self.id,
                local_path=str(file.absolute()),
            )

        with ThreadPoolExecutor(max_workers or os.cpu_count() or 1) as pool:
            entries = list(pool.map(entry, found))
        added = modified = 0
        for new in entries:
            old = self._manifest.files.get(new.relative_path)
            if old is not None and old.hash == new.hash:
                if verbose:
                    print(f"Unchanged {new.relative_path}")
                continue
            self._manifest.files[new.relative_path] = new
            if old is None and new.relative_path not in self._manifest.links:
                added += 1
            else:
                modified += 1
            if verbose:
                print(f"{'Add' if old is None else 'Modified'} {new.relative_path}")
        self._dirty = self._dirty or bool(added or modified)
        return added

    def add_external_files(
        self,
        source_url: str | Sequence[str],
        wildcard: str | Sequence[str] | None = None,
        dataset_path: str | Sequence[str] | None = None,
        recursive: bool = True,
        verbose: bool = False,
        max_workers: int | None = None,
        read_hash: bool = False,
    ) -> int:
        """Add files that stay where they are (any fsspec URL: `s3://`, `gs://`, `file://`,
        `https://`, ...), kept as links and fetched by `get_local_copy()`. Returns how
        many links were added."""
        self._writable("add external files")
        urls = [source_url] if isinstance(source_url, str) else list(source_url)
        if dataset_path is None or isinstance(dataset_path, str):
            places: list[str | None] = [dataset_path] * len(urls)
        elif len(dataset_path) != len(urls):
            raise DatasetError(
                "dataset_path must be a string or a list of strings with the same length as "
                f"source_url (received {len(dataset_path)} paths for {len(urls)} source urls)"
            )
        else:
            places = list(dataset_path)
        added = 0
        for url, place in zip(urls, places, strict=True):
            for link, relative, size in _remote_files(url, wildcard, recursive):
                rel = _in_dataset(place, relative)
                old = self._manifest.links.get(rel)
                if old is not None and old.link == link and old.size == size:
                    continue
                self._manifest.links[rel] = LinkEntry(
                    relative_path=rel, link=link, size=size, parent_dataset_id=self.id
                )
                added += old is None
                if verbose:
                    print(f"Add {rel} -> {link}")
        return added

    def remove_files(
        self, dataset_path: str | None = None, recursive: bool = True, verbose: bool = False
    ) -> int:
        """Remove files (and links, also by their URL) matching `dataset_path` (wildcards
        allowed). Returns how many were removed."""
        self._writable("remove files")
        pattern = (
            dataset_path[1:] if dataset_path and dataset_path.startswith("/") else dataset_path
        )
        before = set(self._manifest.files) | set(self._manifest.links)
        self._manifest.files = {
            k: v for k, v in self._manifest.files.items() if not _matches(k, pattern, recursive)
        }
        self._manifest.links = {
            k: v
            for k, v in self._manifest.links.items()
            if not _matches(k, pattern, recursive)
            and not (v.link == pattern or _matches(v.link, pattern, recursive))
        }
        gone = before - set(self._manifest.files) - set(self._manifest.links)
        if verbose:
            for name in sorted(gone):
                print(f"Remove {name}")
        self._dirty = self._dirty or bool(gone)
        return len(gone)

    def sync_folder(
        self,
        local_path: str | os.PathLike[str],
        dataset_path: str | os.PathLike[str] | None = None,
        verbose: bool = False,
    ) -> tuple[int, int, int]:
        """Make the dataset (under `dataset_path`) hold what the folder holds: files gone
        from the folder are removed, new and changed ones added. Returns (removed, added,
        modified)."""
        self._writable("sync a folder")
        folder = Path(local_path)
        prefix = Path(dataset_path).as_posix() + "/" if dataset_path else ""

        def kept(rel: str) -> bool:
            return not rel.startswith(prefix) or (folder / rel[len(prefix) :]).is_file()

        before = len(self._manifest.files) + len(self._manifest.links)
        self._manifest.files = {k: v for k, v in self._manifest.files.items() if kept(k)}
        self._manifest.links = {k: v for k, v in self._manifest.links.items() if kept(k)}
        removed = before - len(self._manifest.files) - len(self._manifest.links)
        changed_before = {k: v.hash for k, v in self._manifest.files.items()}
        place = os.fspath(dataset_path) if dataset_path else None
        added = self.add_files(folder, dataset_path=place, verbose=verbose)
        modified = sum(
            1
            for k, v in self._manifest.files.items()
            if k in changed_before and changed_before[k] != v.hash
        )
        self._dirty = self._dirty or bool(removed)
        return removed, added, modified

    def upload(
        self,
        show_progress: bool = True,
        verbose: bool = False,
        output_url: str | None = None,
        compression: str | None = None,
        chunk_size: int | None = None,
        max_workers: int | None = None,
        retries: int = 3,
        preview: bool = True,
        upload_as_external_links: bool = False,
    ) -> bool:
        """Store the added files' bytes, each once by content (`output_url`, else the
        dataset's `output_uri`, else the store). Files are kept whole, not zipped into
        chunks: `compression` and `chunk_size` change nothing, and a file unchanged
        between versions is stored once. Nothing is visible until `finalize()`."""
        self._writable("upload")
        if output_url:
            self._output_url = output_url
        if upload_as_external_links:
            raise DatasetError(
                "Dataset.upload(upload_as_external_links=True) is not supported: pipec keeps "
                "every file by content in the store; use add_external_files for links"
            )
        target = Store(self._output_url) if self._output_url else self._store
        pending = [e for e in self._manifest.files.values() if e.local_path is not None]
        for entry in registry.upload(
            target, pending, elsewhere=target is not self._store, max_workers=max_workers
        ):
            self._manifest.files[entry.relative_path] = entry
        self._dirty = False
        return True

    def finalize(
        self, verbose: bool = False, raise_on_error: bool = True, auto_upload: bool = False
    ) -> bool:
        """Make this version visible to every process sharing the store, and final. An
        automatic version taken meanwhile by another process moves on to the next."""
        if self._final:
            raise DatasetError(
                f"Cannot finalize dataset, status 'completed' is not valid "
                f"(dataset {self.project}/{self.name} version {self.version} is already final)"
            )
        if self._dirty or any(e.local_path for e in self._manifest.files.values()):
            if auto_upload:
                self.upload()
            elif raise_on_error:
                raise DatasetError(
                    "Cannot finalize dataset, pending uploads. Call Dataset.upload(...)"
                )
            else:
                return False
        ctx = current_step()
        self._manifest.created = time.time()
        self._manifest.created_by = ctx.record.id if ctx is not None else None
        self._manifest = registry.commit(
            self._store, self._manifest, auto_version=self._auto_version
        )
        self._final, self._dirty = True, False
        _note(self._manifest, "created")
        if verbose:
            print(f"Dataset {self.project}/{self.name} version {self.version} finalized")
        return True

    def publish(self, raise_on_error: bool = True) -> bool:
        if not self._final:
            raise DatasetError("Cannot publish dataset, dataset in status in_progress.")
        registry.publish(self._store, self.id)
        return True

    def set_metadata(
        self, metadata: Any, metadata_name: str = "metadata", ui_visible: bool = True
    ) -> None:
        """Keep a value with the version (any value a step may return: a dict, a
        DataFrame, an array, ...), read back by `get_metadata`."""
        self._writable("set metadata")
        if metadata_name.startswith(_DATA_PREFIX):
            raise DatasetError(f"metadata_name can not start with '{_DATA_PREFIX}'")
        digest = hashlib.sha256(metadata_name.encode()).hexdigest()[:12]
        rel = f"{registry.ROOT}/metadata/{self.id}/{digest}"
        self._manifest.metadata[metadata_name] = self._store.put_value(rel, metadata)

    def get_metadata(self, metadata_name: str = "metadata") -> Any:
        stored: StoredValue | None = self._manifest.metadata.get(metadata_name)
        if stored is None:
            _log.warning("Dataset %s has no metadata named %r", self.id, metadata_name)
            return None
        return self._store.get_value(stored)

    # ------------------------------------------------------------- finding one

    @classmethod
    def get(
        cls,
        dataset_id: str | None = None,
        dataset_project: str | None = None,
        dataset_name: str | None = None,
        dataset_tags: Sequence[str] | None = None,
        only_completed: bool = False,
        only_published: bool = False,
        include_archived: bool = False,
        auto_create: bool = False,
        writable_copy: bool = False,
        dataset_version: str | None = None,
        alias: str | None = None,
        overridable: bool = False,
        shallow_search: bool = False,
        silence_alias_warnings: bool = False,
        **kwargs: Any,
    ) -> Dataset:
        """A finalized version: by id, or the latest of a project and name (of
        `dataset_version`, with `dataset_tags`, published if `only_published`). Only
        finalized versions are in the store, so every one is completed. With `alias`,
        the running task records its id as the parameter `Datasets/<alias>`, as in
        ClearML."""
        if not any([dataset_id, dataset_project, dataset_name, dataset_tags]):
            raise DatasetError(
                "Dataset selection criteria not met. Didn't provide id/name/project/tags correctly."
            )
        if dataset_id and (dataset_project or dataset_name):
            raise DatasetError(
                "Dataset.get: give dataset_id, or dataset_project and dataset_name, not both"
            )
        invalid = [key for key in kwargs if not key.startswith("_")]
        if invalid:
            raise DatasetError(f"Invalid 'Dataset.get' arguments: {invalid}")
        store = _store()
        query: dict[str, JsonValue] | None = None
        if dataset_id:
            manifest = registry.find(store, dataset_id)
            if manifest is None:
                raise DatasetError(f"Could not find Dataset id {dataset_id} in storage {store.url}")
        else:
            query = {
                "project": dataset_project,
                "name": dataset_name,
                "version": None if dataset_version is None else str(dataset_version),
                "tags": list(dataset_tags) if dataset_tags else None,
                "only_published": only_published,
            }
            manifest = registry.select(
                store,
                dataset_project,
                dataset_name,
                version=query["version"],  # type: ignore[arg-type]
                tags=dataset_tags,
                only_published=only_published,
            )
            if manifest is None:
                if auto_create:
                    return cls.create(
                        dataset_name=dataset_name,
                        dataset_project=dataset_project,
                        dataset_tags=dataset_tags,
                    )
                raise DatasetError(registry.missing(store, dataset_project, dataset_name, query))
        found = cls(manifest, store, final=True)
        _note(manifest, "read", query)
        if alias:
            task = Task.current_task()
            if task is not None:
                task.set_parameter(f"Datasets/{alias}", manifest.id)
        if writable_copy:
            return cls.create(
                dataset_name=found.name,
                dataset_project=found.project,
                dataset_tags=found.tags,
                parent_datasets=[found],
            )
        return found

    @classmethod
    def list_datasets(
        cls,
        dataset_project: str | None = None,
        partial_name: str | None = None,
        tags: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        only_completed: bool = True,
        recursive_project_search: bool = True,
        include_archived: bool = True,
    ) -> list[dict[str, Any]]:
        """Every version in the store (of a project and its sub-projects, a name matching
        the regular expression `partial_name`, with all `tags`, among `ids`)."""
        store = _store()
        found = []
        for manifest in registry.every(store):
            project = manifest.project
            inside = recursive_project_search and project.startswith(f"{dataset_project}/")
            if dataset_project is not None and project != dataset_project and not inside:
                continue
            if partial_name is not None and not re.search(partial_name, manifest.name):
                continue
            if tags and not set(tags) <= set(manifest.tags):
                continue
            if ids is not None and manifest.id not in ids:
                continue
            found.append(_summary(store, manifest))
        return sorted(found, key=lambda d: (d["project"], d["name"], d["created"]))

    # ------------------------------------------------------------- reading files

    def list_files(
        self, dataset_path: str | None = None, recursive: bool = True, dataset_id: str | None = None
    ) -> list[str]:
        """Paths in the dataset (matching `dataset_path`; of the files whose content
        `dataset_id` added, when given)."""
        entries: list[FileEntry | LinkEntry] = [*self.file_entries, *self.link_entries]
        names = {e.relative_path for e in entries if dataset_id in (None, e.parent_dataset_id)}
        if dataset_path:
            pattern = dataset_path.lstrip("/")
            names = {n for n in names if _matches(n, pattern, recursive)}
        return sorted(names)

    def _against(self, dataset_id: str | None) -> list[Dataset]:
        ids = self._manifest.parents if not dataset_id or dataset_id == self.id else [dataset_id]
        return [Dataset.get(dataset_id=i) for i in ids]

    def list_added_files(self, dataset_id: str | None = None) -> list[str]:
        """Paths not in the parents (or in `dataset_id`)."""
        before = {n for d in self._against(dataset_id) for n in d.list_files()}
        return sorted(set(self.list_files()) - before)

    def list_removed_files(self, dataset_id: str | None = None) -> list[str]:
        before = {n for d in self._against(dataset_id) for n in d.list_files()}
        return sorted(before - set(self.list_files()))

    def list_modified_files(self, dataset_id: str | None = None) -> list[str]:
        """Paths whose content differs from the parents' (or `dataset_id`'s)."""
        before: dict[str, str | int | None] = {}
        for other in self._against(dataset_id):
            before.update({k: v.hash for k, v in other._manifest.files.items()})
            before.update({k: v.size for k, v in other._manifest.links.items()})
        now: dict[str, str | int | None] = {k: v.hash for k, v in self._manifest.files.items()}
        now.update({k: v.size for k, v in self._manifest.links.items()})
        return sorted(k for k, v in now.items() if k in before and before[k] != v)

    def get_local_copy(
        self,
        use_soft_links: bool | None = None,
        part: int | None = None,
        num_parts: int | None = None,
        raise_on_error: bool = True,
        max_workers: int | None = None,
        files: list[str] | None = None,
    ) -> str:
        """A read-only folder with the version's files, made once per version on this
        machine (in pipec's download cache) and reused after. `part` of `num_parts`
        (default: one part per file) or `files` select some of its files."""
        if not self._final:
            raise DatasetError("Cannot get a local copy of a dataset that was not finalized/closed")
        paths, suffix = self._selection(part, num_parts, files)
        return registry.local_copy(
            self._store, self._manifest, paths, max_workers=max_workers, suffix=suffix
        )

    def _selection(
        self, part: int | None, num_parts: int | None, files: list[str] | None
    ) -> tuple[list[str] | None, str]:
        """Which files a partial copy holds, and the copy's own cache suffix."""
        every = sorted([*self._manifest.files, *self._manifest.links])
        if files is not None:
            unknown = sorted(set(files) - set(every))
            if unknown:
                raise DatasetError(f"dataset {self.project}/{self.name} has no files {unknown}")
            chosen = sorted(set(files))
            return chosen, "-files-" + hashlib.sha256("\n".join(chosen).encode()).hexdigest()[:12]
        if part is None:
            return None, ""
        parts = num_parts or len(every)
        if not 0 <= part < parts:
            raise DatasetError(f"part {part} is not between 0 and num_parts-1 ({parts - 1})")
        return every[part::parts], f"-part{part}of{parts}"

    def get_mutable_local_copy(
        self,
        target_folder: str | os.PathLike[str],
        overwrite: bool = False,
        part: int | None = None,
        num_parts: int | None = None,
        raise_on_error: bool = True,
        max_workers: int | None = None,
    ) -> str | None:
        """A writable copy of the files in `target_folder`, which must be empty unless
        `overwrite`."""
        target = Path(target_folder).absolute()
        if target.exists() and any(target.iterdir()):
            if not overwrite:
                if raise_on_error:
                    raise DatasetError(f"Target folder {target.as_posix()} already contains files")
                return None
            shutil.rmtree(target)
        source = self.get_local_copy(part=part, num_parts=num_parts, max_workers=max_workers)
        target.mkdir(parents=True, exist_ok=True)
        for dirpath, _, filenames in os.walk(source):
            where = target / os.path.relpath(dirpath, source)
            where.mkdir(parents=True, exist_ok=True)
            for name in filenames:
                shutil.copyfile(os.path.join(dirpath, name), where / name)  # mode: writable
        return target.as_posix()

    def verify_dataset_hash(
        self, local_copy_path: str | None = None, skip_hash: bool = False, verbose: bool = False
    ) -> list[str]:
        """Files of a local copy whose content (or size, with `skip_hash`) is not what
        the version holds."""
        folder = Path(local_copy_path or self.get_local_copy())
        bad = []
        for entry in self.file_entries:
            path = folder / entry.relative_path
            ok = path.is_file() and (
                path.stat().st_size == entry.size
                if skip_hash
                else file_digest(str(path)) == entry.hash
            )
            if not ok:
                bad.append(entry.relative_path)
                if verbose:
                    what = "size" if skip_hash else "hash"
                    print(f"Error: {what} mismatch {entry.relative_path}")
        return sorted(bad)

    # ------------------------------------------------------------- many at once

    @classmethod
    def squash(
        cls,
        dataset_name: str,
        dataset_ids: Sequence[str | Dataset] | None = None,
        dataset_project_name_pairs: Sequence[tuple[str, str]] | None = None,
        output_url: str | None = None,
        close_squashed_dataset: bool | None = True,
    ) -> Dataset:
        """One version with no parents holding the given versions' files merged in order
        (a later version's file wins)."""
        if bool(dataset_ids) == bool(dataset_project_name_pairs):
            raise DatasetError("Dataset.squash: give dataset_ids or dataset_project_name_pairs")
        found = [
            d if isinstance(d, Dataset) else cls.get(dataset_id=d) for d in dataset_ids or []
        ] or [
            cls.get(dataset_project=p, dataset_name=n) for p, n in dataset_project_name_pairs or []
        ]
        squashed = cls.create(dataset_name=dataset_name, dataset_project=found[0].project)
        for dataset in found:
            mine = {"parent_dataset_id": squashed.id}
            for rel, entry in dataset._manifest.files.items():
                squashed._manifest.files[rel] = entry.model_copy(update=mine)
            for rel, link in dataset._manifest.links.items():
                squashed._manifest.links[rel] = link.model_copy(update=mine)
        if close_squashed_dataset:
            squashed.upload(output_url=output_url)
            squashed.finalize()
        return squashed

    @classmethod
    def delete(
        cls,
        dataset_id: str | None = None,
        dataset_project: str | None = None,
        dataset_name: str | None = None,
        force: bool = False,
        dataset_version: str | None = None,
        entire_dataset: bool = False,
        shallow_search: bool = False,
        delete_files: bool = True,
        delete_external_files: bool = False,
    ) -> None:
        """Delete a version (or, with `entire_dataset` and `force`, every version of a
        project and name), and the files no other version holds. A version another one
        has as parent is kept unless `force`."""
        if not any([dataset_id, dataset_project, dataset_name]):
            raise DatasetError(
                "Dataset deletion criteria not met. Didn't provide id/name/project correctly."
            )
        store = _store()
        if entire_dataset:
            if not force:
                raise DatasetError("Can only delete entire dataset if force is True")
            doomed = [
                m
                for m in registry.every(store)
                if dataset_project in (None, m.project) and dataset_name in (None, m.name)
            ]
        else:
            one = (
                registry.find(store, dataset_id)
                if dataset_id
                else registry.select(store, dataset_project, dataset_name, version=dataset_version)
            )
            if one is None:
                raise DatasetError(
                    f"Could not find Dataset id {dataset_id} in storage {store.url}"
                    if dataset_id
                    else registry.missing(store, dataset_project, dataset_name, {})
                )
            users = [m.id for m in registry.children(store, one.id)]
            if users and not force:
                raise DatasetError(f"Dataset id={one.id} is used by datasets: {users}")
            doomed = [one]
        for manifest in doomed:
            if delete_external_files:
                for link in manifest.links.values():
                    if link.parent_dataset_id == manifest.id:
                        fs, path = fsspec.core.url_to_fs(link.link)
                        fs.rm(path)
            registry.remove(store, manifest, files=delete_files)


def _remote_files(
    url: str, wildcard: str | Sequence[str] | None, recursive: bool
) -> list[tuple[str, str, int | None]]:
    """(URL, path relative to `url`'s folder, size) of the files at `url`: the file it
    names, or those under the folder it names that match `wildcard`."""
    fs, root = fsspec.core.url_to_fs(url)
    if fs.isfile(root):
        return [(url, posixpath.basename(root.rstrip("/")), fs.size(root))]
    found = fs.find(root, detail=True) if recursive else fs.ls(root, detail=True)
    listing = found.values() if isinstance(found, dict) else found
    base = root.rstrip("/") + "/"
    out = []
    for info in listing:
        if info.get("type") != "file" or not info["name"].startswith(base):
            continue
        relative = info["name"][len(base) :]
        if wildcard is None or _matches(relative, wildcard, True):
            out.append((fs.unstrip_protocol(info["name"]), relative, info.get("size")))
    return sorted(out, key=lambda item: item[1])


def _note(manifest: Manifest, use: str, query: dict[str, JsonValue] | None = None) -> None:
    """Keep, in the running step's record, a version it created or read."""
    ctx = current_step()
    if ctx is None:
        return
    record = manifest.use(use, query)
    if record not in ctx.record.datasets:
        ctx.record.datasets.append(record)


def _summary(store: Store, manifest: Manifest) -> dict[str, Any]:
    """One version as ClearML's `list_datasets` describes it."""
    return {
        "name": manifest.name,
        "created": manifest.created,
        "project": manifest.project,
        "id": manifest.id,
        "tags": list(manifest.tags),
        "version": manifest.version,
        "status": "published" if registry.is_published(store, manifest.id) else "completed",
    }
