"""Dynamic decorator pipelines on Prefect: the pipeline's own logic is the flow body.

A decorator pipeline whose logic decides from step values which steps run next
(`if accuracy < x: retrain()`, loops) is not a fixed set of tasks. Its flow runs the logic
itself, exactly as the local target does (`pipec.adapter.run_logic`): the user's pipeline
file is loaded in capture mode (nothing in it starts a run), each component call adds a
step and returns proxies that block only when their value is used, and each attempt of a
step is a Prefect task run of this flow run, with the step's timeout and tags. The worker
therefore needs the user's pipeline file where it was compiled (`PROJECT_DIR` joined with
the IR's source file) and what that file imports.
"""

from __future__ import annotations

import functools
from typing import Any

from pipec.adapter import EngineRun, RunRecord, Store, handoff, run_logic
from pipec.ir import Pipeline, Step
from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed, State

from pipec_prefect import flowrun


def run_pipeline_logic(
    pipeline: Pipeline, params: dict[str, Any], store: Store, project_dir: str
) -> tuple[EngineRun, RunRecord]:
    """A dynamic pipeline's run, its logic running here; the run and its final record."""
    run_id = flowrun.run_id(flow_run.id)

    def attempt(run: EngineRun, step: Step, number: int, time_limit: float | None) -> str | None:
        """Attempt `number` of `step` as a task run of this flow run (`attempt_task`)."""
        flowrun.OPEN_RUNS.setdefault(run.run_id, run)
        _, _, tags = flowrun.policies(run.pipeline, step)
        state = _attempt_variant(time_limit, tags)(
            run.store.url,
            run.pipeline.name,
            run.run_id,
            step.name,
            project_dir,
            number,
            time_limit,
            return_state=True,
        )
        return f"its Prefect task run ended {state.name}: {state.message}"

    try:
        return run_logic(
            pipeline,
            store=store,
            run_id=run_id,
            target=flowrun.TARGET,
            params=params,
            refresh=flowrun.REFRESH.get(),
            project_dir=project_dir,
            attempt=attempt,
        )
    finally:
        flowrun.OPEN_RUNS.pop(run_id, None)


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
    run = flowrun.open_run(storage, pipeline, run_id)
    record = run.attempt(
        step, number, project_dir=project_dir, time_limit=time_limit, **flowrun.watching()
    )
    if record.status not in ("completed", "cached"):
        return Failed(message=f"step {step!r} {record.status}: {record.error}")
    return handoff(record)
