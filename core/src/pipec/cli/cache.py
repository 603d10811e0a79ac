"""`pipec cache`: the step cache in an artifact store."""

from __future__ import annotations

import typer
from rich.table import Table

from pipec import cache
from pipec.cli.output import StorageOpt, open_store, out, skipped, when

app = typer.Typer(help="The step cache in an artifact store.", no_args_is_help=True)


@app.command("ls")
def cache_ls(storage: StorageOpt = None) -> None:
    """Cache entries: which step, of which pipeline, when, with which outputs."""
    table = Table("key", "pipeline", "step", "created", "outputs")
    for entry in sorted(cache.entries(open_store(storage), skipped), key=lambda e: e.created):
        table.add_row(entry.key[:12], entry.pipeline, entry.step, when(entry.created),
                      ", ".join(entry.outputs))  # fmt: skip
    out.print(table)


@app.command("clear")
def cache_clear(
    storage: StorageOpt = None,
    pipeline: str | None = None,
    step: str | None = None,
) -> None:
    """Forget cache entries (all, or one pipeline's, or one step's); data stays in the runs."""
    removed = cache.clear(open_store(storage), pipeline=pipeline, step=step, skipped=skipped)
    out.print(f"removed {removed} cache entries")
