"""A run's own records: how a run begins and concludes, whoever schedules its steps.

The local scheduler (`PipelineRun`) and engine adapters (an Airflow DAG's first
and last task) call these, so a run's `pipeline.json`, `run.json`, final status
and `--json` summary are the same on every target.
"""

from __future__ import annotations

import secrets
import signal
import time
from datetime import datetime
from typing import Any

from pipec import events
from pipec.capture.trace import literal
from pipec.errors import UsageError
from pipec.ir import Pipeline
from pipec.records import Attempt, RunRecord, StepRecord, jsonable
from pipec.runtime.context import StoredRun
from pipec.runtime.lifecycle import Node, is_fatal
from pipec.runtime.values import resolve
from pipec.store import Store


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def with_parameters(pipeline: Pipeline, values: dict[str, Any]) -> Pipeline:
    """The pipeline with this run's parameter values as the parameters' defaults."""
    known = {p.name for p in pipeline.parameters}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(
            f"pipeline {pipeline.name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(sorted(known)) or 'none'}"
        )
    params = []
    for p in pipeline.parameters:
        if p.name in values:
            p = p.model_copy(update={"default": literal(values[p.name]), "required": False})
        elif p.required:
            raise UsageError(f"pipeline {pipeline.name!r} needs a value for parameter {p.name!r}")
        params.append(p)
    return pipeline.model_copy(update={"parameters": params})


def begin(
    store: Store, pipeline: Pipeline, run_id: str, target: str, params: dict[str, Any]
) -> tuple[StoredRun, RunRecord]:
    """Write the run's IR (with this run's parameter values) and its first record."""
    pipeline = with_parameters(pipeline, params)
    state = StoredRun(store, pipeline, run_id)
    record = RunRecord(
        run_id=run_id,
        pipeline=pipeline.name,
        target=target,
        started=time.time(),
        parameters={
            p.name: jsonable(resolve(state.parameter(p.name), state)) for p in pipeline.parameters
        },
    )
    store.write_model(state.files.ir, pipeline)
    store.write_model(state.files.head, pipeline.model_copy(update={"steps": []}))
    store.write_model(state.files.record, record)
    events.run_event(record, "started")
    return state, record


def end_attempt(run: StoredRun, step: str, number: int, status: str, error: str) -> StepRecord:
    """Record an attempt the step itself could not record (killed, timed out).

    Whatever that attempt stored is in no record and may be half written: it goes."""
    record = run.step_record(step)
    for folder in ("outputs", "artifacts", "models"):
        run.store.remove(f"{run.files.step_dir(step)}/{folder}")
    record.outputs, record.artifacts, record.models = {}, {}, {}
    now = time.time()
    started = record.started or now
    record.attempts.append(
        Attempt(number=number, status=status, started=started, ended=now, error=error)  # type: ignore[arg-type]
    )
    record.status, record.error = status, f"step {step!r}: {error}"  # type: ignore[assignment]
    run.store.write_model(run.files.step_record(step), record)
    return record


def callback_failed(run: StoredRun, step: str, exc: Exception) -> StepRecord:
    """A step whose callback raised: it fails, and the run goes on as for any failure."""
    return end_attempt(run, step, 1, "failed", f"a callback raised {type(exc).__name__}: {exc}")


def ended_process(
    run: StoredRun, step: str, number: int, returncode: int, *, stopped: bool = False
) -> StepRecord:
    """The record of an attempt whose process has ended: the one it wrote, or one that
    says how it died (killed by a signal: aborted when the run was `stopped`, else failed;
    gone before writing its record: failed)."""
    if returncode < 0:
        status = "aborted" if stopped else "failed"
        error = f"the step process was killed by {signal.Signals(-returncode).name}"
        return end_attempt(run, step, number, status, error)
    record = run.step_record(step)
    if record.status == "running":  # died before it could write its record
        error = f"the step process exited with {returncode}"
        return end_attempt(run, step, number, "failed", error)
    return record


def conclude(
    run: StoredRun,
    record: RunRecord,
    steps: list[tuple[Node, StepRecord]],
    *,
    error: str | None = None,
    stopped: bool = False,
) -> RunRecord:
    """Write the final run record: its status from the steps' outcomes (or the logic's
    `error`, or a `stop()`), and the pipeline-level view of what `monitor_*` forwarded."""
    failed = [step for node, step in steps if is_fatal(node, step)]
    if error is not None:
        record.status, record.error = "failed", error
    elif stopped:
        record.status, record.error = "aborted", "the pipeline was stopped"
    elif failed:
        record.status = "failed"
        record.error = "; ".join(step.error or step.name for step in failed)
    else:
        record.status = "completed"
    for _, step in steps:
        record.metrics.extend(step.monitored.metrics)
        record.artifacts.update(step.monitored.artifacts)
        record.models.update(step.monitored.models)
    record.ended = time.time()
    run.store.write_model(run.files.record, record)
    events.run_event(record, record.status)
    return record


def summary(run: StoredRun, record: RunRecord, steps: list[StepRecord]) -> dict[str, Any]:
    """The `--json` view of a run."""
    out: dict[str, Any] = {
        "run_id": record.run_id,
        "pipeline": record.pipeline,
        "target": record.target,
        "status": record.status,
        "storage": run.store.url,
        "steps": {
            step.name: {
                "status": step.status,
                "attempts": len(step.attempts),
                "duration": step.duration,
                "cache_hit": step.cache_hit,
                "outputs": {k: v.uri for k, v in step.outputs.items()},
                "error": step.error,
            }
            for step in steps
        },
    }
    if record.error:
        out["error"] = record.error
    if record.return_value is not None:
        value = jsonable(run.load(record.return_value))
        if value is not None:
            out["return_value"] = value
    return out
