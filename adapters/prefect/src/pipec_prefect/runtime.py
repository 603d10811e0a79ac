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

import functools
import graphlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipec.adapter import (
    EngineRun,
    RunRecord,
    StepOutcome,
    StepRetry,
    Store,
    open_store,
)
from pipec.ir import Pipeline
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
from pipec_prefect.flowrun import OPEN_RUNS, REFRESH, TARGET, open_run, policies, run_id, watching
from pipec_prefect.logic import run_pipeline_logic


class NoEmptyTraceback(logging.Filter):
    """Prefect logs a task run that ends in a Failed state with `exc_info=True` even
    when no exception was raised (a step task returns its failure as a state), which
    prints `NoneType: None` under the message; the step's traceback is in its console."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info == (None, None, None):
            record.exc_info = None
        return True


logging.getLogger("prefect.task_runs").addFilter(NoEmptyTraceback())


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
    store = open_store(storage)
    if is_dynamic(pipeline):
        run, record = run_pipeline_logic(pipeline, params, store, project_dir)
    else:
        run, record = _run_graph(pipeline, params, store, project_dir)
    publish(run, record)
    if record.status != "completed":
        return Failed(message=f"pipeline {pipeline.name!r} {record.status}: {record.error}")
    return {"run_id": run.run_id, "status": record.status, "storage": store.url}


def record_aborted(source: Path | str | Pipeline, storage: str | None) -> Callable[..., None]:
    """The flow's `on_cancellation` / `on_crashed` / `on_failure` hook: a flow run Prefect
    ended before its body concluded the pipec run (a cancel kills the flow process, a
    crash or a time-out stops it mid-run) is recorded `aborted` with the steps it left
    running, so `pipec runs resume` continues it. Prefect runs the hook where the flow
    run is watched (the worker or `serve` process, once the flow process is gone), so
    no step's watch writes after it; a run that concluded itself is left as it is."""

    def record_aborted(flow: Any, flow_run: Any, state: State) -> None:
        pipeline = load(source)
        store = open_store(storage)
        try:
            run = EngineRun.open(store.url, pipeline.name, run_id(flow_run.id), TARGET)
        except FileNotFoundError:  # ended before the flow body began the run
            return
        run.abort(f"Prefect ended the flow run {state.name}: {state.message}")

    return record_aborted


def _run_graph(
    pipeline: Pipeline, params: dict[str, Any], store: Store, project_dir: str
) -> tuple[EngineRun, RunRecord]:
    """A pipeline whose steps the IR lists: a task per step, then the run concluded."""
    run = EngineRun.begin(store, pipeline, run_id(flow_run.id), TARGET, params)
    get_run_logger().info("pipec: run %s of %r in %s", run.run_id, pipeline.name, store.url)
    OPEN_RUNS[run.run_id] = run
    try:
        for future in submit_steps(run, project_dir).values():
            future.wait()
    finally:
        del OPEN_RUNS[run.run_id]
    return run, run.conclude(replay_from=project_dir)  # a decorator pipeline's prints


def submit_steps(run: EngineRun, project_dir: str) -> dict[str, PrefectFuture[Any]]:
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
    outcome = open_run(storage, pipeline, run_id).step(
        step,
        project_dir=project_dir,
        retry=task_run.run_count > 1,
        refresh=refresh,
        **watching(),
    )
    return state_of(outcome)


def state_of(outcome: StepOutcome) -> dict[str, Any] | State:
    """A step's outcome as its task run's state: its data the step's small JSON."""
    if outcome.retry:
        raise StepRetry(outcome.message)
    data = outcome.handoff()
    if outcome.skipped:
        return Completed(name="Skipped", message=outcome.record.error, data=data)
    if outcome.cached:
        return Completed(name="Cached", message=outcome.message, data=data)
    if outcome.failed:
        return Failed(message=outcome.message, data=data)
    return data


# ------------------------------------------------------------------ flow-run artifacts


def artifact_key(pipeline: str, what: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes; one key per
    pipeline keeps each run's artifact in the same history."""
    base = re.sub(r"[^a-z0-9-]+", "-", pipeline.lower()).strip("-") or "pipeline"
    return f"pipec-{base}-{what}"


def publish(run: EngineRun, record: RunRecord) -> None:
    """The run on the flow run's Artifacts tab: a summary, a table of monitored metrics,
    and links to monitored artifacts and models (the run record in the store has all)."""
    name = run.pipeline.name
    _, summary = run.summary()
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
