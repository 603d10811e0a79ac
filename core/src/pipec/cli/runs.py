"""`pipec runs`: the runs recorded in an artifact store."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from pipec.cli.housekeeping import carry_out
from pipec.cli.output import StorageOpt, err, open_store, out, secs, skipped, usage, when
from pipec.cli.pipelines import load_valid, param_values, start
from pipec.contract import RunOptions
from pipec.exprs import literal_value
from pipec.housekeeping import removal
from pipec.ir import Pipeline
from pipec.records import FINISHED, RunRecord, StepRecord, StoredValue
from pipec.report import RunNotFound, read_run, run_page
from pipec.runtime.runstore import RunFiles, console_text, find_run, list_runs, owner_gone
from pipec.store import StorageError, Store

app = typer.Typer(help="Runs recorded in an artifact store.", no_args_is_help=True)

FOLLOW_POLL = 0.5
"""Seconds between looks at a followed run's consoles."""


def _print_table(table: Table) -> None:
    """A table at its natural width: rows stay one line each, whatever the terminal."""
    width = Measurement.get(out, out.options.update_width(10_000), table).maximum
    wide = Console(width=max(width, out.width), file=out.file, color_system=out.color_system)
    wide.print(table, crop=False)


def _found(store: Store, run_id: str) -> tuple[RunRecord, list[StepRecord]]:
    try:
        found = find_run(store, run_id, skipped)
    except StorageError as exc:  # a path out of the store, or an unreadable run record
        usage(f"run {run_id!r}: {exc}")
    if found is None:
        usage(f"no run {run_id!r} in {store.shown}")
    return found


@app.command("list")
def runs_list(storage: StorageOpt = None, pipeline: str | None = None) -> None:
    """Runs in the store, newest first by their recorded start, whatever the target."""
    store = open_store(storage)
    found = list_runs(store, pipeline, skipped)
    table = Table("run", "pipeline", "target", "status", "started", "duration", "steps")
    for record in found:
        took = record.ended - record.started if record.ended else None
        table.add_row(record.run_id, record.pipeline, record.target, _status(store, record),
                      when(record.started), secs(took), str(len(record.steps)))  # fmt: skip
    _print_table(table)


def _status(store: Store, record: RunRecord) -> str:
    """A run's status, with `gone` for a run recorded running whose owner died unrecorded."""
    last = owner_gone(store, record)
    return record.status if last is None else f"gone (last heard {when(last)})"


def _value(store: Store, stored: StoredValue | None) -> str:
    """A return value as `runs show` prints it: small JSON as itself, else what and where."""
    if stored is None:
        return "none"
    if stored.serializer == "json" and stored.size <= 200:
        return store.read_bytes(stored.uri).decode()
    return f"{stored.type_name} ({stored.size} bytes) at {stored.uri}"


def _attempts(step: StepRecord) -> str:
    n = len(step.attempts)
    return f"{n} attempt" + ("" if n == 1 else "s")


@app.command("show")
def runs_show(
    run_id: str,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One run: its parameters, start, duration, target, return value and error, and each
    step's status, attempts, duration, cache hit, error and monitored metrics."""
    store = open_store(storage)
    run_record, steps = _found(store, run_id)
    if as_json:
        payload = {"run": run_record.model_dump(), "steps": [s.model_dump() for s in steps]}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return
    took = run_record.ended - run_record.started if run_record.ended else None
    params = ", ".join(f"{k}={json.dumps(v)}" for k, v in run_record.parameters.items())
    head = [
        f"{run_record.pipeline} run {run_record.run_id} on {run_record.target}: "
        f"{_status(store, run_record)}",
        f"  started       {when(run_record.started)}",
        f"  duration      {secs(took) or '(still running)'}",
        f"  parameters    {params or 'none'}",
        f"  return value  {_value(store, run_record.return_value)}",
    ]
    if run_record.resumed_from:
        head.append(f"  resumed from  {run_record.resumed_from}")
    if owner_gone(store, run_record) is not None:
        head.append(f"  owner         gone: `pipec runs resume {run_record.run_id}` continues it")
    if run_record.error:
        first = f"step {run_record.failed_step!r}: " if run_record.failed_step else ""
        head.append(f"  error         {first}{run_record.error}")
    for note in run_record.observer_notes:  # what a tracker could not log: the run went on
        head.append(f"  observer      {note}")
    for line in head:  # soft_wrap: a URI or an error stays one line, to copy and paste
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    table = Table("step", "status", "attempts", "duration", "cache hit", "error",
                  "monitored metrics")  # fmt: skip
    for step in steps:
        metrics = ", ".join(f"{m.title}/{m.series}={m.value:g}" for m in step.monitored.metrics
                            if m.value is not None)  # fmt: skip
        error = step.error if step.status not in ("completed", "cached") else ""
        table.add_row(step.name, step.status, str(len(step.attempts)), secs(step.duration),
                      "yes" if step.cache_hit else "", error or "", metrics)  # fmt: skip
    _print_table(table)
    for m in run_record.metrics:
        out.print(f"metric {m.title}/{m.series} = {m.value}", markup=False, soft_wrap=True)
    for name, value in {**run_record.artifacts, **run_record.models}.items():
        out.print(f"{name}: {value.uri}", markup=False, soft_wrap=True)


def _consoles(step: StepRecord) -> list[int]:
    """The attempt numbers of `step` that have (or are writing) a console."""
    numbers = [a.number for a in step.attempts if a.console]
    if step.status == "running":  # the attempt under way records itself when it ends
        numbers.append(len(step.attempts) + 1)
    return numbers


def _status_of(step: StepRecord, number: int) -> str:
    for attempt in step.attempts:
        if attempt.number == number:
            return attempt.status + (", console truncated" if attempt.truncated else "")
    return "running"


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


@app.command("logs")
def runs_logs(
    run_id: str,
    step: Annotated[str | None, typer.Argument(help="one step (default: every step)")] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", help="only attempt N of STEP (1 is the first)")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing until the run ends")
    ] = False,
    storage: StorageOpt = None,
) -> None:
    """What each step attempt printed (stdout and stderr, as the step wrote them; a failed
    attempt's traceback ends it). Each attempt's console starts with a `==> ... <==`
    header, unless `--attempt` picks one."""
    store = open_store(storage)
    if attempt is not None and step is None:
        usage("--attempt needs a STEP")
    consoles = _Consoles(store, only=attempt)
    while True:
        run_record, steps = _found(store, run_id)
        if step is not None:
            steps = [s for s in steps if s.name == step]
            if not steps and not follow:
                names = ", ".join(run_record.steps) or "none"
                usage(f"run {run_id} has no step {step!r}; its steps: {names}")
        for record in steps:
            consoles.show(run_record, record)
        running = run_record.status == "running"
        if step is not None and steps:
            running = running and steps[0].status not in FINISHED
        if not follow or not running:
            break
        time.sleep(FOLLOW_POLL)
    if attempt is not None and (step, attempt) not in consoles.printed:
        usage(f"step {step!r} of run {run_id} has no console for attempt {attempt}")


class _Consoles:
    """The consoles `runs logs` prints, and how much of each it printed (to follow them)."""

    def __init__(self, store: Store, only: int | None) -> None:
        self.store, self.only = store, only
        self.printed: dict[tuple[str, int], int] = {}
        """Characters printed so far, by (step, attempt)."""
        self._ended: set[tuple[str, int]] = set()
        self._noted: set[str] = set()

    def _line(self, text: str) -> None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)

    def show(self, run: RunRecord, step: StepRecord) -> None:
        """Print what is new in `step`'s consoles."""
        numbers = _consoles(step)
        if not numbers and self.only is None and step.status in FINISHED:
            if step.name not in self._noted:
                why = "its body did not run" if step.status in ("cached", "skipped") else "none"
                self._line(f"==> {step.name}: {step.status}, no console ({why}) <==")
                self._noted.add(step.name)
            return
        ended = {a.number for a in step.attempts}
        for number in numbers:
            key = (step.name, number)
            if (self.only is not None and number != self.only) or key in self._ended:
                continue
            text = console_text(self.store, run.pipeline, run.run_id, step.name, number)
            if text is None:
                continue
            if key not in self.printed and self.only is None:
                self._line(f"==> {step.name}, attempt {number}: {_status_of(step, number)} <==")
            done = self.printed.get(key, 0)
            sys.stdout.write(text[done:])
            self.printed[key] = len(text)
            if number in ended:  # complete: the next header starts on a line of its own
                self._ended.add(key)
                if text and not text.endswith("\n"):
                    sys.stdout.write("\n")
            sys.stdout.flush()


def _recorded(store: Store, run_id: str) -> tuple[RunRecord, Pipeline, str]:
    """A run, the pipeline it recorded (`pipeline.json`, with that run's parameter
    values) and `PATH:NAME` of that pipeline's source file."""
    record, _ = _found(store, run_id)
    files = RunFiles(record.pipeline, run_id)
    if not store.exists(files.ir):
        usage(f"run {run_id} recorded no pipeline.json in {store.url}")
    recorded = store.read_model(files.ir, Pipeline)
    file = recorded.source.file if recorded.source else None
    if not file or not os.path.isfile(file):
        usage(
            f"run {run_id}'s pipeline file {file or '(unknown)'!r} is not here: run this "
            "from the directory the run was started in"
        )
    return record, recorded, f"{file}:{record.pipeline}"


def _parameters(recorded: Pipeline) -> dict[str, Any]:
    """The parameter values a recorded run had (`begin` keeps them as the defaults)."""
    return {p.name: literal_value(p.default) for p in recorded.parameters if p.default is not None}


@app.command("resume")
def runs_resume(
    run_id: str,
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="debug or local (default: the run's)")
    ] = None,
    storage: StorageOpt = None,
    max_workers: Annotated[int | None, typer.Option(help="parallel steps (default: CPUs)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary")] = False,
) -> None:
    """Continue a failed or stopped run as a new run, with the same parameters: the steps
    that succeeded in it are reused (whatever their `cache` setting) while every parent
    they have is reused too; the failed, aborted, skipped and never started ones run, from
    the pipeline's file as it is now. Runs made by any target can be resumed, on `debug` or
    `local`."""
    store = open_store(storage)
    record, recorded, path = _recorded(store, run_id)
    chosen = target or (record.target if record.target in RESUMES_ON else "local")
    if chosen not in RESUMES_ON:
        usage(f"--target: a run resumes on {' or '.join(RESUMES_ON)}, not {chosen!r}")
    pipeline = load_valid(path, chosen)
    options = RunOptions(target=chosen, storage=store.url, params=_parameters(recorded),
                         max_workers=max_workers, quiet=as_json, resume_from=run_id)  # fmt: skip
    start(path, pipeline, options)


RESUMES_ON = ("local", "debug")
"""The targets that reuse a resumed run's steps (they schedule steps in pipec itself)."""


@app.command("rerun")
def runs_rerun(
    run_id: str,
    param: Annotated[
        list[str], typer.Option("--param", "-p", help="NAME=VALUE to change, repeatable")
    ] = [],  # noqa: B006
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="a name from `pipec targets`")
    ] = None,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary")] = False,
) -> None:
    """Start a new run of a recorded run's pipeline with that run's parameters, as edited
    by `--param` (ClearML's "clone and edit"), on its target or `--target`. The pipeline
    runs from its file as it is now; when its steps changed since, pipec says which."""
    store = open_store(storage)
    record, recorded, path = _recorded(store, run_id)
    chosen = target or record.target
    pipeline = load_valid(path, chosen)
    changed = _changed_steps(recorded, pipeline)
    if changed:
        err.print(f"note: since run {run_id}, these steps' code changed: {', '.join(changed)}",
                  markup=False)  # fmt: skip
    params = {**_parameters(recorded), **param_values(pipeline, param)}
    options = RunOptions(target=chosen, storage=store.url, params=params, quiet=as_json)
    start(path, pipeline, options)


def _changed_steps(recorded: Pipeline, now: Pipeline) -> list[str]:
    """Steps of both whose code is not what the recorded run ran."""
    before = {step.name: step.code.hash for step in recorded.steps}
    return [s.name for s in now.steps if s.name in before and before[s.name] != s.code.hash]
