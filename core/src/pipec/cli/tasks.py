"""`pipec task`: task templates for pipelines from tasks (`add_step(base_task_project=...)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipec import templates
from pipec.cli.output import fail, out, usage
from pipec.errors import PipelineError

app = typer.Typer(help="Task templates for pipelines from tasks (add_step).", no_args_is_help=True)


@app.command("register")
def task_register(
    scripts: Annotated[list[Path], typer.Argument(help="task scripts that call Task.init")],
) -> None:
    """Register task scripts as templates that add_step finds by project and name."""
    for script in scripts:
        if not script.is_file():
            usage(f"no such file: {script}")
        try:
            template = templates.register(script)
        except PipelineError as exc:
            fail([exc])
        out.print(
            f"registered {template.project}/{template.name} -> {script} (id {template.id})",
            markup=False,
        )


@app.command("list")
def task_list() -> None:
    """List registered task templates."""
    table = Table("project", "name")
    table.add_column("script", overflow="fold")
    table.add_column("id", no_wrap=True, min_width=32)
    for t in templates.registered():
        table.add_row(t.project, t.name, t.script, t.id)
    out.print(table)
