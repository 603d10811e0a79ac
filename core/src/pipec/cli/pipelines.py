"""The commands that take a pipeline file: inspect, graph, compile, run; and targets, schema."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from pipec.api import launch
from pipec.capture.session import load_pipeline, resolve_path, split_target
from pipec.cli.output import PathArg, StorageOpt, fail, open_store, out, usage
from pipec.contract import RunOptions
from pipec.diagram import dot, mermaid, show_value
from pipec.errors import PipelineError, PipelineErrors, UsageError, user_exception
from pipec.ir import Pipeline, json_schema
from pipec.params import from_text
from pipec.plugins import get_target, target_distributions, targets
from pipec.runtime.local import ending_on_signals
from pipec.runtime.runstore import find_run
from pipec.store import StorageError
from pipec.validate import check_target, validate


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
        fail(exc.errors)
    except PipelineError as exc:
        fail([exc])
    except UsageError as exc:
        usage(str(exc))
    if errors:
        fail(list(errors))
    return pipeline


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


def graph(
    path: PathArg,
    format: Annotated[GraphFormat, typer.Option("--format", "-f")] = GraphFormat.mermaid,
    run: Annotated[
        str | None, typer.Option("--run", help="colour each step by its status in run RUN_ID")
    ] = None,
    storage: StorageOpt = None,
) -> None:
    """Print the pipeline graph as Mermaid or Graphviz DOT."""
    pipeline = load_valid(path)
    statuses = None if run is None else _statuses(pipeline, run, storage)
    draw = mermaid if format is GraphFormat.mermaid else dot
    sys.stdout.write(draw(pipeline, statuses))


def _statuses(pipeline: Pipeline, run_id: str, storage: str | None) -> dict[str, str]:
    """Each step's status in a recorded run of `pipeline`."""
    store = open_store(storage)
    found = find_run(store, run_id)
    if found is None:
        usage(f"no run {run_id!r} in {store.url}")
    record, steps = found
    if record.pipeline != pipeline.name:
        usage(f"run {run_id} is a run of pipeline {record.pipeline!r}, not {pipeline.name!r}")
    return {step.name: step.status for step in steps}


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
        fail(exc.errors)
    except UsageError as exc:  # a target's own options
        usage(str(exc))
    for path_written in written:
        out.print(str(path_written), markup=False, highlight=False, soft_wrap=True)


def _pairs(option: str, pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs of a repeatable option, by name."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            usage(f"{option} takes NAME=VALUE, got {pair!r}")
        found[name] = text
    return found


def param_values(pipeline: Pipeline, pairs: list[str]) -> dict[str, Any]:
    """`--param k=v`, cast to the parameter's type (`pipec.params.from_text`) before
    anything runs: a value that is not of it is a usage error."""
    parameters = {p.name: p for p in pipeline.parameters}
    try:
        return {
            name: from_text(parameters.get(name), text)
            for name, text in _pairs("--param", pairs).items()
        }
    except UsageError as exc:
        usage(f"--param: {exc}")


def _refreshed(pipeline: Pipeline, names: list[str]) -> frozenset[str]:
    """`--refresh` names, each a step of the pipeline (or a repeat of one, `name_2`, which
    live logic may add): a typo is a usage error, not a refresh that never happens."""
    known = {step.name for step in pipeline.steps}
    unknown = [
        name
        for name in names
        if name not in known and not any(re.fullmatch(rf"{re.escape(k)}_\d+", name) for k in known)
    ]
    if unknown:
        usage(
            f"--refresh: pipeline {pipeline.name!r} has no step {', '.join(map(repr, unknown))}; "
            f"its steps: {', '.join(sorted(known)) or 'none'}"
        )
    return frozenset(names)


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
    max_workers: Annotated[
        int | None, typer.Option(min=1, help="parallel steps (default: CPUs)")
    ] = None,
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
        params=param_values(pipeline, param),
        refresh=True if "all" in refresh else _refreshed(pipeline, refresh),
        max_workers=max_workers,
        quiet=as_json,
    )
    start(path, pipeline, options)


def start(path: str, pipeline: Pipeline, options: RunOptions) -> NoReturn:
    """Run the file at `path` as `python PATH` would, with `options` (`pipeline` is what it
    holds, validated); exit 0 only if the run succeeded (`options.quiet`: with its
    `--json` summary on stdout)."""
    as_json = options.quiet
    request = launch.RunRequest(options=options, name=pipeline.name)
    file = resolve_path(split_target(path)[0])
    try:
        with (
            contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext(),
            ending_on_signals() as signalled,
        ):
            namespace = launch.run_file(file, request)
            if not request.results:
                launch.run_defined(namespace, pipeline.name, request)
    except PipelineErrors as exc:
        fail(exc.errors)
    except PipelineError as exc:
        fail([exc])
    except (UsageError, StorageError) as exc:
        usage(str(exc))
    except Exception as exc:
        if not request.results:
            fail([user_exception(exc, "while running the pipeline")])
    if not request.results:
        usage(f"{path} did not run pipeline {pipeline.name!r}")
    result = request.results[-1]
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, default=str) + "\n")
    if (number := signalled()) is not None:  # as a shell reports a command the signal ended
        raise typer.Exit(128 + number)
    raise typer.Exit(0 if result.succeeded else 1)


def list_targets() -> None:
    """List the targets contributed by installed plugins."""
    try:
        found = targets()
    except UsageError as exc:
        usage(str(exc))
    dists = target_distributions()
    table = Table("target", "description", "distribution", "version")
    for name, target in found.items():
        dist, version = dists.get(name) or (f"(module {type(target).__module__})", "")
        table.add_row(name, target.description, dist, version)
    out.print(table)


def schema() -> None:
    """Print the JSON schema of the pipeline IR."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
