"""The `pipec` command.

Exit codes: 0 ok, 1 invalid pipeline (each problem on stderr as file:line), 2 usage error.

Internal: the command is the interface.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Column, Table

from pipec import cache, templates
from pipec.api import launch
from pipec.capture.session import load_pipeline, resolve_path, split_target
from pipec.contract import RunOptions
from pipec.diagram import dot, mermaid, show_value
from pipec.errors import PipelineError, PipelineErrors, UsageError, user_exception
from pipec.ir import Pipeline, json_schema
from pipec.params import from_text
from pipec.plugins import get_target, targets
from pipec.runtime.runstore import find_run, list_runs
from pipec.store import StorageError, Store
from pipec.validate import check_target, validate

app = typer.Typer(
    help="Capture ClearML-style pipelines, inspect, compile and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
task_app = typer.Typer(
    help="Task templates for pipelines from tasks (add_step).", no_args_is_help=True
)
app.add_typer(task_app, name="task")

out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

PathArg = Annotated[
    str,
    typer.Argument(
        metavar="PATH[:NAME]", help="a .py file or module, and optionally which pipeline"
    ),
]


def _fail(errors: list[PipelineError]) -> NoReturn:
    for error in errors:
        where = f"{error.location}: " if error.location else ""
        err.print(f"{where}error: {error.message}", markup=False)
    raise typer.Exit(1)


def _usage(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(2)


def load_valid(path: str, target: str | None = None) -> Pipeline:
    """Capture and validate (for `target`, when given), or exit with the problems found. A
    target that runs the pipeline logic itself gets the trace cut at its first decision on
    a run-time value; for any other that decision is an error."""
    try:
        chosen = get_target(target) if target is not None else None
        dynamic = chosen is not None and "dynamic" in chosen.capabilities
        pipeline = load_pipeline(path, dynamic=dynamic)
        errors = validate(pipeline)
        if not errors and chosen is not None:
            errors = check_target(pipeline, chosen.name, chosen.capabilities)
    except PipelineErrors as exc:
        _fail(exc.errors)
    except PipelineError as exc:
        _fail([exc])
    except UsageError as exc:
        _usage(str(exc))
    if errors:
        _fail(list(errors))
    return pipeline


@app.command()
def inspect(
    path: PathArg,
    as_json: Annotated[bool, typer.Option("--json", help="print the IR as JSON")] = False,
) -> None:
    """Show a pipeline's parameters, steps, edges and policies."""
    pipeline = load_valid(path)
    if as_json:
        sys.stdout.write(pipeline.model_dump_json(indent=2) + "\n")
        return
    out.print(f"[bold]{pipeline.name}[/]  project={pipeline.project}  version={pipeline.version}  "
              f"style={pipeline.style}  ({pipeline.source})")  # fmt: skip
    if pipeline.parameters:
        params = Table(title="parameters", title_justify="left")
        for column in ("name", "type", "default", "description"):
            params.add_column(column)
        for p in pipeline.parameters:
            default = "(required)" if p.required or p.default is None else show_value(p.default)
            params.add_row(p.name, p.type or "", default, p.description or "")
        out.print(params)
    steps = Table(title=f"steps ({len(pipeline.steps)})", title_justify="left")
    for column in ("step", "kind", "inputs", "outputs", "parents", "policies"):
        steps.add_column(column, overflow="fold")
    for step in pipeline.steps:
        inputs = "\n".join(f"{k}={show_value(v)}" for k, v in step.inputs.items())
        policies = _policies(step.policies.model_dump(exclude_defaults=True))
        steps.add_row(
            step.name, step.kind, inputs, ", ".join(step.outputs), ", ".join(step.parents), policies
        )
    out.print(steps)
    if pipeline.controller and pipeline.controller.return_value:
        out.print(f"returns: {show_value(pipeline.controller.return_value)}", markup=False)
    edges = pipeline.edges()
    out.print(f"edges ({len(edges)}): " + (", ".join(f"{a} -> {b}" for a, b in edges) or "none"))


def _policies(policies: dict[str, object]) -> str:
    return "\n".join(
        f"{k}={json.dumps(v) if not isinstance(v, dict) or len(json.dumps(v)) < 40 else '{...}'}"
        for k, v in policies.items()
    )


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


@app.command()
def graph(
    path: PathArg,
    format: Annotated[GraphFormat, typer.Option("--format", "-f")] = GraphFormat.mermaid,
) -> None:
    """Print the pipeline graph as Mermaid or Graphviz DOT."""
    pipeline = load_valid(path)
    sys.stdout.write(mermaid(pipeline) if format is GraphFormat.mermaid else dot(pipeline))


@app.command()
def compile(
    path: PathArg,
    target: Annotated[str, typer.Option("--target", "-t", help="a name from `pipec targets`")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="directory to write into")],
    option: Annotated[
        list[str],
        typer.Option(
            "--option", help="KEY=VALUE for the target, repeatable (its README lists them)"
        ),
    ] = [],  # noqa: B006
) -> None:
    """Compile a pipeline for a target; nothing is written if the pipeline is invalid."""
    pipeline = load_valid(path, target)
    options = _pairs("--option", option)
    try:
        written = get_target(target).compile(pipeline, out_dir, options)
    except PipelineErrors as exc:  # what the target's options refuse, at the user's lines
        _fail(exc.errors)
    except UsageError as exc:  # a target's own options
        _usage(str(exc))
    for path_written in written:
        out.print(str(path_written), markup=False, highlight=False, soft_wrap=True)


def _pairs(option: str, pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs of a repeatable option, by name."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            _usage(f"{option} takes NAME=VALUE, got {pair!r}")
        found[name] = text
    return found


def _param_values(pipeline: Pipeline, pairs: list[str]) -> dict[str, Any]:
    """`--param k=v`, cast to the parameter's type (`pipec.params.from_text`) before
    anything runs: a value that is not of it is a usage error."""
    parameters = {p.name: p for p in pipeline.parameters}
    try:
        return {
            name: from_text(parameters.get(name), text)
            for name, text in _pairs("--param", pairs).items()
        }
    except UsageError as exc:
        _usage(f"--param: {exc}")


StorageOpt = Annotated[
    str | None,
    typer.Option("--storage", help="artifact store URL (default $PIPEC_STORAGE or .pipec/store)"),
]


@app.command()
def run(
    path: PathArg,
    target: Annotated[
        str, typer.Option("--target", "-t", help="a name from `pipec targets`")
    ] = "local",
    param: Annotated[list[str], typer.Option("--param", "-p", help="NAME=VALUE, repeatable")] = [],  # noqa: B006
    storage: StorageOpt = None,
    refresh: Annotated[
        list[str], typer.Option(help="re-run STEP even if cached; `all` for every step")
    ] = [],  # noqa: B006
    max_workers: Annotated[int | None, typer.Option(help="parallel steps (default: CPUs)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON summary")] = False,
    option: Annotated[
        list[str], typer.Option("--option", help="KEY=VALUE for a target that compiles first")
    ] = [],  # noqa: B006
) -> None:
    """Run a pipeline on a target; exit 0 only if the run succeeded."""
    pipeline = load_valid(path, target)
    options = RunOptions(
        target_options=_pairs("--option", option),
        target=target,
        storage=storage,
        params=_param_values(pipeline, param),
        refresh=True if "all" in refresh else frozenset(refresh),
        max_workers=max_workers,
        quiet=as_json,
    )
    request = launch.RunRequest(options=options, name=pipeline.name)
    file = resolve_path(split_target(path)[0])
    try:
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            namespace = launch.run_file(file, request)
            if not request.results:
                launch.run_defined(namespace, pipeline.name, request)
    except PipelineErrors as exc:
        _fail(exc.errors)
    except PipelineError as exc:
        _fail([exc])
    except (UsageError, StorageError) as exc:
        _usage(str(exc))
    except Exception as exc:
        if not request.results:
            _fail([user_exception(exc, "while running the pipeline")])
    if not request.results:
        _usage(f"{path} did not run pipeline {pipeline.name!r}")
    result = request.results[-1]
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, default=str) + "\n")
    raise typer.Exit(0 if result.succeeded else 1)


@app.command("targets")
def list_targets() -> None:
    """List the targets contributed by installed plugins."""
    try:
        found = targets()
    except UsageError as exc:
        _usage(str(exc))
    table = Table("target", "description", "provided by")
    for name, target in found.items():
        table.add_row(name, target.description, type(target).__module__)
    out.print(table)


@app.command()
def schema() -> None:
    """Print the JSON schema of the pipeline IR."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@task_app.command("register")
def task_register(
    scripts: Annotated[list[Path], typer.Argument(help="task scripts that call Task.init")],
) -> None:
    """Register task scripts as templates that add_step finds by project and name."""
    for script in scripts:
        if not script.is_file():
            _usage(f"no such file: {script}")
        try:
            template = templates.register(script)
        except PipelineError as exc:
            _fail([exc])
        out.print(
            f"registered {template.project}/{template.name} -> {script} (id {template.id})",
            markup=False,
        )


@task_app.command("list")
def task_list() -> None:
    """List registered task templates."""
    table = Table("project", "name")
    table.add_column("script", overflow="fold")
    table.add_column("id", no_wrap=True, min_width=32)
    for t in templates.registered():
        table.add_row(t.project, t.name, t.script, t.id)
    out.print(table)


# ---------------------------------------------------------------- runs and cache

runs_app = typer.Typer(help="Runs recorded in an artifact store.", no_args_is_help=True)
cache_app = typer.Typer(help="The step cache in an artifact store.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(cache_app, name="cache")


def _store(storage: str | None) -> Store:
    try:
        return Store.resolve(storage)
    except StorageError as exc:
        _usage(str(exc))


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _secs(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else ""


@runs_app.command("list")
def runs_list(storage: StorageOpt = None, pipeline: str | None = None) -> None:
    """Runs in the store, newest first (a run id starts with the date and time it began)."""
    found = list_runs(_store(storage), pipeline)
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
                      _secs(took), str(len(record.steps)))  # fmt: skip
    out.print(table)


@runs_app.command("show")
def runs_show(
    run_id: str,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One run: each step's status, attempts, duration, cache hit and monitored metrics."""
    store = _store(storage)
    found = find_run(store, run_id)
    if found is None:
        _usage(f"no run {run_id!r} in {store.url}")
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
        table.add_row(step.name, step.status, str(len(step.attempts)), _secs(step.duration),
                      "yes" if step.cache_hit else "", metrics)  # fmt: skip
    out.print(table)
    for m in run_record.metrics:  # soft_wrap: a URI stays one line, to copy and paste
        out.print(f"metric {m.title}/{m.series} = {m.value}", markup=False, soft_wrap=True)
    for name, value in {**run_record.artifacts, **run_record.models}.items():
        out.print(f"{name}: {value.uri}", markup=False, soft_wrap=True)
    if run_record.error:
        err.print(run_record.error, markup=False)


@cache_app.command("ls")
def cache_ls(storage: StorageOpt = None) -> None:
    """Cache entries: which step, of which pipeline, when, with which outputs."""
    table = Table("key", "pipeline", "step", "created", "outputs")
    for entry in sorted(cache.entries(_store(storage)), key=lambda e: e.created):
        table.add_row(entry.key[:12], entry.pipeline, entry.step, _when(entry.created),
                      ", ".join(entry.outputs))  # fmt: skip
    out.print(table)


@cache_app.command("clear")
def cache_clear(
    storage: StorageOpt = None,
    pipeline: str | None = None,
    step: str | None = None,
) -> None:
    """Forget cache entries (all, or one pipeline's, or one step's); data stays in the runs."""
    removed = cache.clear(_store(storage), pipeline=pipeline, step=step)
    out.print(f"removed {removed} cache entries")


def main() -> None:
    app()
