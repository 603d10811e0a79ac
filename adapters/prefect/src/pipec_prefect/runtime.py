"""What the flow runs: pipec's shared runtime, with Prefect ordering the steps.

`run_pipeline` is the flow body: it opens the pipec run (its id is the flow run id),
submits one Prefect task per step, each waiting for its parents whatever their
outcome (`allow_failure`), and concludes the run (replaying a decorator pipeline's logic
with the run's values, so its prints, `assert`s and return value are real). Every step
task runs its step through `Lifecycle` (skip rules, cache, attempts) exactly as the local
scheduler does, so ClearML's continue / skip semantics are the local target's by
construction. An attempt runs in a step process of pipec's fork server, as on the local
target (no interpreter start per step, and no fork either when a process that completed
an attempt is free): a step's working directory, imports and crashes stay out of the
flow process, a time limit or a pipeline stop can kill it, and concurrent steps really
run in parallel.

Prefect's own features carry the policies: `retry_on_failure` is the task's
`retries` (each Prefect try is one attempt, in the same step record), `time_limit`
its `timeout_seconds`, the queue its tags. Prefect's caching and result persistence
are off: pipec's cache is shared with every other target.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import graphlib
import re
from pathlib import Path
from typing import Any
from uuid import UUID

from pipec.errors import UsageError
from pipec.ir import Pipeline, Step
from pipec.records import RunRecord, StepRecord
from pipec.runtime import runs, scheduled
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import AttemptFn, engine_retry_count
from pipec.store import Store
from prefect import Task, allow_failure, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run, task_run
from prefect.states import Completed, Failed, State

from pipec_prefect.flowfile import is_dynamic

TARGET = "prefect"


REFRESH: contextvars.ContextVar[frozenset[str] | bool] = contextvars.ContextVar(
    "pipec_prefect_refresh", default=frozenset()
)
"""The steps `pipec run --refresh` re-runs despite the cache (True: all). A property of
one `pipec run`, not of the flow: served and deployed runs refresh nothing."""


OPEN_RUNS: dict[str, StoredRun] = {}
"""Runs whose flow body is in this process, for its step tasks in the same process: no
task re-reads the run's IR (the whole pipeline) from the store. A task elsewhere (a task
runner with processes of its own) opens the run from the store."""


class StepRetry(Exception):
    """A failed attempt that `retry_on_failure` retries: Prefect starts the next try."""


def run_id(flow_run_id: UUID | str) -> str:
    """The pipec run id of a flow run: the flow run id itself."""
    return str(flow_run_id)


def load(source: Path | str | Pipeline) -> Pipeline:
    """The IR: in memory (`build_flow`) or the file beside the flow file."""
    if isinstance(source, Pipeline):
        return source
    return Pipeline.model_validate_json(Path(source).read_text(encoding="utf-8"))


# ------------------------------------------------------------------ the flow body


def run_pipeline(
    source: Path | str | Pipeline, params: dict[str, Any], storage: str | None, project_dir: str
) -> dict[str, Any] | State:
    """The body of every generated flow; returns small JSON, or a Failed state when the
    pipeline failed (so the flow run fails too)."""
    pipeline = load(source)
    store = Store.resolve(storage)
    store.check()
    if not store.shared_between_processes:
        raise UsageError(f"storage {store.url} lives inside one process; steps run in others")
    if is_dynamic(pipeline):
        from pipec_prefect.logic import run_pipeline_logic

        run, record = run_pipeline_logic(pipeline, params, store, project_dir)
    else:
        run, record = _run_graph(pipeline, params, store, project_dir)
    publish(run, record)
    if record.status != "completed":
        return Failed(message=f"pipeline {pipeline.name!r} {record.status}: {record.error}")
    return {"run_id": run.run_id, "status": record.status, "storage": store.url}


def _run_graph(
    pipeline: Pipeline, params: dict[str, Any], store: Store, project_dir: str
) -> tuple[StoredRun, RunRecord]:
    """A pipeline whose steps the IR lists: a task per step, then the run concluded."""
    run, record = runs.begin(store, pipeline, run_id(flow_run.id), TARGET, params)
    scheduled.write_specs(run, record)
    get_run_logger().info("pipec: run %s of %r in %s", run.run_id, pipeline.name, store.url)
    OPEN_RUNS[run.run_id] = run
    try:
        for future in submit_steps(run, project_dir).values():
            future.wait()
    finally:
        del OPEN_RUNS[run.run_id]
    return run, scheduled.conclude(run, replay_from=project_dir)  # a decorator pipeline's prints


def submit_steps(run: StoredRun, project_dir: str) -> dict[str, PrefectFuture[Any]]:
    """One task per step, parents first; each waits for its parents however they ended."""
    steps = {step.name: step for step in run.pipeline.steps}
    order = graphlib.TopologicalSorter({s.name: s.parents for s in steps.values()}).static_order()
    refresh = REFRESH.get()
    futures: dict[str, PrefectFuture[Any]] = {}
    for name in order:
        step = steps[name]
        futures[name] = step_variant(*policies(run.pipeline, step)).submit(
            run.store.url,
            run.pipeline.name,
            run.run_id,
            name,
            project_dir,
            refresh if isinstance(refresh, bool) else name in refresh,
            wait_for=[allow_failure(futures[p]) for p in step.parents],
        )
    return futures


def policies(pipeline: Pipeline, step: Step) -> tuple[int, float | None, tuple[str, ...]]:
    """A step's Prefect task policies (ClearML's options, mapped): retries, timeout, tags."""
    queue = step.policies.execution_queue or pipeline.policies.default_queue
    return (
        engine_retry_count(pipeline, step),
        step.policies.time_limit,
        (queue,) if queue else (),
    )


@functools.cache
def step_variant(retries: int, timeout: float | None, tags: tuple[str, ...]) -> Task[..., Any]:
    """`step_task` with a step's policies: one per distinct set, not one per step, since
    making a Prefect task hashes its code (~10 ms each). The task run takes the step's
    name from `task_run_name`."""
    return step_task.with_options(
        retries=retries,
        retry_delay_seconds=0,  # ClearML relaunches a failed step at once
        timeout_seconds=timeout,
        tags=list(tags),
    )


# ------------------------------------------------------------------ one step


def lifecycle_retry(task: Any, run: TaskRun, state: State) -> bool:
    """Prefect retries only what pipec's lifecycle asked to retry (a failed step that
    `retry_on_failure` retries), never a final failure, a skip or a time-out."""
    return isinstance(state.data, StepRetry)


@task(
    name="pipec-step",
    task_run_name="{step}",
    cache_policy=NO_CACHE,
    persist_result=False,
    retry_condition_fn=lifecycle_retry,
)
def step_task(
    storage: str, pipeline: str, run_id: str, step: str, project_dir: str, refresh: bool
) -> dict[str, Any] | State:
    """One pipeline step; returns small JSON (status, output URIs) as its state's data.
    `refresh` runs it even when the cache has it."""
    run = OPEN_RUNS.get(run_id) or scheduled.open_run(storage, pipeline, run_id)
    call = StepCall(
        store=run.store.url, pipeline=pipeline, run_id=run_id, step=step, project_dir=project_dir
    )
    node, record = scheduled.run_step(
        run, step, watched(run, call), target=TARGET, refresh=refresh, retry=task_run.run_count > 1
    )
    if node.status == "running":
        raise StepRetry(f"step {step!r} attempt {len(record.attempts)} failed: {record.error}")
    data = scheduled.small(record)
    if record.status == "skipped":
        return Completed(name="Skipped", message=record.error, data=data)
    if record.status == "cached":
        message = f"reused the outputs of {record.cached_from} (cache key {record.cache_key})"
        return Completed(name="Cached", message=message, data=data)
    if record.status != "completed":
        return Failed(message=f"step {step!r} {record.status}: {record.error}", data=data)
    return data


def watched(run: StoredRun, call: StepCall) -> AttemptFn:
    """One attempt in a step process, watched (`scheduled.watch_attempt`). Prefect
    enforces the time limit (`timeout_seconds`) by cancelling this thread: the process is
    killed and the attempt recorded aborted."""
    logger = get_run_logger()

    def attempt(number: int, time_limit: float | None) -> StepRecord:
        return scheduled.watch_attempt(
            run,
            call,
            number,
            echo=logger.info,
            interrupts=(asyncio.CancelledError,),  # Prefect's timeout, or a cancelled flow run
            interrupted=f"time_limit {time_limit:g}s exceeded" if time_limit else "cancelled",
        )

    return attempt


# ------------------------------------------------------------------ flow-run artifacts


def artifact_key(pipeline: str, what: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes; one key per
    pipeline keeps each run's artifact in the same history."""
    base = re.sub(r"[^a-z0-9-]+", "-", pipeline.lower()).strip("-") or "pipeline"
    return f"pipec-{base}-{what}"


def publish(run: StoredRun, record: RunRecord) -> None:
    """The run on the flow run's Artifacts tab: a summary, a table of monitored metrics,
    and links to monitored artifacts and models (the run record in the store has all)."""
    name = run.pipeline.name
    _, summary = scheduled.summary(run)
    rows = "\n".join(
        f"| {step} | {s['status']} | {s['attempts']} | {'yes' if s['cache_hit'] else ''} |"
        f" {s['error'] or ''} |"
        for step, s in summary["steps"].items()
    )
    create_markdown_artifact(
        markdown=(
            f"## pipec run `{run.run_id}`: {record.status}\n\n"
            f"pipeline **{name}**, storage `{run.store.url}`"
            + (f"\n\nerror: {record.error}" if record.error else "")
            + "\n\n| step | status | attempts | cached | error |\n|---|---|---|---|---|\n"
            + rows
        ),
        key=artifact_key(name, "run"),
        description=f"pipec run {run.run_id}",
    )
    if record.metrics:
        create_table_artifact(
            table=[
                {
                    "title": m.title,
                    "series": m.series,
                    "iteration": m.iteration,
                    "value": m.value,
                }
                for m in record.metrics
            ],
            key=artifact_key(name, "metrics"),
            description="metrics the steps' monitor_metrics forwarded",
        )
    for kind, values in (("artifact", record.artifacts), ("model", record.models)):
        for label, stored in values.items():
            create_link_artifact(
                link=stored.uri, link_text=label, description=f"monitored {kind} {label!r}"
            )
