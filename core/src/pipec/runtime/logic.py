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
import inspect
from collections.abc import Callable
from typing import Any

from lazy_object_proxy import Proxy

from pipec.contract import Logic, RunOptions, RunResult
from pipec.errors import describe_error
from pipec.exprs import literal
from pipec.ir import Expr, OutputRef, Pipeline, Step, Value
from pipec.naming import unique_name
from pipec.params import cast_values
from pipec.runtime.local import Executor, PipelineRun


class Outputs:
    """The proxies a run handed out, and which step output each one stands for."""

    def __init__(self, run: PipelineRun) -> None:
        self._run = run
        self._refs: dict[int, tuple[Any, OutputRef]] = {}

    def make(self, step: str, name: str) -> Any:
        proxy = Proxy(lambda: self._run.value(step, name))
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


class LiveRun:
    """A run whose pipeline logic is running in this process, and the proxies it handed
    out."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self.outputs = Outputs(run)
        self._prefix = ""
        self._prefixes: set[str] = set()

    def call_nested(self, name: str, call: Callable[[], Any]) -> Any:
        """A decorator pipeline called by the running logic (a nested pipeline): its
        component calls become steps of this run named `name.<component>` (`name_1.` for
        a second call), as the trace names them for an engine."""
        outer = self._prefix
        prefix = unique_name(outer + name, self._prefixes)
        self._prefixes.add(prefix)
        self._prefix = prefix + "."
        try:
            return call()
        finally:
            self._prefix = outer

    def call_component(
        self,
        base: str,
        arguments: dict[str, Any],
        outputs: list[str],
        make_step: Callable[[str, dict[str, Value]], Step],
    ) -> Any:
        """A component called by the running logic with `arguments` (by parameter name):
        add its step (`make_step(name, inputs)` builds it), return its output proxies."""
        inputs = {name: self.outputs.to_value(value) for name, value in arguments.items()}
        step = make_step(self.run.unique_name(self._prefix + base), inputs)
        self.run.add(step)
        proxies = [self.outputs.make(step.name, out) for out in outputs]
        if not proxies:
            return None
        return proxies[0] if len(proxies) == 1 else proxies


_ACTIVE: contextvars.ContextVar[LiveRun | None] = contextvars.ContextVar(
    "pipec_live_run", default=None
)


def active_run() -> LiveRun | None:
    """The run whose logic is running in this context, if any."""
    return _ACTIVE.get()


def run_logic(
    pipeline: Pipeline, options: RunOptions, logic: Logic, executor: Executor, **where: Any
) -> RunResult:
    """A decorator pipeline's real logic, running here: its steps join the run as it
    calls components, and run through `executor`. `where` is `PipelineRun`'s `run_id` /
    `project_dir`. What the logic raises is raised, with the run recorded failed in
    `logic.failed_run`; unless a step had failed the run already: then what the logic
    raised is a consequence (it used that step's value, or a skipped child's None), and
    the run fails as for any failed step, with that step's error at the user's line."""
    assert logic.function is not None
    # the logic gets what the run records: the call's values and this run's, each as its
    # parameter's type (`pipec.params`), the same on every target
    called = inspect.signature(logic.function).bind_partial(*logic.args, **logic.kwargs)
    kwargs = cast_values(pipeline.parameters, {**called.arguments, **options.params})
    run = PipelineRun(pipeline.model_copy(update={"steps": []}), options, executor, **where)
    live = LiveRun(run)
    token = _ACTIVE.set(live)
    try:
        result = logic.function(**kwargs)
        value = live.outputs.unwrap(result)
    except Exception as exc:
        if run.failed_steps():
            value = None
        else:
            record = run.finish(error=describe_error(exc, "in the pipeline logic"))
            logic.failed_run = RunResult(record=record, summary=run.summary())
            raise
    finally:
        _ACTIVE.reset(token)
    record = run.finish(return_value=value)
    return RunResult(record=record, summary=run.summary(), value=value)


def run_started(
    pipeline: Pipeline, options: RunOptions, logic: Logic, executor: Executor, **where: Any
) -> RunResult:
    """A started pipeline on pipec's own scheduler, its attempts through `executor`: a
    decorator pipeline's real logic (`run_logic`), else the IR's steps, with the live
    controller (if any) as what callbacks receive and `get_pipeline_dag()` reads."""
    if logic.function is not None:
        return run_logic(pipeline, options, logic, executor, **where)
    run = PipelineRun(pipeline, options, executor, controller=logic.controller, **where)
    if logic.controller is not None:
        logic.controller._run = run
    for step in run.pipeline.in_dependency_order():
        run.add(step)
    record = run.finish()
    return RunResult(record=record, summary=run.summary())
