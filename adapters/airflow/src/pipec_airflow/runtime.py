"""What the DAG file's tasks call on the worker: pipec's shared runtime, nothing more.

`begin` opens the pipec run (the IR with this DAG run's params, the run record and
every step's spec), `step` runs one step through `Lifecycle` (skip rules, cache,
attempts, `retry_on_failure`) exactly as the local scheduler does, and `end`
concludes the run record. Airflow only orders the tasks: every step task runs when
its upstream tasks are done and asks the parents' records whether to run, so
ClearML's continue / skip semantics are the local target's by construction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, AirflowTaskTimeout
from pipec.ir import Pipeline, Step
from pipec.records import RunRecord, StepRecord
from pipec.runtime import runs, shim
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import AttemptFn, Lifecycle, Node, is_fatal, skip_reason
from pipec.store import Store, slug

TARGET = "airflow"


class StepRetry(Exception):
    """A failed attempt that `retry_on_failure` retries: Airflow starts the next try."""


def run_id(context: dict[str, Any]) -> str:
    """The pipec run id of a DAG run: its Airflow run id as one safe path segment."""
    return slug(context["run_id"])


def open_run(storage: str | None, pipeline: str, run: str) -> StoredRun:
    """A run `begin` opened, from the store."""
    where = StepCall(
        store=Store.resolve(storage).url, pipeline=pipeline, run_id=run, step="", project_dir=""
    )
    return shim.open_run(where)


def _this_run(storage: str | None, context: dict[str, Any]) -> StoredRun:
    """The pipec run of this DAG run (`begin` says which pipeline it is)."""
    opened = context["ti"].xcom_pull(task_ids="pipec_begin")
    return open_run(storage, opened["pipeline"], run_id(context))


def call(
    action: str,
    step: str | None,
    pipeline_file: Path,
    storage: str | None,
    project_dir: str,
    context: dict[str, Any],
) -> dict[str, Any]:
    """The one entry point of the generated tasks; returns small JSON for XCom."""
    if action == "begin":
        return begin(pipeline_file, storage, context)
    if action == "end":
        return end(storage, context)
    assert step is not None
    return run_step(step, storage, project_dir, context)


def begin(pipeline_file: Path, storage: str | None, context: dict[str, Any]) -> dict[str, Any]:
    store = Store.resolve(storage)
    store.check()
    pipeline = Pipeline.model_validate_json(Path(pipeline_file).read_text(encoding="utf-8"))
    known = {p.name for p in pipeline.parameters}
    params = {k: v for k, v in dict(context["params"]).items() if k in known}
    state, record = runs.begin(store, pipeline, run_id(context), TARGET, params)
    for step in state.pipeline.steps:
        store.write_model(state.files.step_spec(step.name), step)
    record.steps = [step.name for step in state.pipeline.steps]
    store.write_model(state.files.record, record)
    print(f"pipec: run {state.run_id} of {pipeline.name!r} in {store.url}")
    return {"pipeline": pipeline.name, "run_id": state.run_id, "storage": store.url}


def _attempt(run: StoredRun, call: StepCall) -> AttemptFn:
    """One attempt in this task process; Airflow's `execution_timeout` is the time limit."""

    def attempt(number: int, time_limit: float | None) -> StepRecord:
        try:
            return shim.execute(call, number)
        except AirflowTaskTimeout:
            return runs.end_attempt(
                run, call.step, number, "aborted", f"time_limit {time_limit}s exceeded"
            )

    return attempt


def _blocked(run: StoredRun, step: Step) -> str | None:
    """Why the step must be skipped: the run was stopped, or ClearML's parent rules."""
    if run.run_record().status != "running":
        return "the pipeline was stopped"
    return skip_reason([(Node.of(run.step(p)), run.step_record(p)) for p in step.parents])


def run_step(name: str, storage: str | None, project_dir: str, context: dict[str, Any]) -> dict:
    run = _this_run(storage, context)
    step = run.step(name)
    node = Node.of(step)
    lifecycle = Lifecycle(run=run, controller=None, target=TARGET, engine_retries=True)
    call = StepCall(
        store=run.store.url,
        pipeline=run.pipeline.name,
        run_id=run.run_id,
        step=name,
        project_dir=project_dir,
    )
    if context["ti"].try_number > 1 and _was_retried(run, name):
        record = lifecycle.resume_node(node, step, _attempt(run, call))
    else:
        reason = _blocked(run, step)
        if reason is not None:
            lifecycle.skip(node, step, reason)
            raise AirflowSkipException(f"pipec: step {name!r} skipped: {reason}")
        record = lifecycle.run_node(node, step, _attempt(run, call))
    if node.status == "running":
        attempt = len(record.attempts)
        raise StepRetry(f"pipec: step {name!r} attempt {attempt} failed: {record.error}")
    print(f"pipec: step {name!r} {_outcome(record)}")
    if record.status not in ("completed", "cached"):
        if is_fatal(node, record) and run.pipeline.policies.abort_on_failure:
            _stop(run)
        raise AirflowFailException(f"pipec: step {name!r} {record.status}: {record.error}")
    return {
        "status": record.status,
        "cache_hit": record.cache_hit,
        "outputs": {k: v.uri for k, v in record.outputs.items()},
    }


def _was_retried(run: StoredRun, name: str) -> bool:
    """An earlier try of this task left the step for the engine to retry."""
    try:
        return run.step_record(name).status in ("failed", "running")
    except LookupError:
        return False


def _outcome(record: StepRecord) -> str:
    if record.cache_hit:
        return f"cached: reused the outputs of {record.cached_from} (cache key {record.cache_key})"
    return f"{record.status} after {len(record.attempts)} attempt(s)"


def _stop(run: StoredRun) -> None:
    """`abort_on_failure`: steps that have not started yet are skipped."""
    record = run.run_record()
    record.status = "failed"
    run.store.write_model(run.files.record, record)


def end(storage: str | None, context: dict[str, Any]) -> dict[str, Any]:
    run = _this_run(storage, context)
    record = run.run_record()
    record.status = "running"
    record = runs.conclude(run, record, [_outcome_of(run, s) for s in run.pipeline.steps])
    print(f"pipec: run {run.run_id} {record.status}", record.error or "")
    if record.status != "completed":
        raise AirflowFailException(f"pipec: pipeline {run.pipeline.name!r} {record.status}")
    return {"status": record.status, "run_id": run.run_id}


def _outcome_of(run: StoredRun, step: Step) -> tuple[Node, StepRecord]:
    try:
        record = run.step_record(step.name)
    except LookupError:  # its task never ran (the DAG run was cut short)
        record = StepRecord(
            name=step.name, id=run.files.step_id(step.name), status="aborted", error="never ran"
        )
    return Node.of(step), record


def summary(run: StoredRun) -> tuple[RunRecord, dict[str, Any]]:
    """The run record and the `--json` summary, the same shape as the local target's."""
    record = run.run_record()
    steps = [_outcome_of(run, step)[1] for step in run.pipeline.steps]
    return record, runs.summary(run, record, steps)
