"""Dynamic decorator pipelines on Prefect: the pipeline's own logic is the flow body.

A decorator pipeline whose logic decides from step values which steps run next
(`if accuracy < x: retrain()`, loops) is not a fixed set of tasks. Its flow runs the logic
itself, exactly as the local target does (`pipec.runtime.runner.run_logic`): the user's
pipeline file is loaded in capture mode (nothing in it starts a run), each component call
adds a step and returns proxies that block only when their value is used, and each
attempt of a step is a Prefect task run of this flow run, with the step's timeout and
tags. The worker therefore needs the user's pipeline file where it was compiled
(`PROJECT_DIR` joined with the IR's source file) and what that file imports.
"""

from __future__ import annotations

import functools
from typing import Any

from pipec.capture.session import pipeline_logic
from pipec.ir import Pipeline, Step
from pipec.records import SUCCEEDED, RunRecord, StepRecord
from pipec.runtime import runs, scheduled
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import AttemptFn
from pipec.runtime.runner import PipelineRun, RunOptions, run_logic
from pipec.runtime.start import Logic
from pipec.store import Store
from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed, State

from pipec_prefect import runtime


def run_pipeline_logic(
    pipeline: Pipeline, params: dict[str, Any], store: Store, project_dir: str
) -> tuple[StoredRun, RunRecord]:
    """A dynamic pipeline's run, its logic running here; the run and its final record."""
    logic = Logic(function=pipeline_logic(pipeline, project_dir))
    options = RunOptions(
        target=runtime.TARGET,
        storage=store.url,
        params=params,
        refresh=runtime.REFRESH.get(),
        quiet=True,
    )
    run_id = runtime.run_id(flow_run.id)
    try:
        record = run_logic(
            pipeline, options, logic, TaskAttempts(), run_id=run_id, project_dir=project_dir
        ).record
    except Exception:
        if logic.failed_run is None:  # the run never began
            raise
        record = logic.failed_run.record  # the logic raised: recorded as the run's error
    finally:
        opened = runtime.OPEN_RUNS.pop(run_id, None)
    return opened or scheduled.open_run(store.url, pipeline.name, run_id), record


class TaskAttempts:
    """Each attempt of a step is a Prefect task run (`attempt_task`), made in the thread
    the run's scheduler gives the step; concurrent steps are concurrent task runs."""

    serial = False

    def attempt(self, run: PipelineRun, step: Step) -> AttemptFn:
        runtime.OPEN_RUNS.setdefault(run.run_id, run.state)
        _, _, tags = runtime.policies(run.pipeline, step)

        def attempt(number: int, time_limit: float | None) -> StepRecord:
            state = _attempt_variant(time_limit, tags)(
                run.store.url,
                run.pipeline.name,
                run.run_id,
                step.name,
                run.project_dir,
                number,
                time_limit,
                return_state=True,
            )
            record = run.state.step_record(step.name)
            if record.status == "running":  # the task run ended before the attempt could
                error = f"its Prefect task run ended {state.name}: {state.message}"
                record = runs.end_attempt(run.state, step.name, number, "failed", error)
            return record

        return attempt

    def stop(self) -> None:
        """Nothing to do: a watched attempt sees the stop in the run record."""


@functools.cache
def _attempt_variant(timeout: float | None, tags: tuple[str, ...]) -> Task[..., Any]:
    """`attempt_task` with a step's timeout and tags (one per distinct pair)."""
    return attempt_task.with_options(timeout_seconds=timeout, tags=list(tags))


@task(
    name="pipec-attempt",
    task_run_name="{step} #{number}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def attempt_task(
    storage: str,
    pipeline: str,
    run_id: str,
    step: str,
    project_dir: str,
    number: int,
    time_limit: float | None,
) -> dict[str, Any] | State:
    """Attempt `number` of a step of a dynamic pipeline, in a watched step process."""
    run = runtime.OPEN_RUNS.get(run_id) or scheduled.open_run(storage, pipeline, run_id)
    call = StepCall(
        store=run.store.url, pipeline=pipeline, run_id=run_id, step=step, project_dir=project_dir
    )
    record = runtime.watched(run, call)(number, time_limit)
    if record.status not in SUCCEEDED:
        return Failed(message=f"step {step!r} {record.status}: {record.error}")
    return scheduled.small(record)
