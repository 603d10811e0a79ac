"""The `debug` and `local` targets: run a pipeline on this machine, with no server.

Both run the pipeline's real logic (decorator pipelines branch and loop on
real values, as in ClearML) through the same scheduler; they differ only in
where an attempt runs: in this process, one step at a time (`debug`), or in a
subprocess per step, independent steps in parallel (`local`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from pipec.contract import FEATURES, Logic, RunOptions, RunResult, Target
from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline
from pipec.runtime.local import Executor, InProcess, Subprocesses
from pipec.runtime.logic import run_started

# runs in the current environment: docker / repo options do not apply here
LOCAL_FEATURES = frozenset(FEATURES) - {"loop", "task_factory"}


class LocalTarget:
    capabilities = LOCAL_FEATURES

    def __init__(self, name: str, description: str, executor: Callable[[RunOptions], Executor]):
        self.name = name
        self.description = description
        self._executor = executor

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        raise UsageError(
            f"target {self.name!r} runs pipelines in place and has nothing to compile: "
            f"use `pipec run --target {self.name}`"
        )

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        return run_started(pipeline, options, logic, self._executor(options))


def _echo(options: RunOptions) -> Callable[[str], None]:
    stream = sys.stderr if options.quiet else sys.stdout

    def echo(line: str) -> None:
        print(line, file=stream, flush=True)

    return echo


@hookimpl
def pipec_targets() -> list[Target]:
    return [
        LocalTarget("debug", "in this process, one step at a time", lambda _: InProcess()),
        LocalTarget(
            "local",
            "a subprocess per step on this machine, independent steps in parallel",
            lambda options: Subprocesses(_echo(options)),
        ),
    ]
