"""What a flow run shares between its flow body and its tasks in one process: the runs
open here, the steps `pipec run --refresh` asked for, the pipec run id, a step's Prefect
task options, and how a task watches an attempt."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any
from uuid import UUID

from pipec.adapter import EnginePolicies, EngineRun
from pipec.ir import Pipeline, Step
from prefect import get_run_logger

TARGET = "prefect"


REFRESH: contextvars.ContextVar[frozenset[str] | bool] = contextvars.ContextVar(
    "pipec_prefect_refresh", default=frozenset()
)
"""The steps `pipec run --refresh` re-runs despite the cache (True: all). A property of
one `pipec run`, not of the flow: served and deployed runs refresh nothing."""


OPEN_RUNS: dict[str, EngineRun] = {}
"""Runs whose flow body is in this process, for its step tasks in the same process: no
task re-reads the run's IR (the whole pipeline) from the store. A task elsewhere (a task
runner with processes of its own) opens the run from the store."""


def open_run(storage: str, pipeline: str, run_id: str) -> EngineRun:
    """The run of a task: the flow body's, when it is in this process."""
    return OPEN_RUNS.get(run_id) or EngineRun.open(storage, pipeline, run_id, TARGET)


def run_id(flow_run_id: UUID | str) -> str:
    """The pipec run id of a flow run: the flow run id itself."""
    return str(flow_run_id)


def policies(pipeline: Pipeline, step: Step) -> tuple[int, float | None, tuple[str, ...]]:
    """A step's Prefect task policies (ClearML's options, mapped): retries, timeout, tags."""
    mapped = EnginePolicies.of(pipeline, step)
    return mapped.retries, mapped.timeout, (mapped.queue,) if mapped.queue else ()


def watching() -> dict[str, Any]:
    """How a task watches its step's attempts: their output goes to the task run's log,
    and Prefect's time limit (`timeout_seconds`) or a cancelled flow run cancels this
    thread, which kills the attempt's process and records it aborted."""
    return {"echo": get_run_logger().info, "interrupts": (asyncio.CancelledError,)}
