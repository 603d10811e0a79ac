"""What a target is: the protocol every adapter plugin implements."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pipec.errors import UsageError
from pipec.ir import Pipeline

if TYPE_CHECKING:
    from pipec.records import RunRecord
    from pipec.runtime.runner import RunOptions
    from pipec.runtime.start import Logic


def check_baked_storage(storage: str | None) -> None:
    """A storage URL written into a compiled file must hold no credentials: those belong
    to the workers' environment, never to a file that is reviewed and deployed."""
    if storage is not None and "@" in storage.partition("://")[2].partition("/")[0]:
        raise UsageError("the storage URL holds credentials; give them to the workers instead")


@dataclass
class RunResult:
    """A finished run: its record, the `--json` summary, and the pipeline's return value."""

    record: RunRecord
    summary: dict[str, Any]
    value: Any = None

    @property
    def succeeded(self) -> bool:
        return self.record.status == "completed"


@runtime_checkable
class Target(Protocol):
    """An adapter: compiles a pipeline for one engine or format, and runs it.

    `capabilities` names the optional features it can express (see
    `pipec.validate.FEATURES`); the rest are rejected before compiling or running.
    """

    name: str
    description: str
    capabilities: frozenset[str]

    def compile(self, pipeline: Pipeline, out_dir: Path) -> list[Path]:
        """Write the compiled artifact(s) into `out_dir` and return their paths."""
        ...

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Run the pipeline to the end. `logic` holds the live pipeline objects when the
        pipeline was started from Python; targets that run from the IR alone ignore it."""
        ...
