"""Steps an engine schedules: each engine task decides from the store, not from the engine.

An engine (Airflow, Prefect) only orders the step tasks; every task opens the pipec
run from the store, asks the parents' records whether to run (ClearML's skip rules,
the same `skip_reason` the local scheduler uses), and a fatal failure under
`abort_on_failure` marks the run stopped so steps not started yet are skipped and
steps already running are aborted (`watch_attempt`). These are the engine-independent
pieces of that, shared by the engine adapters.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from pipec.ir import Step
from pipec.records import FINISHED, SUCCEEDED, RunRecord, StepRecord, StoredValue
from pipec.runtime import forkserver, replay, runs, shim
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.forkserver import StepProcess
from pipec.runtime.lifecycle import AttemptFn, Lifecycle, Node, is_fatal, skip_reason
from pipec.runtime.values import resolve
from pipec.store import Store

FEATURES = frozenset(
    {
        "deferred_values",
        "task_steps",
        "retry_callable",
        "pre_execute_callback",
        "post_execute_callback",
        "status_change_callback",
        "step_task_created_callback",
        "step_task_completed_callback",
    }
)
"""The optional features (`pipec.validate.FEATURES`) an engine adapter gets faithfully by
running its steps through `run_step`: callbacks and callable retries run in the step's
engine task, with a `RunView` as their `pipeline`."""


def open_run(storage: str | None, pipeline: str, run_id: str) -> StoredRun:
    """A run `runs.begin` opened, read back from the store."""
    where = StepCall(
        store=Store.resolve(storage).url, pipeline=pipeline, run_id=run_id, step="", project_dir=""
    )
    return shim.open_run(where)


def write_specs(run: StoredRun, record: RunRecord) -> None:
    """Every step's spec and the step list, so each task finds its step in the store."""
    for step in run.pipeline.steps:
        run.store.write_model(run.files.step_spec(step.name), step)
    record.steps = [step.name for step in run.pipeline.steps]
    run.store.write_model(run.files.record, record)


def blocked(run: StoredRun, step: Step) -> str | None:
    """Why the step must be skipped: the run was stopped, or ClearML's parent rules."""
    if run.run_record().status != "running":
        return "the pipeline was stopped"
    return skip_reason([(Node.of(run.step(p)), run.step_record(p)) for p in step.parents])


def stop(run: StoredRun) -> None:
    """`abort_on_failure`: steps that have not started yet are skipped."""
    record = run.run_record()
    record.status = "failed"
    run.store.write_model(run.files.record, record)


def watch_attempt(
    run: StoredRun,
    call: StepCall,
    number: int,
    *,
    echo: Callable[[str], None],
    interrupts: tuple[type[BaseException], ...],
    interrupted: str,
) -> StepRecord:
    """Attempt `number` of `call`'s step in a step process of pipec's fork server, as on
    the local target, with the engine's task watching it.

    The engine's task cannot be reached by another task's `stop`, but it can notice it:
    the watch polls the run record and kills the attempt when the run was stopped
    (`abort_on_failure`), recording it aborted as the local target does. The engine
    enforces the time limit by raising one of `interrupts` in the waiting thread (Prefect
    cancels it, Airflow's SIGALRM raises): the attempt is killed and recorded aborted
    with `interrupted` as the reason. The attempt's output goes to `echo`, line by line.
    """
    proc = forkserver.spawn(call, number)
    reader = threading.Thread(target=forkserver.forward, args=(proc, echo), daemon=True)
    reader.start()
    why: str | None = None
    try:
        if not _wait(proc, run):
            why = "the pipeline was stopped"
    except interrupts:
        why = interrupted
    finally:
        if proc.returncode is None:  # stopped, interrupted, or the engine's task is ending
            proc.kill()
            proc.wait()
        reader.join()
    if why is not None:
        return runs.end_attempt(run, call.step, number, "aborted", why)
    assert proc.returncode is not None
    return runs.ended_process(run, call.step, number, proc.returncode)


def _wait(proc: StepProcess, run: StoredRun) -> bool:
    """Wait for the attempt; False when the run was stopped (`abort_on_failure`) first.

    Short polls: an exception the engine sends to this thread (its time limit) is raised
    only while Python code runs, never inside one long blocking wait."""
    while True:
        try:
            proc.wait(timeout=0.2)
            return True
        except subprocess.TimeoutExpired:
            if _stopped(run):
                return False


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


def _was_retried(run: StoredRun, name: str) -> bool:
    """An earlier try of this step's task left the step for the engine to retry."""
    try:
        return run.step_record(name).status in ("failed", "running")
    except LookupError:
        return False


class RunView:
    """The `pipeline` an engine step's callbacks receive: ClearML's controller view of
    the run (`id`, `get_pipeline_dag()`, `get_running_nodes()`, `get_processed_nodes()`),
    read from the store, since the controller of an engine run is no one object."""

    def __init__(self, run: StoredRun) -> None:
        self.run = run

    @property
    def id(self) -> str:
        return self.run.run_id

    def get_pipeline_dag(self) -> dict[str, Node]:
        nodes = {}
        for step in self.run.pipeline.steps:
            node = Node.of(step)
            try:
                record = self.run.step_record(step.name)
            except LookupError:
                pass
            else:
                node.status = record.status
                node.executed = record.id if record.status in SUCCEEDED else None
            nodes[step.name] = node
        return nodes

    def get_running_nodes(self) -> list[str]:
        return [n for n, node in self.get_pipeline_dag().items() if node.status == "running"]

    def get_processed_nodes(self) -> list[str]:
        return [n for n, node in self.get_pipeline_dag().items() if node.status in FINISHED]


def run_step(
    run: StoredRun, name: str, attempt: AttemptFn, *, target: str, refresh: bool, retry: bool
) -> tuple[Node, StepRecord]:
    """One step in its engine task, through the same `Lifecycle` as on the local target.

    `retry` says the engine is retrying the task: a step an earlier try left for the
    engine to retry continues with its next attempt. A node still `running` afterwards
    asks the engine for another try; a skipped one was blocked (`blocked`). A callback
    that raises fails the step, as on the local target. A fatal failure under
    `abort_on_failure` stops the run here.
    """
    step = run.step(name)
    node = Node.of(step)
    lifecycle = Lifecycle(
        run=run, controller=RunView(run), target=target, refresh=refresh, engine_retries=True
    )
    try:
        if retry and _was_retried(run, name):
            record = lifecycle.resume_node(node, step, attempt)
        else:
            reason = blocked(run, step)
            if reason is not None:
                return node, lifecycle.skip(node, step, reason)
            record = lifecycle.run_node(node, step, attempt)
    except Exception as exc:  # a callback raised
        record = runs.callback_failed(run, name, exc)
        node.status = "failed"
    if is_fatal(node, record) and run.pipeline.policies.abort_on_failure:
        stop(run)
    return node, record


def small(record: StepRecord) -> dict[str, Any]:
    """What a step's engine task hands on (XCom, a task's result): status, cache hit and
    output URIs, never the data."""
    return {
        "status": record.status,
        "cache_hit": record.cache_hit,
        "outputs": {k: v.uri for k, v in record.outputs.items()},
    }


def outcomes(run: StoredRun, record: RunRecord) -> list[tuple[Node, StepRecord]]:
    """Each step of the run (those its logic added too) with its node and final record; a
    step whose task never ran counts as aborted."""
    found = []
    for name in record.steps:
        try:
            step = run.step_record(name)
        except LookupError:
            step = StepRecord(name=name, id=run.files.step_id(name), status="aborted",
                              error="never ran")  # fmt: skip
        found.append((Node.of(run.step(name)), step))
    return found


def conclude(run: StoredRun, *, replay_from: str | None = None) -> RunRecord:
    """The final run record, from every step's record in the store.

    With `replay_from` (the project directory the pipeline was compiled in), a decorator
    pipeline's logic is replayed with the run's values (`pipec.runtime.replay`): its
    prints happen in the calling task, and what it raises fails the run, as when the
    logic runs live. Logic that reads its module's globals gets them from the pipeline
    file there, when this machine has it. Without a replay the return value is the
    traced expression.
    """
    record = run.run_record()
    record.status = "running"  # a `stop` marked it; `conclude` says what the outcome was
    steps = outcomes(run, record)
    controller = run.pipeline.controller
    if replay_from is not None and controller is not None:
        missing = replay.missing_globals(controller)
        if not missing:
            return _replayed(run, record, steps, None)
        module = replay.module_globals(run, replay_from)
        if module is not None:
            return _replayed(run, record, steps, module)
        print(
            f"pipec: the pipeline logic ({controller.location}) is not replayed: it reads "
            f"{', '.join(missing)} from its module, and {run.pipeline.source.file} is not "
            f"in {replay_from} on this machine"
        )
    if not any(is_fatal(node, step) for node, step in steps):
        record.return_value = return_value(run)
    return runs.conclude(run, record, steps)


def _replayed(
    run: StoredRun,
    record: RunRecord,
    steps: list[tuple[Node, StepRecord]],
    module: dict[str, Any] | None,
) -> RunRecord:
    """The run concluded by its replayed logic: what the logic raises is the run's error."""
    try:
        value = replay.replay(run, {node.name: (node, step) for node, step in steps}, module)
    except Exception as exc:
        error = shim.describe_error(exc, "in the pipeline logic, replayed with the run's values")
        return runs.conclude(run, record, steps, error=error)
    if value is not None:
        record.return_value = run.put(f"{run.files.controller_dir}/return_value", value)
    return runs.conclude(run, record, steps)


def return_value(run: StoredRun) -> StoredValue | None:
    """A decorator pipeline's return value, from the IR's expression of step outputs
    (an engine does not run the pipeline logic itself)."""
    controller = run.pipeline.controller
    if controller is None or controller.return_value is None:
        return None
    try:
        value = resolve(controller.return_value, run)
    except LookupError:  # it reads a step that did not complete
        return None
    if value is None:
        return None
    return run.put(f"{run.files.controller_dir}/return_value", value)


def summary(run: StoredRun) -> tuple[RunRecord, dict[str, Any]]:
    """The run record and the `--json` summary, the same shape as the local target's."""
    record = run.run_record()
    steps = [step for _, step in outcomes(run, record)]
    return record, runs.summary(run, record, steps)
