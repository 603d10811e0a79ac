"""Decorator pipelines running their real logic, as ClearML runs them.

While a run is active, a component call adds a step to it and returns at once
with proxies for the step's outputs. A proxy blocks only when its value is
used (`if accuracy > 0.9:`), so independent steps run in parallel and the
logic can branch and loop on real values. A proxy passed straight into another
component becomes a reference, so the data goes through the store, not
through the logic.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from lazy_object_proxy import Proxy
from pipec.capture.trace import literal
from pipec.errors import caller_location
from pipec.ir import Expr, OutputRef, Value

if TYPE_CHECKING:
    from pipec.capture.decorator import ComponentSpec
    from pipec.runtime.runner import PipelineRun

_ACTIVE: contextvars.ContextVar[PipelineRun | None] = contextvars.ContextVar(
    "pipec_live_run", default=None
)


def active_run() -> PipelineRun | None:
    return _ACTIVE.get()


def activate(run: PipelineRun) -> contextvars.Token[PipelineRun | None]:
    return _ACTIVE.set(run)


def deactivate(token: contextvars.Token[PipelineRun | None]) -> None:
    _ACTIVE.reset(token)


class Outputs:
    """The proxies a run handed out, and which step output each one stands for."""

    def __init__(self) -> None:
        self._refs: dict[int, tuple[Any, OutputRef]] = {}

    def make(self, run: PipelineRun, step: str, name: str) -> Any:
        proxy = Proxy(lambda: run.value(step, name))
        self._refs[id(proxy)] = (proxy, OutputRef(step=step, name=name))
        return proxy

    def ref(self, obj: Any) -> OutputRef | None:
        if type(obj) is not Proxy:  # type(), not isinstance(): that would evaluate the proxy
            return None
        entry = self._refs.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None

    def _has_ref(self, obj: Any) -> bool:
        if self.ref(obj) is not None:
            return True
        if type(obj) in (list, tuple, set, frozenset):
            return any(self._has_ref(x) for x in obj)
        if type(obj) is dict:
            return any(self._has_ref(k) or self._has_ref(v) for k, v in obj.items())
        return False

    def to_value(self, obj: Any) -> Value:
        """An argument of a component call as IR: step outputs stay references."""
        ref = self.ref(obj)
        if ref is not None:
            return ref
        if not self._has_ref(obj):
            return literal(self.unwrap(obj))
        if type(obj) is dict:
            return Expr(op="dict", args=[self.to_value(x) for pair in obj.items() for x in pair])
        return Expr(op=type(obj).__name__, args=[self.to_value(x) for x in obj])

    def unwrap(self, obj: Any) -> Any:
        """`obj` with every proxy replaced by its value (waits for those steps)."""
        if self.ref(obj) is not None:
            return obj.__wrapped__
        if type(obj) in (list, tuple, set, frozenset):
            return type(obj)(self.unwrap(x) for x in obj)
        if type(obj) is dict:
            return {self.unwrap(k): self.unwrap(v) for k, v in obj.items()}
        return obj


def component_call(
    run: PipelineRun, spec: ComponentSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A component called by the running logic: add its step, return its output proxies."""
    location = caller_location()
    arguments = spec.bind(args, kwargs, location)
    inputs = {name: run.outputs.to_value(value) for name, value in arguments.items()}
    step = spec.make_step(run.unique_name(spec.name), inputs, location)
    run.add(step)
    proxies = [run.outputs.make(run, step.name, out) for out in spec.outputs]
    if not proxies:
        return None
    return proxies[0] if len(proxies) == 1 else proxies
