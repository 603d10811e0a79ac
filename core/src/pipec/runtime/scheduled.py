"""Steps an engine schedules: each engine task decides from the store, not from the engine.

An engine (Airflow, Prefect) only orders the step tasks; every task opens the pipec
run from the store, asks the parents' records whether to run (ClearML's skip rules,
the same `skip_reason` the local scheduler uses), and a fatal failure under
`abort_on_failure` marks the run stopped so steps not started yet are skipped. These
are the engine-independent pieces of that, shared by the engine adapters.
"""

from __future__ import annotations

from typing import Any

from pipec.ir import Step
from pipec.records import RunRecord, StepRecord, StoredValue
from pipec.runtime import replay, runs, shim
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import Node, is_fatal, skip_reason
from pipec.runtime.values import resolve
from pipec.store import Store


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


def was_retried(run: StoredRun, name: str) -> bool:
    """An earlier try of this step's task left the step for the engine to retry."""
    try:
        return run.step_record(name).status in ("failed", "running")
    except LookupError:
        return False


def outcome(run: StoredRun, step: Step) -> tuple[Node, StepRecord]:
    """The step's node and final record; a step whose task never ran counts as aborted."""
    try:
        record = run.step_record(step.name)
    except LookupError:
        record = StepRecord(
            name=step.name, id=run.files.step_id(step.name), status="aborted", error="never ran"
        )
    return Node.of(step), record


def conclude(run: StoredRun, *, replay_logic: bool = False) -> RunRecord:
    """The final run record, from every step's record in the store.

    With `replay_logic`, a decorator pipeline's logic is replayed with the run's values
    (`pipec.runtime.replay`): its prints happen in the calling task, and what it raises
    fails the run, as when the logic runs live. Without it, or when the logic reads
    module globals a replay cannot provide, the return value is the traced expression.
    """
    record = run.run_record()
    record.status = "running"  # a `stop` marked it; `conclude` says what the outcome was
    steps = [outcome(run, step) for step in run.pipeline.steps]
    controller = run.pipeline.controller
    if replay_logic and controller is not None:
        missing = replay.missing_globals(controller)
        if not missing:
            return _replayed(run, record, steps)
        print(
            f"pipec: the pipeline logic ({controller.location}) is not replayed: it reads "
            f"{', '.join(missing)} from its module, which a replay does not have"
        )
    if not any(is_fatal(node, step) for node, step in steps):
        record.return_value = return_value(run)
    return runs.conclude(run, record, steps)


def _replayed(run: StoredRun, record: RunRecord, steps: list[tuple[Node, StepRecord]]) -> RunRecord:
    """The run concluded by its replayed logic: what the logic raises is the run's error."""
    try:
        value = replay.replay(run, {node.name: (node, step) for node, step in steps})
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
    steps = [outcome(run, step)[1] for step in run.pipeline.steps]
    return record, runs.summary(run, record, steps)
