"""The `json` target: the IR itself, as a file any other tool can compile from."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline
from pipec.targets import RunResult, Target
from pipec.validate import FEATURES


def file_stem(name: str) -> str:
    """A pipeline name as a safe file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "pipeline"


class JsonTarget:
    name = "json"
    description = "the pipeline IR as JSON (input for other tools)"
    capabilities = frozenset(FEATURES)

    def compile(self, pipeline: Pipeline, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{file_stem(pipeline.name)}.pipec.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(pipeline.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return [target]

    def run(self, pipeline: Pipeline, options: object, logic: object) -> RunResult:
        raise UsageError("target 'json' only writes the IR; run with --target debug or local")


@hookimpl
def pipec_targets() -> list[Target]:
    return [JsonTarget()]
