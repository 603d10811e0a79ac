"""What a target is: the protocol every adapter plugin implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pipec.ir import Pipeline


@runtime_checkable
class Target(Protocol):
    """An adapter: compiles a pipeline for one engine or format.

    `capabilities` names the optional features it can express (see
    `pipec.validate.FEATURES`); the rest are rejected before compiling.
    """

    name: str
    description: str
    capabilities: frozenset[str]

    def compile(self, pipeline: Pipeline, out_dir: Path) -> list[Path]:
        """Write the compiled artifact(s) into `out_dir` and return their paths."""
        ...
