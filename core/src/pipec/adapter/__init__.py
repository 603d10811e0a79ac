"""The public API for engine adapters and target plugins: everything a target needs.

An adapter imports this module, `pipec.ir` (the plain data it compiles) and
`pipec.errors`, and nothing else of pipec; import contracts in lint hold the built-in
adapters to that. The pieces:

- the contract: `Target` (with `compile(pipeline, out_dir, options)` and `run`),
  `RunOptions`, `RunResult`, `Logic`, the capability names `FEATURES` and
  `ENGINE_FEATURES` (those an engine gets by running its steps through `EngineRun`),
  and `hookimpl` to register a target with the `pipec_targets` hook;
- `EngineRun`: a run an engine schedules, from any of its tasks: `begin` it (first task),
  `open` it (every other task), run one `step` by name and map the `StepOutcome` onto
  the engine's retry (`StepRetry`) / skip / fail, `conclude` it (last task), `summary`;
  `handoff(record)` is the small JSON a task passes on (status, output URIs);
- `EnginePolicies.of(pipeline, step)`: the retries, timeout and queue an engine maps
  onto its own task options;
- `run_logic`: for targets with the `dynamic` capability, the pipeline's own logic
  running in the engine's flow, each attempt an engine task (`EngineAttempt`);
- `run_here`: for a target whose engine runs attempts, not whole steps (Ray): pipec's
  own scheduler in the `pipec run` process, as on the local target, each attempt an
  engine task (`EngineAttempt`) that calls `EngineRun.attempt_here` where it runs;
- `open_store`, `check_parameters`, `run_id_of`: the checks every target makes first;
- `read_run`: for observers (`pipec_run_event`), the IR a run executed and its steps'
  records (`StepRecord`, with their `Report`s and `StoredValue`s); `Store.local_path`
  gives a stored value's bytes as a local file;
- `codegen`: helpers for targets that write files (`py_literal`, `write_beside_ir`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipec._version import __version__ as PIPEC_VERSION
from pipec.adapter import codegen
from pipec.capture.session import pipeline_logic
from pipec.contract import FEATURES, Logic, RunOptions, RunResult, Target
from pipec.errors import PipelineError, UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline, Step
from pipec.params import cast_values
from pipec.records import Report, RunRecord, StepRecord, StoredValue
from pipec.runtime import engine, runstore
from pipec.runtime.engine import ENGINE_FEATURES, StepOutcome, StepRetry, handoff
from pipec.runtime.local import PipelineRun
from pipec.runtime.logic import run_logic as _run_logic
from pipec.runtime.logic import run_started
from pipec.runtime.node import EnginePolicies
from pipec.runtime.progress import Progress
from pipec.runtime.step import AttemptFn
from pipec.store import Store, slug


def open_store(url: str | None) -> Store:
    """The run's store (`url`, else `$PIPEC_STORAGE`, else `./.pipec/store`), checked to
    be usable and shared between processes: an engine's steps run in processes of their
    own."""
    store = Store.resolve(url)
    store.check()
    if not store.shared_between_processes:
        raise UsageError(f"storage {store.url} lives inside one process; steps run in others")
    return store


def check_parameters(pipeline: Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """Unknown parameters, missing required ones and values not of their parameter's type
    are usage errors, before a run starts; returns the values cast to their parameters'
    types (`pipec.params`), for the engine's own run form, which checks them again."""
    runstore.with_parameters(pipeline, params)
    return cast_values(pipeline.parameters, params)


def run_id_of(engine_id: str) -> str:
    """An engine's run id (a DAG run id, a flow run id) as a pipec run id: one safe path
    segment of the store."""
    return slug(engine_id)


def read_run(store: str, record: RunRecord) -> tuple[Pipeline, list[StepRecord]]:
    """The IR run `record` executes, with its parameter values and every step it added
    (a decorator pipeline's logic adds them as it runs), and the records of the steps
    that have begun, in the order the steps were added: what an observer of
    `pipec_run_event` reads, from whichever process the event fires in."""
    run = runstore.open_run(store, record.pipeline, record.run_id)
    steps = []
    for name in record.steps:
        try:
            steps.append(run.step_record(name))
        except LookupError:  # never reached: skipped before it began, or the run stopped
            continue
    specs = [run.step(name) for name in record.steps]
    return run.pipeline.model_copy(update={"steps": specs}), steps


def _module_globals(pipeline: Pipeline, project_dir: str) -> dict[str, Any] | None:
    """The globals of the user's pipeline module, when its file is on this machine where it
    was compiled (`project_dir` + the IR's source file): the file runs in capture mode, so
    nothing in it starts a run. None when it is not there or does not load."""
    try:
        return pipeline_logic(pipeline, project_dir).__globals__
    except (PipelineError, UsageError):
        return None


class EngineRun(engine.EngineRun):
    """One pipec run an engine schedules (see `pipec.runtime.engine.EngineRun`)."""

    def conclude(  # type: ignore[override]
        self, *, replay_from: str | None = None
    ) -> RunRecord:
        """The final run record. With `replay_from` (the project directory the pipeline
        was compiled in, on this machine) a decorator pipeline's logic is replayed with
        the run's values: its prints land in the calling task's log, and what it raises
        fails the run. Logic reading its module's globals gets them from the pipeline
        file there, when this machine has it."""
        if replay_from is None:
            return super().conclude()
        return super().conclude(
            replay_from=replay_from, load_module=lambda: _module_globals(self.pipeline, replay_from)
        )


EngineAttempt = Callable[[EngineRun, Step, int, float | None], "str | None"]
"""How an engine runs attempt N of a step of a dynamic pipeline, with its time limit: as
one of its tasks, which calls `EngineRun.attempt` wherever it runs, waited for here.
Returns how that task ended if it ended without recording the attempt (None: it did)."""


class _EngineAttempts:
    """The local scheduler's executor for logic running in an engine's flow: each attempt
    is the engine's task (`EngineAttempt`), made in the thread the scheduler gives the
    step, so concurrent steps are concurrent engine tasks."""

    serial = False

    def __init__(self, target: str, attempt: EngineAttempt) -> None:
        self.target = target
        self._attempt = attempt

    def attempt(self, run: PipelineRun, step: Step) -> AttemptFn:
        engine_run = EngineRun(run.state, self.target)

        def attempt(number: int, time_limit: float | None) -> StepRecord:
            ended = self._attempt(engine_run, step, number, time_limit)
            record = run.state.step_record(step.name)
            if record.status == "running":  # the engine's task ended before the attempt could
                error = ended or "its engine task ended without recording the attempt"
                record = runstore.end_attempt(run.state, step.name, number, "failed", error)
            return record

        return attempt


def run_logic(
    pipeline: Pipeline,
    *,
    store: Store,
    run_id: str,
    target: str,
    params: dict[str, Any],
    refresh: frozenset[str] | bool,
    project_dir: str,
    attempt: EngineAttempt,
) -> tuple[EngineRun, RunRecord]:
    """A dynamic pipeline's run, its logic (from the pipeline file under `project_dir`)
    running here as on the local target, each attempt an engine task (`attempt`); the
    run and its final record. What the logic raises is the run's recorded error."""
    logic = Logic(function=pipeline_logic(pipeline, project_dir))
    options = RunOptions(
        target=target, storage=store.url, params=params, refresh=refresh, quiet=True
    )
    executor = _EngineAttempts(target, attempt)
    try:
        record = _run_logic(
            pipeline, options, logic, executor, run_id=run_id, project_dir=project_dir
        ).record
    except Exception:
        if logic.failed_run is None:  # the run never began
            raise
        record = logic.failed_run.record  # the logic raised: recorded as the run's error
    return EngineRun.open(store.url, pipeline.name, run_id, target), record


def run_here(
    pipeline: Pipeline, options: RunOptions, logic: Logic, *, attempt: EngineAttempt
) -> RunResult:
    """A started pipeline run by pipec's own scheduler in this process, exactly as on the
    local target: a decorator pipeline's live logic (it may branch on step values: the
    `dynamic` capability), else the IR's steps; skip rules, the cache, callbacks (with
    `logic.controller` as their `pipeline`) and retries run here, and each attempt is the
    engine's task (`attempt`), made in a thread of its own, so independent steps are
    concurrent engine tasks. The attempt function waits for its task, kills it at its
    time limit or when `EngineRun.stopped()`, and records such an end with
    `EngineRun.end_attempt`."""
    return run_started(pipeline, options, logic, _EngineAttempts(options.target, attempt))


__all__ = [
    "ENGINE_FEATURES",
    "FEATURES",
    "PIPEC_VERSION",
    "EngineAttempt",
    "EnginePolicies",
    "EngineRun",
    "Logic",
    "Progress",
    "Report",
    "RunOptions",
    "RunRecord",
    "RunResult",
    "StepOutcome",
    "StepRecord",
    "StepRetry",
    "Store",
    "StoredValue",
    "Target",
    "check_parameters",
    "codegen",
    "handoff",
    "hookimpl",
    "open_store",
    "read_run",
    "run_here",
    "run_id_of",
    "run_logic",
]
