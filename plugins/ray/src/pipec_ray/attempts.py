"""Each step attempt a Ray task, and how the `pipec run` process waits for it.

The task (`attempt_task`) runs the attempt in its Ray worker process itself
(`EngineRun.attempt_here`): inputs from the store, the step's code, outputs to the
store, its record written; only the step's status comes back, never data. It first
yields once, when a worker has started it, so a `time_limit` counts from the attempt's
start, not from the wait for a worker or for its queue's resources. At the time limit,
or when the run is stopped (`abort_on_failure`, `PipelineController.stop()`, the
pipeline's execution time limit), `ray.cancel(force=True)` kills the worker, and with it
the attempt, which is then recorded `aborted`. Ray retries nothing (`max_retries=0`):
`retry_on_failure` is pipec's, as on every target.

A worker runs attempt after attempt of the same run (Ray's default; Ray's workers belong
to one job, so never to another run), as the local target's step processes do: what a
step leaves in the modules it imported can be seen by a later attempt there, which
ClearML, starting a process per step, does not promise either.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ray
from pipec.adapter import EnginePolicies, EngineRun
from pipec.errors import PipelineErrors, ValidationError
from pipec.ir import Pipeline, Step

from pipec_ray import queues

TARGET = "ray"
STARTED = "started"
POLL = 0.2
"""Seconds between looks at whether the run was stopped."""


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """The attempt's standard output (its file descriptor, so subprocesses too) goes to
    standard error: Ray shows it in the `pipec run` process on the same stream, and
    `pipec run --json` keeps stdout to the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@ray.remote(max_retries=0, num_returns="streaming")
def attempt_task(
    storage: str, pipeline: str, run_id: str, step: str, project_dir: str, number: int, quiet: bool
) -> Iterator[str]:
    """Attempt `number` of `step`, in this worker process; yields `STARTED`, then the
    status the attempt recorded."""
    yield STARTED
    run = EngineRun.open(storage, pipeline, run_id, TARGET)
    with _stdout_to_stderr() if quiet else contextlib.nullcontext():
        record = run.attempt_here(step, number, project_dir=project_dir)
    yield record.status


@dataclass(frozen=True)
class Attempts:
    """How this run's attempts become Ray tasks: the environment they get, the queue
    mapping, and where relative paths start."""

    project_dir: str
    env: dict[str, str]
    mapping: dict[str, tuple[str, float]]
    quiet: bool

    def check(self, pipeline: Pipeline) -> None:
        """Before anything runs: every queue the pipeline's steps name is served by the
        cluster (steps a decorator pipeline's logic adds later are checked as they run)."""
        cluster = ray.cluster_resources()
        errors = [
            ValidationError(f"step {step.name!r}: {why}", step.location)
            for step in pipeline.steps
            if (queue := EnginePolicies.of(pipeline, step).queue) is not None
            and (why := queues.unserved(queue, self.mapping, cluster)) is not None
        ]
        if errors:
            raise PipelineErrors(errors)

    def __call__(
        self, run: EngineRun, step: Step, number: int, time_limit: float | None
    ) -> str | None:
        """Attempt `number` of `step` as a Ray task, waited for here (`pipec.adapter.
        EngineAttempt`); how it ended when it recorded nothing itself (None: it did)."""
        queue = EnginePolicies.of(run.pipeline, step).queue
        if queue is not None:
            why = queues.unserved(queue, self.mapping, ray.cluster_resources())
            if why is not None:
                return why
        stream = attempt_task.options(
            name=f"{step.name} #{number}",
            runtime_env={"env_vars": self.env},
            **queues.task_options(queue, self.mapping),
        ).remote(
            run.store.url,
            run.pipeline.name,
            run.run_id,
            step.name,
            self.project_dir,
            number,
            self.quiet,
        )
        try:
            why = _wait(stream, run, None)  # for a worker to start it
            if why is None:
                ray.get(next(stream))
                why = _wait(stream, run, time_limit)
            if why is None:
                ray.get(next(stream))
                return None
        except Exception as exc:  # the task failed, or its worker died
            return f"its Ray task failed: {type(exc).__name__}: {exc}"
        ray.cancel(stream, force=True)
        run.end_attempt(step.name, number, "aborted", why)
        return None


def _wait(stream: Any, run: EngineRun, time_limit: float | None) -> str | None:
    """Wait for the task's next yield; why it must be cancelled first, if it must."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    while True:
        left = POLL if deadline is None else min(POLL, max(0.0, deadline - time.monotonic()))
        ready, _ = ray.wait([stream], timeout=left)
        if ready:
            return None
        if run.stopped():
            return "the pipeline was stopped"
        if deadline is not None and time.monotonic() >= deadline:
            return f"time_limit {time_limit:g}s exceeded"
