"""`pipec runs`: the runs recorded in an artifact store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from pipec.cli.housekeeping import carry_out
from pipec.cli.output import StorageOpt, err, open_store, out, secs, usage
from pipec.housekeeping import removal
from pipec.report import RunNotFound, read_run, run_page
from pipec.runtime.runstore import find_run, list_runs

app = typer.Typer(help="Runs recorded in an artifact store.", no_args_is_help=True)


@app.command("list")
def runs_list(storage: StorageOpt = None, pipeline: str | None = None) -> None:
    """Runs in the store, newest first (a run id starts with the date and time it began)."""
    found = list_runs(open_store(storage), pipeline)
    # ids (what `runs show` takes) and statuses are never cut short; the rest may wrap
    table = Table(
        Column("run", no_wrap=True, min_width=max((len(r.run_id) for r in found), default=3)),
        Column("pipeline", overflow="fold"),
        "target",
        Column("status", no_wrap=True),
        "duration",
        "steps",
    )
    for record in found:
        took = record.ended - record.started if record.ended else None
        table.add_row(record.run_id, record.pipeline, record.target, record.status,
                      secs(took), str(len(record.steps)))  # fmt: skip
    out.print(table)


@app.command("show")
def runs_show(
    run_id: str,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One run: each step's status, attempts, duration, cache hit and monitored metrics."""
    store = open_store(storage)
    found = find_run(store, run_id)
    if found is None:
        usage(f"no run {run_id!r} in {store.url}")
    run_record, steps = found
    if as_json:
        payload = {"run": run_record.model_dump(), "steps": [s.model_dump() for s in steps]}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    out.print(f"[bold]{run_record.pipeline}[/] run {run_record.run_id} on {run_record.target}: "
              f"{run_record.status}")  # fmt: skip
    table = Table("step", "status", "attempts", "duration", "cache hit", "monitored metrics")
    for step in steps:
        metrics = ", ".join(f"{m.title}/{m.series}={m.value:g}" for m in step.monitored.metrics
                            if m.value is not None)  # fmt: skip
        table.add_row(step.name, step.status, str(len(step.attempts)), secs(step.duration),
                      "yes" if step.cache_hit else "", metrics)  # fmt: skip
    out.print(table)
    for m in run_record.metrics:  # soft_wrap: a URI stays one line, to copy and paste
        out.print(f"metric {m.title}/{m.series} = {m.value}", markup=False, soft_wrap=True)
    for name, value in {**run_record.artifacts, **run_record.models}.items():
        out.print(f"{name}: {value.uri}", markup=False, soft_wrap=True)
    if run_record.error:
        err.print(run_record.error, markup=False)


@app.command("report")
def runs_report(
    run_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default RUN_ID.html)")
    ] = None,
    storage: StorageOpt = None,
) -> None:
    """Write one run's page: a single HTML file that opens with no server and no network."""
    store = open_store(storage)
    try:
        page = run_page(read_run(store, run_id))
    except RunNotFound as exc:
        usage(str(exc))
    path = output or Path(f"{run_id}.html")
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        usage(f"cannot write {path}: {exc.strerror or exc}")
    out.print(str(path), markup=False, highlight=False, soft_wrap=True)


@app.command("rm")
def runs_rm(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID...", help="runs to remove")],
    storage: StorageOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would go")] = False,
    force: Annotated[bool, typer.Option("--force", help="remove runs still running too")] = False,
) -> None:
    """Remove runs, with the cache entries and values only they hold."""
    store = open_store(storage)
    known = {r.run_id: r for r in list_runs(store)}
    missing = [run_id for run_id in run_ids if run_id not in known]
    if missing:
        usage(f"no run {', '.join(map(repr, missing))} in {store.url}")
    running = [run_id for run_id in run_ids if known[run_id].status == "running"]
    if running and not force:
        usage(f"run {', '.join(running)} is still running (or died unrecorded): --force removes it")
    carry_out(store, removal(store, run_ids), dry_run=dry_run)
