"""The `pipec` command: one module per group of subcommands, assembled here.

Exit codes: 0 ok, 1 invalid pipeline (each problem on stderr as file:line), 2 usage error.

Internal: the command is the interface.
"""

from __future__ import annotations

import typer

from pipec.cli import cache, datasets, housekeeping, models, pipelines, runs, tasks, ui

app = typer.Typer(
    help="Capture ClearML-style pipelines, inspect, compile and run them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (pipelines.inspect, pipelines.graph, pipelines.compile, pipelines.run):
    app.command()(command)
app.command("targets")(pipelines.list_targets)
app.command()(pipelines.schema)
app.add_typer(tasks.app, name="task")
app.add_typer(runs.app, name="runs")
app.add_typer(cache.app, name="cache")
app.command("ui")(ui.ui)
app.command("gc")(housekeeping.gc)
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")


def main() -> None:
    app()
