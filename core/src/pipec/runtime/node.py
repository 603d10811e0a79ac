"""A step as ClearML's callbacks see it, and ClearML's rules on what its outcome means.

`Node` is the object `pre_execute_callback` and friends receive; `skip_reason` and
`is_fatal` are the continue / skip rules every scheduler applies to it; `EnginePolicies`
is what an engine maps onto its own task options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipec.ir import CallableSpec, Pipeline, Step
from pipec.records import StepRecord, StepStatus


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


@dataclass(frozen=True)
class EnginePolicies:
    """A step's ClearML options as an engine's own task options."""

    retries: int
    """How many retries the engine starts itself (its task's `retries`): a count is the
    engine's to carry; a callable `retry_on_failure` is asked by pipec within one engine
    try (the engine cannot call it), so the engine retries nothing."""
    timeout: float | None
    """`time_limit`, in seconds."""
    queue: str | None
    """`execution_queue`, else the pipeline's `default_queue`."""

    @classmethod
    def of(cls, pipeline: Pipeline, step: Step) -> EnginePolicies:
        policy = retry_policy(pipeline, step)
        return cls(
            retries=policy if isinstance(policy, int) else 0,
            timeout=step.policies.time_limit,
            queue=step.policies.execution_queue or pipeline.policies.default_queue,
        )


def is_fatal(node: Node, record: StepRecord) -> bool:
    """A failure or abort that fails the whole run (the step does not continue)."""
    return (record.status == "failed" and not node.continue_on_fail) or (
        record.status == "aborted" and not node.continue_on_abort
    )
