"""`pipec models`: the model registry kept in an artifact store (`OutputModel` /
`InputModel`)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Column, Table

from pipec.cli.output import StorageOpt, open_store, out, usage, when
from pipec.registry import models as registry

app = typer.Typer(help="Models registered in an artifact store.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@app.command("list")
def models_list(
    storage: StorageOpt = None,
    project: Annotated[str | None, typer.Option(help="only this project's models")] = None,
    name: Annotated[str | None, typer.Option(help="only models of this exact name")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="any of these tags; -TAG excludes")
    ] = None,
    published: Annotated[bool, typer.Option("--published", help="only published models")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Models in the store, newest first (what `InputModel.query_models` finds)."""
    found = registry.query(open_store(storage), project, name, tag, published)
    if as_json:
        sys.stdout.write(json.dumps([m.model_dump() for m in found], indent=2) + "\n")
        return
    # ids (what `models show` and `InputModel(model_id=...)` take) are never cut short
    table = Table(
        Column("id", no_wrap=True, min_width=32),
        Column("name", overflow="fold"),
        "project",
        "framework",
        "tags",
        "published",
        "created",
    )
    for model in found:
        table.add_row(model.id, model.name, model.project or "", model.framework or "",
                      ", ".join(model.tags), "yes" if model.published else "",
                      when(model.created))  # fmt: skip
    out.print(table)


@app.command("show")
def models_show(model_id: str, storage: StorageOpt = None, as_json: JsonOpt = False) -> None:
    """One model: its record, and where its weights are."""
    store = open_store(storage)
    try:
        model = registry.read(store, model_id)
    except registry.ModelNotFoundError as exc:
        usage(str(exc))
    if as_json:
        sys.stdout.write(model.model_dump_json(indent=2) + "\n")
        return
    table = Table(show_header=False, box=None)
    rows = {
        "id": model.id,
        "name": model.name,
        "project": model.project or "",
        "framework": model.framework or "",
        "tags": ", ".join(model.tags),
        "published": "yes" if model.published else "no",
        "package": "yes" if model.package else "no",
        "task": model.task or "",
        "created": when(model.created),
        "updated": when(model.updated),
        "labels": json.dumps(model.labels) if model.labels else "",
        "comment": model.comment or "",
    }
    for key, value in rows.items():
        table.add_row(f"[bold]{key}[/]", value)
    out.print(table)
    if model.config_text:
        out.print("[bold]design[/]")
        out.print(model.config_text, markup=False, highlight=False)
    # soft_wrap: a URL stays one line, to copy and paste
    out.print(f"weights: {model.url or 'none'}", markup=False, soft_wrap=True)
