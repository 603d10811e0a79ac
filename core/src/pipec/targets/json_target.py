"""The `json` target: the IR itself, as a file any other tool can compile from."""

from __future__ import annotations

from pathlib import Path

from pipec.adapter.codegen import compile_options, write_ir
from pipec.contract import FEATURES, Logic, RunOptions, RunResult, Target
from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline


class JsonTarget:
    name = "json"
    description = "the pipeline IR as JSON (input for other tools)"
    capabilities = frozenset(FEATURES)

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        compile_options(self.name, options, {})
        return [write_ir(pipeline, out_dir)]

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        raise UsageError("target 'json' only writes the IR; run with --target debug or local")


@hookimpl
def pipec_targets() -> list[Target]:
    return [JsonTarget()]
