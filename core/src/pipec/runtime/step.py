"""One step's life, with ClearML's semantics: callbacks, cache, attempts and retries.

`run_node` is called once per step by whatever schedules steps (the local
scheduler, an Airflow task, a Prefect task). It asks `pre_execute_callback`
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
from pipec.exprs import literal
from pipec.ir import ArtifactRef, CallableSpec, OutputRef, Step, Template, iter_refs
from pipec.records import Attempt, CacheEntry, StepRecord, StepStatus, jsonable, results
from pipec.refs import render
from pipec.registry import datasets
from pipec.runtime.attempt import monitored
from pipec.runtime.node import EnginePolicies, Node, retry_policy
from pipec.runtime.runstore import StoredRun, load_callable
from pipec.runtime.values import content_hash, resolve, step_inputs

AttemptFn = Callable[[int, float | None], StepRecord]
"""Runs attempt N of the step with an optional time limit; returns the record it wrote."""


KWARGS = "kwargs/"
"""The section ClearML files a function step's arguments under (`kwargs/name`)."""


def _input(step: Step, key: str) -> str:
    """The input a callback's parameter key names (`kwargs/x` -> `x` for a function step)."""
    return key if step.kind == "task" else key.removeprefix(KWARGS)


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
    `EnginePolicies.retries`): after a failed attempt that such a `retry_on_failure`
    retries, `run_node` returns with the node still `running`, and the engine's next try
    continues the step with `resume_node`. A callable policy retries within the try."""

    resumes: dict[str, StepRecord] = field(default_factory=dict)
    """The succeeded steps of the run this one resumes (`pipec runs resume`), by name:
    reused whatever their `cache` setting."""
    _reused: set[str] = field(default_factory=set, init=False, repr=False)

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

    def _event(self, step: str, event: str) -> None:
        events.step_event(self.run.store.url, self.run.pipeline.name, self.run.run_id, step, event)

    def set_status(self, node: Node, status: StepStatus, step: Step) -> None:
        previous = node.status
        if previous == status:
            return
        node.status = status
        self._event(node.name, status)
        callback = self._callback(step.policies.status_change_callback)
        if callback is not None:
            callback(self.controller, node, previous)

    # -------------------------------------------------------------- the steps of a step

    def parameters(self, step: Step) -> dict[str, Any]:
        """The step's inputs as its callbacks see them: values, or URIs of step data, under
        ClearML's keys (`Section/name` of a task step, `kwargs/name` of a function's)."""
        shown: dict[str, Any] = {}
        for name, value in step.inputs.items():
            key = name if step.kind == "task" else f"{KWARGS}{name}"
            refs = iter_refs(value)
            if isinstance(value, (OutputRef, ArtifactRef)):
                record = self.run.step_record(value.step)
                where = record.outputs if isinstance(value, OutputRef) else record.artifacts
                stored = where.get(value.name)
                shown[key] = stored.uri if stored else None
            elif isinstance(value, Template) and any(
                isinstance(r, (OutputRef, ArtifactRef)) for r in refs
            ):
                shown[key] = render(value)
            else:
                shown[key] = resolve(value, self.run)
        return shown

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
            step.inputs.update({_input(step, k): literal(v) for k, v in changed.items()})
            self.run.write_spec(step)
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
        self.run.write_step(record)
        node.skip_job = True
        self.set_status(node, "skipped", step)
        return record

    def run_node(self, node: Node, step: Step, attempt: AttemptFn) -> StepRecord:
        """Run a step whose parents have all finished; returns its final record."""
        record = StepRecord(name=step.name, id=self.run.files.step_id(step.name))
        self.run.write_step(record)
        try:
            go = self._pre_execute(node, step)
        except Exception as exc:
            return self._failed(node, step, record, f"pre_execute_callback raised {exc!r}")
        if not go:
            return self.skip(node, step, "pre_execute_callback returned False")
        node.job_started = record.started = time.time()
        lease: cache.Lease | None = None
        earlier = self._reusable(node)
        if earlier is not None:
            return self._reuse(node, step, record, earlier.id, earlier)
        if step.policies.cache:
            try:
                hashes = step_inputs(step, self.run, content_hash)
            except LookupError as exc:
                return self._failed(node, step, record, str(exc))
            key = record.cache_key = cache.cache_key(self.run.pipeline, step, hashes)
            if not self.refreshes(step.name):
                found = self._cached(key) or cache.wait(
                    self.run.store, key, lambda: self._cached(key)
                )
                if isinstance(found, CacheEntry):
                    return self._reuse(node, step, record, found.step_id, found)
                lease = found
        self.set_status(node, "running", step)
        try:
            return self._attempts(node, step, record, attempt)
        finally:
            if lease is not None:
                lease.release()

    def _cached(self, key: str) -> CacheEntry | None:
        """The usable cache entry of `key`, if any."""
        entry = cache.lookup(self.run.store, key)
        if entry is not None and not datasets.unchanged(self.run.store, entry.datasets):
            return None  # it read a dataset version that is no longer the one it would get
        return entry

    def _reusable(self, node: Node) -> StepRecord | None:
        """What the resumed run's step of this name left, when this run reuses it: it
        succeeded there, and every parent was reused too (a parent that runs again may
        give it other inputs)."""
        earlier = self.resumes.get(node.name)
        if earlier is None or not all(p in self._reused for p in node.parents):
            return None
        self._reused.add(node.name)
        return earlier

    def _reuse(
        self, node: Node, step: Step, record: StepRecord, source: str, done: CacheEntry | StepRecord
    ) -> StepRecord:
        """The step `cached`: no body runs, the outputs (artifacts, models, reports) are
        those `done` recorded, by step `source`: a cache entry's, or the resumed run's."""
        record = record.model_copy(
            update=dict(
                status="cached",
                cache_hit=True,
                cached_from=source,
                **results(done),
                parameters={_input(step, k): jsonable(v) for k, v in node.parameters.items()},
                ended=time.time(),
            )
        )
        record.monitored = monitored(step, record)
        self.run.write_step(record)
        return self._finish(node, step, record)

    def resume_node(self, node: Node, step: Step, attempt: AttemptFn) -> StepRecord:
        """The engine's retry of a step `run_node` left `running`: its record keeps the
        earlier attempts, as when the lifecycle retries by itself."""
        record = self.run.step_record(step.name)
        node.status, node.retries = "running", len(record.attempts)
        node.job_started = record.started
        node.parameters = {
            (k if step.kind == "task" else f"{KWARGS}{k}"): v for k, v in record.parameters.items()
        }
        return self._attempts(node, step, record, attempt)

    def _attempts(
        self, node: Node, step: Step, record: StepRecord, attempt: AttemptFn
    ) -> StepRecord:
        while True:
            record.status = "running"
            self.run.write_step(record)
            record = attempt(len(record.attempts) + 1, node.timeout)
            if record.status != "failed" or not self._retry(node, step):
                break
            node.retries += 1
            self._event(node.name, "retrying")
            if self.engine_retries and EnginePolicies.of(self.run.pipeline, step).retries:
                return record
        record.ended = time.time()
        self.run.write_step(record)
        return self._finish(node, step, record)

    def _failed(self, node: Node, step: Step, record: StepRecord, error: str) -> StepRecord:
        now = time.time()
        record.status, record.error, record.ended = "failed", error, now
        record.attempts.append(
            Attempt(number=1, status="failed", started=now, ended=now, error=error)
        )
        self.run.write_step(record)
        return self._finish(node, step, record)
