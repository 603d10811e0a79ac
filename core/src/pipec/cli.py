"""The `pipec` command.

Exit codes: 0 ok, 1 invalid pipeline (each problem on stderr as file:line), 2 usage error.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from pipec import templates
from pipec.capture.session import load_pipeline
from pipec.errors import PipelineError, PipelineErrors, UsageError
from pipec.ir import Pipeline, json_schema
from pipec.plugins import get_target, targets
from pipec.render import dot, mermaid, show_value
from pipec.validate import check_target, validate

app = typer.Typer(
    help="Capture ClearML-style pipelines, inspect them, and compile them for a target.",
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
    """Capture and validate, or exit with the problems found."""
    try:
        pipeline = load_pipeline(path)
        errors = validate(pipeline)
        if not errors and target is not None:
            chosen = get_target(target)
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
) -> None:
    """Compile a pipeline for a target; nothing is written if the pipeline is invalid."""
    pipeline = load_valid(path, target)
    for written in get_target(target).compile(pipeline, out_dir):
        out.print(str(written), markup=False, highlight=False)


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


def main() -> None:
    app()
