"""What every `pipec` command shares: the consoles, the exits, the common options."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from pipec.errors import PipelineError
from pipec.store import BadRecordError, StorageError, Store

out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

PathArg = Annotated[
    str,
    typer.Argument(
        metavar="PATH[:NAME]", help="a .py file or module, and optionally which pipeline"
    ),
]

StorageOpt = Annotated[
    str | None,
    typer.Option("--storage", help="artifact store URL (default $PIPEC_STORAGE or .pipec/store)"),
]


def fail(errors: list[PipelineError]) -> NoReturn:
    """Exit 1 with each problem on stderr as `file:line: error: message`."""
    for error in errors:
        where = f"{error.location}: " if error.location else ""
        err.print(f"{where}error: {error.message}", markup=False)
    raise typer.Exit(1)


def usage(message: str) -> NoReturn:
    """Exit 2: the command line itself is wrong."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(2)


def open_store(storage: str | None) -> Store:
    try:
        return Store.resolve(storage)
    except StorageError as exc:
        usage(str(exc))


def skipped(problem: BadRecordError) -> None:
    """A record a listing cannot read: said once, by path, and the listing goes on."""
    err.print(f"warning: skipped {problem.uri}: {problem.reason}", markup=False)


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def secs(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else ""
