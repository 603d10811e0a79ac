"""`pipec datasets`: the ClearML dataset versions kept in an artifact store."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from pipec.cli.output import StorageOpt, open_store, out, usage, when
from pipec.registry import datasets as registry
from pipec.registry.datasets import Manifest
from pipec.runtime.runstore import find_run, list_runs
from pipec.store import Store

app = typer.Typer(help="Dataset versions kept in an artifact store.", no_args_is_help=True)

DatasetArg = Annotated[
    str, typer.Argument(metavar="DATASET", help="a dataset id, or PROJECT/NAME (the latest)")
]
VersionOpt = Annotated[
    str | None, typer.Option("--version", help="with PROJECT/NAME: that version")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _one(store: Store, dataset: str, version: str | None) -> Manifest:
    """The version an argument names: an id, else the latest (or `version`) of a
    PROJECT/NAME (a project may have sub-projects: the name is the last part)."""
    if version is None:
        found = registry.find(store, dataset)
        if found is not None:
            return found
    if "/" not in dataset:
        usage(f"no dataset id {dataset!r} in {store.url} (a name is given as PROJECT/NAME)")
    project, name = dataset.rsplit("/", 1)
    found = registry.select(store, project, name, version=version)
    if found is None:
        usage(registry.missing(store, project, name, {"version": version}))
    return found


def _size(manifest: Manifest) -> int:
    return sum(entry.size for entry in manifest.files.values())


def _status(store: Store, manifest: Manifest) -> str:
    return "published" if registry.is_published(store, manifest.id) else "completed"


@app.command("list")
def datasets_list(
    storage: StorageOpt = None,
    project: Annotated[str | None, typer.Option(help="only this project's")] = None,
    name: Annotated[str | None, typer.Option(help="only datasets of this name")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every version, by project, name and creation time (`--json`: with tags and times)."""
    store = open_store(storage)
    found = sorted(
        (
            m
            for m in registry.every(store)
            if project in (None, m.project) and name in (None, m.name)
        ),
        key=lambda m: (m.project, m.name, m.created),
    )
    if as_json:
        _print_json(
            [
                {"id": m.id, "project": m.project, "name": m.name, "version": m.version,
                 "status": _status(store, m), "files": len(m.files) + len(m.links),
                 "size": _size(m), "created": m.created, "tags": m.tags}
                for m in found
            ]
        )  # fmt: skip
        return
    # ids (what the other commands take), versions and statuses are never cut short
    table = Table(
        Column("id", no_wrap=True), Column("project/name", overflow="fold"),
        Column("version", no_wrap=True), Column("status", no_wrap=True), "files",
        Column("size", no_wrap=True),
    )  # fmt: skip
    for m in found:
        table.add_row(m.id, f"{m.project}/{m.name}", m.version, _status(store, m),
                      str(len(m.files) + len(m.links)), _human(_size(m)))  # fmt: skip
    out.print(table)


def _readers(store: Store, dataset_id: str) -> list[str]:
    """Ids of the steps whose records say they read this version."""
    readers = []
    for run in list_runs(store):
        found = find_run(store, run.run_id)
        for step in found[1] if found else []:
            if any(u.id == dataset_id and u.use == "read" for u in step.datasets):
                readers.append(step.id)
    return readers


@app.command("show")
def datasets_show(
    dataset: DatasetArg,
    storage: StorageOpt = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One version: its parents, the step that made it, the steps that read it, its size."""
    store = open_store(storage)
    manifest = _one(store, dataset, version)
    added = [e for e in manifest.files.values() if e.parent_dataset_id == manifest.id]
    details = {
        "id": manifest.id,
        "project": manifest.project,
        "name": manifest.name,
        "version": manifest.version,
        "status": _status(store, manifest),
        "created": manifest.created,
        "created_by": manifest.created_by,
        "read_by": _readers(store, manifest.id),
        "parents": manifest.parents,
        "tags": manifest.tags,
        "description": manifest.description,
        "files": len(manifest.files),
        "links": len(manifest.links),
        "size": _size(manifest),
        "added_size": sum(e.size for e in added),
        "metadata": sorted(manifest.metadata),
    }
    if as_json:
        _print_json(details)
        return
    out.print(f"[bold]{manifest.project}/{manifest.name}[/] {manifest.version} "
              f"({details['status']}), id {manifest.id}")  # fmt: skip
    table = Table("", Column("", overflow="fold"), show_header=False)
    rows = {
        "created": when(manifest.created),
        "created by step": manifest.created_by or "",
        "read by steps": ", ".join(details["read_by"]),
        "parents": ", ".join(manifest.parents),
        "files": f"{len(manifest.files)} ({_human(details['size'])}), "
        f"{len(added)} added or changed here ({_human(details['added_size'])})",
        "links": str(len(manifest.links)),
        "tags": ", ".join(manifest.tags),
        "description": manifest.description or "",
        "metadata": ", ".join(details["metadata"]),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    out.print(table)


@app.command("files")
def datasets_files(
    dataset: DatasetArg,
    storage: StorageOpt = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One version's files: path, size, content hash, and the version that added it."""
    store = open_store(storage)
    manifest = _one(store, dataset, version)
    rows = [
        {"path": e.relative_path, "size": e.size, "hash": e.hash, "from": e.parent_dataset_id}
        for e in manifest.files.values()
    ] + [
        {"path": e.relative_path, "size": e.size, "link": e.link, "from": e.parent_dataset_id}
        for e in manifest.links.values()
    ]
    rows.sort(key=lambda row: row["path"])
    if as_json:
        _print_json(rows)
        return
    table = Table(Column("path", overflow="fold"), "size", "sha256 / link", "from version")
    for row in rows:
        table.add_row(row["path"], _human(row["size"]),
                      row.get("link") or row["hash"][:12], row["from"])  # fmt: skip
    out.print(table)


@app.command("rm")
def datasets_rm(
    dataset: DatasetArg,
    storage: StorageOpt = None,
    version: VersionOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="also a version other versions have as parent")
    ] = False,
) -> None:
    """Delete a version, and the files no other version holds."""
    store = open_store(storage)
    manifest = _one(store, dataset, version)
    users = [m.id for m in registry.children(store, manifest.id)]
    if users and not force:
        usage(f"dataset {manifest.id} is the parent of {', '.join(users)}: --force deletes it")
    registry.remove(store, manifest)
    out.print(f"removed {manifest.project}/{manifest.name} {manifest.version} ({manifest.id})")


def _human(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)
