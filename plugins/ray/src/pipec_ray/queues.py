"""ClearML queues as Ray resources.

In ClearML a step's `execution_queue` (else the pipeline's `default_queue`) says which
agents may take it. On Ray, the nodes that serve a queue declare a resource of the same
name (`ray start --resources='{"gpu": 2}'`: two of that node's steps of queue `gpu` at a
time), and each attempt of a step in the queue asks for one unit of it, so Ray places it
on such a node only. The `queues` option maps a queue onto another resource instead
(`--option queues=gpu=GPU,bulk=bulk_nodes:0.5`): `GPU` and `CPU` are Ray's own, asked
for as `num_gpus` / `num_cpus`. A step without a queue asks for one CPU, Ray's default.
"""

from __future__ import annotations

from typing import Any

from pipec.errors import UsageError

OPTION = "queues"


def parse(text: str | None) -> dict[str, tuple[str, float]]:
    """The `queues` option, `QUEUE=RESOURCE[:AMOUNT],...`: queue -> (resource, amount)."""
    mapping: dict[str, tuple[str, float]] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        queue, sep, target = item.partition("=")
        resource, _, amount = target.partition(":")
        if not sep or not queue.strip() or not resource.strip():
            raise UsageError(f"{OPTION}={text!r}: expected QUEUE=RESOURCE[:AMOUNT],...")
        try:
            units = float(amount) if amount else 1.0
        except ValueError:
            raise UsageError(f"{OPTION}: {item!r}: the amount must be a number") from None
        if units <= 0:
            raise UsageError(f"{OPTION}: {item!r}: the amount must be above 0")
        if queue.strip() in mapping:
            raise UsageError(f"{OPTION}: queue {queue.strip()!r} is mapped twice")
        mapping[queue.strip()] = (resource.strip(), units)
    return mapping


def resource_of(queue: str, mapping: dict[str, tuple[str, float]]) -> tuple[str, float]:
    """The Ray resource a queue's steps ask for, and how much of it."""
    return mapping.get(queue, (queue, 1.0))


def task_options(queue: str | None, mapping: dict[str, tuple[str, float]]) -> dict[str, Any]:
    """The Ray task options an attempt of a step in `queue` gets."""
    if queue is None:
        return {}
    resource, amount = resource_of(queue, mapping)
    if resource == "CPU":
        return {"num_cpus": amount}
    if resource == "GPU":
        return {"num_gpus": amount}
    return {"resources": {resource: amount}}


def unserved(
    queue: str, mapping: dict[str, tuple[str, float]], cluster: dict[str, float]
) -> str | None:
    """Why no node of the cluster (its total resources: `cluster`) can take a step of
    `queue`, if none can; Ray would otherwise leave the task pending forever."""
    resource, amount = resource_of(queue, mapping)
    if cluster.get(resource, 0.0) >= amount:
        return None
    return (
        f"queue {queue!r} asks for Ray resource {resource!r} ({amount:g}), which the cluster "
        f"has {cluster.get(resource, 0.0):g} of: start a node serving it "
        f"(ray start --resources='{{\"{resource}\": 1}}') or map the queue onto another "
        f"resource (--option {OPTION}={queue}=RESOURCE)"
    )
