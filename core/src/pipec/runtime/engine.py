"""Steps an engine schedules: each engine task decides from the store, not from the engine.

An engine (Airflow, Prefect, a plugin's) only orders the step tasks; every task opens
the pipec run from the store (`EngineRun.open`), asks the parents' records whether to
run (ClearML's skip rules, the same `skip_reason` the local scheduler uses), runs the
step through the same `Lifecycle` as the local target, each attempt a watched step
process (`pipec.runtime.watch`), and gets back a `StepOutcome` to map onto the
engine's retry / skip / fail. A fatal failure under `abort_on_failure` marks the run
stopped, so steps not started yet are skipped and steps already running are aborted.
Adapters reach this through `pipec.adapter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipec.errors import describe_error
from pipec.ir import Pipeline
from pipec.records import SUCCEEDED, RunRecord, StepRecord, StoredValue
from pipec.runtime import attempt as attempts
from pipec.runtime import console, replay, runstore
from pipec.runtime.node import Node, is_fatal, skip_reason
from pipec.runtime.runstore import StepCall, StoredRun
from pipec.runtime.step import AttemptFn, Lifecycle
from pipec.runtime.values import resolve
from pipec.runtime.view import RunView
from pipec.runtime.watch import watch
from pipec.store import Store

ENGINE_FEATURES = frozenset(
    {
        "deferred_values",
        "task_steps",
        "retry_callable",
        "pre_execute_callback",
        "post_execute_callback",
        "status_change_callback",
        "step_task_created_callback",
        "step_task_completed_callback",
        "docker",
        "repo",
    }
)
"""The optional features (`pipec.contract.FEATURES`) an engine adapter gets faithfully by
running its steps through `EngineRun.step`: callbacks and callable retries run in the
step's engine task, with a `RunView` as their `pipeline`; steps with `docker` / `repo`
options run in the workers' environment, as ClearML's local mode runs them
(`codegen.check_environment` warns, or refuses with the compile option)."""


@dataclass(frozen=True)
class StepOutcome:
    """How a step's engine task ended, for the engine to map onto its own states."""

    record: StepRecord
    retry: bool
    """A failed attempt that `retry_on_failure` retries: the engine starts another try
    of the task (raise `StepRetry`), which continues the step with its next attempt."""
    message: str
    """One line for the engine's log and state."""

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def skipped(self) -> bool:
        return self.record.status == "skipped"

    @property
    def cached(self) -> bool:
        return self.record.status == "cached"

    @property
    def failed(self) -> bool:
        """Failed or aborted, and not to be retried: the engine's task fails."""
        return not self.retry and self.record.status not in (*SUCCEEDED, "skipped")

    def handoff(self) -> dict[str, Any]:
        """What the step's engine task hands on (XCom, a task's result): status, cache hit
        and output URIs, never the data."""
        return handoff(self.record)


class StepRetry(Exception):
    """Raised by an engine task whose step `retry_on_failure` retries: the engine's own
    retry starts the step's next attempt."""


def handoff(record: StepRecord) -> dict[str, Any]:
    """A step record as the small JSON an engine passes between tasks."""
    return {
        "status": record.status,
        "cache_hit": record.cache_hit,
        "outputs": {k: v.uri for k, v in record.outputs.items()},
    }


def _message(name: str, record: StepRecord, retry: bool) -> str:
    if retry:
        return f"step {name!r} attempt {len(record.attempts)} failed: {record.error}"
    if record.status == "cached":
        return (
            f"step {name!r} cached: reused the outputs of {record.cached_from} "
            f"(cache key {record.cache_key})"
        )
    if record.status == "completed":
        return f"step {name!r} completed after {len(record.attempts)} attempt(s)"
    return f"step {name!r} {record.status}: {record.error}"


_STOP_CHECKS: dict[str, tuple[float, bool]] = {}


def _stopped(run: StoredRun) -> bool:
    """Whether the run was stopped, read from its record at most once a second in this
    process, however many of the run's attempts it watches (a wide fan-out has hundreds)."""
    key = run.store.uri(run.files.record)
    now = time.monotonic()
    checked = _STOP_CHECKS.get(key)
    if checked is None or now - checked[0] >= 1.0:
        checked = _STOP_CHECKS[key] = (now, run.run_record().status != "running")
    return checked[1]


class EngineRun:
    """One pipec run scheduled by an engine, as each of its tasks sees it."""

    def __init__(self, run: StoredRun, target: str) -> None:
        self.state = run
        self.target = target

    @classmethod
    def begin(
        cls, store: Store, pipeline: Pipeline, run_id: str, target: str, params: dict[str, Any]
    ) -> EngineRun:
        """Open a new run: its IR (with this run's parameter values), its record, and every
        step's spec, so each task finds its step in the store."""
        console.limit()  # a wrong setting fails here, before any step
        run, record = runstore.begin(store, pipeline, run_id, target, params)
        for step in run.pipeline.steps:
            run.write_spec(step)
        record.steps = [step.name for step in run.pipeline.steps]
        run.write_record(record)
        return cls(run, target)

    @classmethod
    def open(cls, storage: str | None, pipeline: str, run_id: str, target: str) -> EngineRun:
        """A run `begin` opened, read back from the store (in any task, on any worker)."""
        return cls(runstore.open_run(Store.resolve(storage), pipeline, run_id), target)

    @property
    def run_id(self) -> str:
        return self.state.run_id

    @property
    def pipeline(self) -> Pipeline:
        return self.state.pipeline

    @property
    def store(self) -> Store:
        return self.state.store

    def call(self, step: str, project_dir: str) -> StepCall:
        return self.state.call(step, project_dir)

    # ---------------------------------------------------------------- one step

    def attempt(
        self,
        step: str,
        number: int,
        *,
        project_dir: str,
        echo: Callable[[str], None],
        time_limit: float | None = None,
        interrupts: tuple[type[BaseException], ...] = (),
        processes: str = "forkserver",
    ) -> StepRecord:
        """Attempt `number` of `step`, in a step process this task watches: a stop from
        another task (`abort_on_failure`) kills it, and so does one of `interrupts` that
        the engine raises in this thread (its enforcement of `time_limit`, a cancel),
        recorded `aborted`. Its output goes to `echo`, line by line."""
        interrupted = f"time_limit {time_limit:g}s exceeded" if time_limit else "cancelled"
        return watch(
            self.state,
            self.call(step, project_dir),
            number,
            echo=echo,
            stopped=lambda: _stopped(self.state),
            interrupts=interrupts,
            interrupted=interrupted,
            processes=processes,
        )

    def attempt_here(self, step: str, number: int, *, project_dir: str) -> StepRecord:
        """Attempt `number` of `step` in this very process, no step process started: for an
        engine whose task already is a process of its own that the engine kills to stop it
        (a Ray task), so nothing else may run in it meanwhile. The scheduler that waits for
        the task records a kill with `end_attempt`. What the attempt writes to `sys.stdout`
        / `sys.stderr` is its console, as on the `debug` target (`pipec.runtime.console`)."""
        log = console.ConsoleLog(self.state, step, number)
        try:
            with console.capturing(log):
                record = attempts.execute(self.call(step, project_dir), number)
        finally:
            log.close()
        return log.stamp(self.state, record)

    def end_attempt(self, step: str, number: int, status: str, error: str) -> StepRecord:
        """Record attempt `number` of `step` as `status` (`aborted`, `failed`) with `error`,
        when its engine task ended without recording it (killed at its time limit, on a
        stop, or crashed); what it stored goes. An attempt that recorded itself first
        (it ended as the kill came) keeps its own record."""
        record = self.state.step_record(step)
        if record.status != "running" or any(a.number == number for a in record.attempts):
            return record
        return runstore.end_attempt(self.state, step, number, status, error)

    def stopped(self) -> bool:
        """Whether the run was stopped (`abort_on_failure`, a controller's `stop()`), so
        a scheduler kills the attempts it waits for; read from the run's record at most
        once a second in this process."""
        return _stopped(self.state)

    def step(
        self,
        name: str,
        *,
        project_dir: str,
        retry: bool,
        refresh: bool,
        echo: Callable[[str], None],
        interrupts: tuple[type[BaseException], ...] = (),
        processes: str = "forkserver",
    ) -> StepOutcome:
        """Run one step in its engine task, through the same `Lifecycle` as on the local
        target; `retry` says the engine is retrying the task (a step an earlier try left
        for the engine to retry continues with its next attempt), `refresh` runs it
        despite the cache. A callback that raises fails the step, as on the local target;
        a fatal failure under `abort_on_failure` stops the run here."""

        def attempt(number: int, time_limit: float | None) -> StepRecord:
            return self.attempt(
                name,
                number,
                project_dir=project_dir,
                echo=echo,
                time_limit=time_limit,
                interrupts=interrupts,
                processes=processes,
            )

        node, record = self.run_step(name, attempt, refresh=refresh, retry=retry)
        again = node.status == "running"
        return StepOutcome(record=record, retry=again, message=_message(name, record, again))

    def run_step(
        self, name: str, attempt: AttemptFn, *, refresh: bool, retry: bool
    ) -> tuple[Node, StepRecord]:
        """`step` with the engine's own way of running an attempt (`attempt`); the node
        is still `running` when the engine is to retry."""
        run = self.state
        step = run.step(name)
        node = Node.of(step)
        lifecycle = Lifecycle(
            run=run,
            controller=RunView(run),
            target=self.target,
            refresh=refresh,
            engine_retries=True,
        )
        try:
            if retry and self._was_retried(name):
                record = lifecycle.resume_node(node, step, attempt)
            else:
                reason = self._blocked(name)
                if reason is not None:
                    return node, lifecycle.skip(node, step, reason)
                record = lifecycle.run_node(node, step, attempt)
        except Exception as exc:  # a callback raised
            record = runstore.callback_failed(run, name, exc)
            node.status = "failed"
        if is_fatal(node, record) and run.pipeline.policies.abort_on_failure:
            self.stop()
        return node, record

    def _blocked(self, name: str) -> str | None:
        """Why the step must be skipped: the run was stopped, or ClearML's parent rules."""
        run = self.state
        if run.run_record().status != "running":
            return "the pipeline was stopped"
        step = run.step(name)
        return skip_reason([(Node.of(run.step(p)), run.step_record(p)) for p in step.parents])

    def _was_retried(self, name: str) -> bool:
        """An earlier try of this step's task left the step for the engine to retry."""
        try:
            return self.state.step_record(name).status in ("failed", "running")
        except LookupError:
            return False

    def stop(self) -> None:
        """`abort_on_failure`: steps that have not started yet are skipped, running ones
        aborted (their watch sees the record)."""
        record = self.state.run_record()
        record.status = "failed"
        self.state.write_record(record)

    # ---------------------------------------------------------------- the whole run

    def abort(self, reason: str) -> RunRecord | None:
        """The engine ended the run from outside before it concluded (a cancelled,
        crashed or timed-out engine run): the run and the steps it left running are
        recorded `aborted`, so `pipec runs resume` can continue it. None when the run
        had concluded already (a hook of a run that ended by itself)."""
        run = self.state
        record = run.run_record()
        if record.ended is not None:
            return None
        for name in record.steps:
            runstore.abort_step(run, name, reason)
        return runstore.conclude(run, record, self.outcomes(), stopped=reason)

    def outcomes(self) -> list[tuple[Node, StepRecord]]:
        """Each step of the run (those its logic added too) with its node and final record;
        a step whose task never ran counts as aborted."""
        run, found = self.state, []
        for name in run.run_record().steps:
            try:
                step = run.step_record(name)
            except LookupError:
                step = StepRecord(name=name, id=run.files.step_id(name), status="aborted",
                                  error="never ran")  # fmt: skip
            found.append((Node.of(run.step(name)), step))
        return found

    def conclude(
        self,
        *,
        replay_from: str | None = None,
        load_module: Callable[[], dict[str, Any] | None] | None = None,
    ) -> RunRecord:
        """The final run record, from every step's record in the store.

        With `replay_from` (the project directory the pipeline was compiled in), a
        decorator pipeline's logic is replayed with the run's values (`pipec.runtime.replay`):
        its prints happen in the calling task, and what it raises fails the run, as when
        the logic runs live. Logic that reads its module's globals gets them from
        `load_module` (the pipeline file loaded there), when that gives them. Without a
        replay the return value is the traced expression.
        """
        run = self.state
        record = run.run_record()
        record.status = "running"  # a `stop` marked it; `conclude` says what the outcome was
        steps = self.outcomes()
        controller = run.pipeline.controller
        if replay_from is not None and controller is not None:
            missing = replay.missing_globals(controller)
            if not missing:
                return self._replayed(record, steps, None)
            module = load_module() if load_module is not None else None
            if module is not None:
                return self._replayed(record, steps, module)
            print(
                f"pipec: the pipeline logic ({controller.location}) is not replayed: it reads "
                f"{', '.join(missing)} from its module, and {run.pipeline.source.file} is not "
                f"in {replay_from} on this machine"
            )
        if not any(is_fatal(node, step) for node, step in steps):
            record.return_value = self._return_value()
        return runstore.conclude(run, record, steps)

    def _replayed(
        self,
        record: RunRecord,
        steps: list[tuple[Node, StepRecord]],
        module: dict[str, Any] | None,
    ) -> RunRecord:
        """The run concluded by its replayed logic: what the logic raises is the run's error,
        unless a step failed the run (the logic then tripped over what that step left, as
        `pipec.runtime.logic.run_logic` says): the first failed step's error is the run's."""
        run = self.state
        try:
            value = replay.replay(run, {node.name: (node, step) for node, step in steps}, module)
        except Exception as exc:
            if any(is_fatal(node, step) for node, step in steps):
                return runstore.conclude(run, record, steps)
            error = describe_error(exc, "in the pipeline logic, replayed with the run's values")
            return runstore.conclude(run, record, steps, error=error)
        if value is not None:
            record.return_value = run.put(None, "outputs", "return_value", value)
        return runstore.conclude(run, record, steps)

    def _return_value(self) -> StoredValue | None:
        """A decorator pipeline's return value, from the IR's expression of step outputs
        (an engine does not run the pipeline logic itself)."""
        run = self.state
        controller = run.pipeline.controller
        if controller is None or controller.return_value is None:
            return None
        try:
            value = resolve(controller.return_value, run)
        except LookupError:  # it reads a step that did not complete
            return None
        if value is None:
            return None
        return run.put(None, "outputs", "return_value", value)

    def summary(self) -> tuple[RunRecord, dict[str, Any]]:
        """The run record and the `--json` summary, the same shape as the local target's."""
        record = self.state.run_record()
        steps = [step for _, step in self.outcomes()]
        return record, runstore.summary(self.state, record, steps)
