"""A step's life, with ClearML's semantics: callbacks, cache, attempts and retries.

`run_node` is called once per step by whatever schedules steps (the local
runner, an Airflow task, a Prefect task). It asks `pre_execute_callback`
whether to run, looks the step up in the cache, runs attempts through the
caller's `attempt` function (in-process or in a subprocess) and retries them as
`retry_on_failure` says, reporting every status change the way ClearML's
`status_change_callback` sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipec import cache, events
from pipec.capture.trace import literal
from pipec.ir import ArtifactRef, CallableSpec, OutputRef, Pipeline, Step, Template, iter_refs
from pipec.records import Attempt, StepRecord, StepStatus, jsonable
from pipec.refs import render
from pipec.runtime.context import StoredRun, load_callable
from pipec.runtime.shim import monitored
from pipec.runtime.values import content_hash, resolve, step_inputs

AttemptFn = Callable[[int, float | None], StepRecord]
"""Runs attempt N of the step with an optional time limit; returns the record it wrote."""


@dataclass(eq=False)
class Node:
    """A step as ClearML's callbacks see it (`node.name`, `node.parents`, ...)."""

    name: str
    parents: list[str]
    base_task_id: str | None = None
    queue: str | None = None
    timeout: float | None = None
    continue_on_fail: bool = False
    continue_on_abort: bool = False
    skip_children_on_fail: bool = True
    skip_children_on_abort: bool = True
    cache_executed_step: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    status: StepStatus = "pending"
    executed: str | bool | None = None
    """The step's id once it ran, False when it failed, None before (as in ClearML)."""
    skip_job: bool = False
    job: None = None
    job_started: float | None = None
    job_ended: float | None = None
    job_type: str | None = None
    retries: int = 0

    @classmethod
    def of(cls, step: Step) -> Node:
        p = step.policies
        behaviour = p.continue_behaviour or {}
        return cls(
            name=step.name,
            parents=list(step.parents),
            base_task_id=step.template.template_id if step.template else step.code.hash[:32],
            queue=p.execution_queue,
            timeout=p.time_limit,
            continue_on_fail=behaviour.get("continue_on_fail", p.continue_on_fail),
            continue_on_abort=behaviour.get("continue_on_abort", False),
            skip_children_on_fail=behaviour.get("skip_children_on_fail", True),
            skip_children_on_abort=behaviour.get("skip_children_on_abort", True),
            cache_executed_step=p.cache,
            job_type=p.task_type,
        )


def skip_reason(parents: list[tuple[Node, StepRecord]]) -> str | None:
    """Why a step whose parents have finished must be skipped (ClearML's rules), if so:
    a skipped parent, or a failed / aborted one unless it continues without skipping
    its children."""
    for node, record in parents:
        if record.status == "skipped":
            return f"parent {node.name!r} was skipped"
        if record.status == "failed" and (not node.continue_on_fail or node.skip_children_on_fail):
            return f"parent {node.name!r} failed"
        if record.status == "aborted" and (
            not node.continue_on_abort or node.skip_children_on_abort
        ):
            return f"parent {node.name!r} was aborted"
    return None


def retry_policy(pipeline: Pipeline, step: Step) -> int | CallableSpec | None:
    """ClearML's `retry_on_failure` for a step: its own, else the pipeline's."""
    policy = step.policies.retry_on_failure
    return pipeline.policies.retry_on_failure if policy is None else policy


def engine_retry_count(pipeline: Pipeline, step: Step) -> int:
    """How many retries an engine starts itself for the step (its task's `retries`): a
    count is the engine's to carry; a callable is asked by the lifecycle, within one
    engine try (the engine cannot call it), so the engine retries nothing."""
    policy = retry_policy(pipeline, step)
    return policy if isinstance(policy, int) else 0


def is_fatal(node: Node, record: StepRecord) -> bool:
    """A failure or abort that fails the whole run (the step does not continue)."""
    return (record.status == "failed" and not node.continue_on_fail) or (
        record.status == "aborted" and not node.continue_on_abort
    )


@dataclass
class Lifecycle:
    """How one run treats its steps: who `pipeline` is in callbacks, and what to refresh."""

    run: StoredRun
    controller: Any
    """The object callbacks get as `pipeline` (the PipelineController, or the run)."""
    target: str
    refresh: frozenset[str] | bool = frozenset()
    engine_retries: bool = False
    """The engine starts each retry a count allows itself (Airflow's `retries`,
    `engine_retry_count`): after a failed attempt that such a `retry_on_failure`
    retries, `run_node` returns with the node still `running`, and the engine's next try
    continues the step with `resume_node`. A callable policy retries within the try."""

    def refreshes(self, step: str) -> bool:
        return self.refresh is True or (not isinstance(self.refresh, bool) and step in self.refresh)

    # -------------------------------------------------------------- callbacks

    def _callback(self, spec: CallableSpec | dict | None) -> Callable[..., Any] | None:
        if spec is None:
            return None
        if isinstance(spec, dict):
            spec = CallableSpec.model_validate(spec)
        return load_callable(spec)

    def _pipeline_callback(self, option: str) -> Callable[..., Any] | None:
        return self._callback(self.run.pipeline.policies.options.get(option))  # type: ignore[arg-type]

    def set_status(self, node: Node, status: StepStatus, step: Step) -> None:
        previous = node.status
        if previous == status:
            return
        node.status = status
        events.step_event(self.run, node.name, status)
        callback = self._callback(step.policies.status_change_callback)
        if callback is not None:
            callback(self.controller, node, previous)

    # -------------------------------------------------------------- the steps of a step

    def parameters(self, step: Step) -> dict[str, Any]:
        """The step's inputs as its callbacks see them: values, or URIs of step data."""
        shown: dict[str, Any] = {}
        for name, value in step.inputs.items():
            refs = iter_refs(value)
            if isinstance(value, (OutputRef, ArtifactRef)):
                record = self.run.step_record(value.step)
                where = record.outputs if isinstance(value, OutputRef) else record.artifacts
                stored = where.get(value.name)
                shown[name] = stored.uri if stored else None
            elif isinstance(value, Template) and any(
                isinstance(r, (OutputRef, ArtifactRef)) for r in refs
            ):
                shown[name] = render(value)
            else:
                shown[name] = resolve(value, self.run)
        return shown

    def _write(self, record: StepRecord) -> None:
        self.run.store.write_model(self.run.files.step_record(record.name), record)

    def _pre_execute(self, node: Node, step: Step) -> bool:
        """ClearML's `pre_execute_callback`: False skips the step (and so its children).
        Changes it makes to `parameters` become the step's inputs."""
        parameters = self.parameters(step)
        node.parameters = dict(parameters)
        for callback in (
            self._callback(step.policies.pre_execute_callback),
            self._pipeline_callback("step_task_created_callback"),
        ):
            if callback is not None and callback(self.controller, node, parameters) is False:
                return False
        changed = {k: v for k, v in parameters.items() if node.parameters.get(k) != v}
        if changed:
            step.inputs.update({k: literal(v) for k, v in changed.items()})
            self.run.store.write_model(self.run.files.step_spec(step.name), step)
            node.parameters = dict(parameters)
        return True

    def _retry(self, node: Node, step: Step) -> bool:
        policy = retry_policy(self.run.pipeline, step)
        if policy is None:
            return False
        if isinstance(policy, int):
            return node.retries < policy
        return bool(load_callable(policy)(self.controller, node, node.retries))

    def _finish(self, node: Node, step: Step, record: StepRecord) -> StepRecord:
        node.executed = record.id if record.status in ("completed", "cached") else False
        node.job_ended = record.ended
        self.set_status(node, record.status, step)
        for callback in (
            self._callback(step.policies.post_execute_callback),
            self._pipeline_callback("step_task_completed_callback"),
        ):
            if callback is not None:
                callback(self.controller, node)
        return record

    def skip(self, node: Node, step: Step, reason: str) -> StepRecord:
        """Mark a step skipped (a parent failed, or `pre_execute_callback` said no)."""
        record = StepRecord(
            name=step.name, id=self.run.files.step_id(step.name), status="skipped", error=reason
        )
        self._write(record)
        node.skip_job = True
        self.set_status(node, "skipped", step)
        return record

    def run_node(self, node: Node, step: Step, attempt: AttemptFn) -> StepRecord:
        """Run a step whose parents have all finished; returns its final record."""
        record = StepRecord(name=step.name, id=self.run.files.step_id(step.name))
        self._write(record)
        try:
            go = self._pre_execute(node, step)
        except Exception as exc:
            return self._failed(node, step, record, f"pre_execute_callback raised {exc!r}")
        if not go:
            return self.skip(node, step, "pre_execute_callback returned False")
        node.job_started = record.started = time.time()
        if step.policies.cache:
            try:
                hashes = step_inputs(step, self.run, content_hash)
            except LookupError as exc:
                return self._failed(node, step, record, str(exc))
            record.cache_key = cache.cache_key(self.run.pipeline, step, hashes)
            entry = (
                None
                if self.refreshes(step.name)
                else cache.lookup(self.run.store, record.cache_key)
            )
            if entry is not None:
                record = record.model_copy(
                    update=dict(
                        status="cached",
                        cache_hit=True,
                        cached_from=entry.step_id,
                        outputs=entry.outputs,
                        artifacts=entry.artifacts,
                        models=entry.models,
                        reports=entry.reports,
                        parameters={k: jsonable(v) for k, v in node.parameters.items()},
                        ended=time.time(),
                    )
                )
                record.monitored = monitored(step, record)
                self._write(record)
                return self._finish(node, step, record)
        self.set_status(node, "running", step)
        return self._attempts(node, step, record, attempt)

    def resume_node(self, node: Node, step: Step, attempt: AttemptFn) -> StepRecord:
        """The engine's retry of a step `run_node` left `running`: its record keeps the
        earlier attempts, as when the lifecycle retries by itself."""
        record = self.run.step_record(step.name)
        node.status, node.retries = "running", len(record.attempts)
        node.job_started = record.started
        node.parameters = dict(record.parameters)
        return self._attempts(node, step, record, attempt)

    def _attempts(
        self, node: Node, step: Step, record: StepRecord, attempt: AttemptFn
    ) -> StepRecord:
        while True:
            record.status = "running"
            self._write(record)
            record = attempt(len(record.attempts) + 1, node.timeout)
            if record.status != "failed" or not self._retry(node, step):
                break
            node.retries += 1
            events.step_event(self.run, node.name, "retrying")
            if self.engine_retries and engine_retry_count(self.run.pipeline, step):
                return record
        record.ended = time.time()
        self._write(record)
        return self._finish(node, step, record)

    def _failed(self, node: Node, step: Step, record: StepRecord, error: str) -> StepRecord:
        now = time.time()
        record.status, record.error, record.ended = "failed", error, now
        record.attempts.append(
            Attempt(number=1, status="failed", started=now, ended=now, error=error)
        )
        self._write(record)
        return self._finish(node, step, record)
