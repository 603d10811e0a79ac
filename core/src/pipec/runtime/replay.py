"""Replaying a traced decorator pipeline's logic with the values of a finished run.

On an engine that runs a static graph (Airflow, Prefect) the steps are engine tasks and
the pipeline function itself never runs. A replay runs it afterwards, in the task that
concludes the run: the function's source from the IR is executed with every component
name bound to a stub that answers each call, in call order, from the run's stored
outputs. So the logic's prints show real values, its `assert`s hold or fail the run,
and its return value is the real one, as on the local target.

Calls map to steps by ClearML's naming (`name`, `name_1`, ...), the naming the trace
used at compile time. A call the graph has no step for means the logic took a path the
trace did not see: the replay fails, naming the step and the line.
"""

from __future__ import annotations
import __future__

import ast
import builtins
from collections.abc import Callable
from typing import Any

from lazy_object_proxy import Proxy

from pipec.errors import StepFailedError
from pipec.ir import ControllerCode, Step
from pipec.naming import unique_name
from pipec.records import SUCCEEDED, StepRecord
from pipec.runtime.attempt import import_globals
from pipec.runtime.node import Node, is_fatal
from pipec.runtime.runstore import StoredRun
from pipec.runtime.values import resolve
from pipec.source import bound_names, free_globals


class ReplayError(RuntimeError):
    """The replayed logic called a component the compiled graph has no step for."""


def _function(controller: ControllerCode) -> ast.Module:
    """The pipeline function without its parameter defaults: they are module-level
    expressions the replay cannot evaluate, and every parameter is passed anyway."""
    tree = ast.parse(controller.source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.args.defaults = []
            node.args.kw_defaults = [None] * len(node.args.kwonlyargs)
    return tree


def missing_globals(controller: ControllerCode) -> list[str]:
    """Module-level names the logic reads besides its components and builtins: a replay
    runs without the user's module, so it cannot provide them."""
    free = set(free_globals(ast.unparse(_function(controller))))
    for inner in controller.nested:
        free |= set(free_globals(inner.source))
    imported = {name for statement in controller.imports for name in bound_names(statement)}
    shipped = {*controller.components, *(inner.name for inner in controller.nested)}
    return sorted(free - shipped - imported)


def _unwrap(obj: Any) -> Any:
    """`obj` with each stand-in for a failed step's output evaluated (which raises)."""
    if type(obj) is Proxy:  # type(), not isinstance(): that would evaluate the proxy
        return obj.__wrapped__
    if type(obj) in (list, tuple, set, frozenset):
        return type(obj)(_unwrap(x) for x in obj)
    if type(obj) is dict:
        return {_unwrap(k): _unwrap(v) for k, v in obj.items()}
    return obj


class _Replay:
    """The stubs of one replay and the step names they have handed out."""

    def __init__(self, run: StoredRun, outcomes: dict[str, tuple[Node, StepRecord]]) -> None:
        self.run = run
        self.outcomes = outcomes
        self.steps = {step.name: step for step in run.pipeline.steps}
        self.taken: set[str] = set()
        self.prefix = ""
        self.prefixes: set[str] = set()

    def _next_name(self, base: str) -> str:
        """ClearML's naming (`pipec.naming`), as the trace gave it at compile time: inside
        a nested pipeline, under its prefix."""
        name = unique_name(self.prefix + base, self.taken)
        self.taken.add(name)
        return name

    def nested(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """A nested pipeline's function, called by the logic: its component calls are named
        under the call's own prefix (`inner.`, then `inner_1.`), as the trace named them."""

        def call(*args: Any, **kwargs: Any) -> Any:
            outer = self.prefix
            self.prefix = unique_name(outer + function.__name__, self.prefixes) + "."
            self.prefixes.add(self.prefix[:-1])
            try:
                return function(*args, **kwargs)
            finally:
                self.prefix = outer

        call.__name__ = function.__name__
        return call

    def _value(self, step: Step, output: str) -> Any:
        """What the local target's logic gets: the stored value of a step that succeeded,
        None from one that continues after failing or was skipped; a fatal failure
        raises only where the logic uses the value."""
        node, record = self.outcomes[step.name]
        if record.status in SUCCEEDED:
            return self.run.load(record.outputs[output])
        if not is_fatal(node, record):
            return None
        error = record.error or f"step {step.name!r} {record.status}"

        def fail() -> Any:
            raise StepFailedError(error)

        return Proxy(fail)

    def stub(self, entrypoint: str, base: str) -> Callable[..., Any]:
        def component(*args: Any, **kwargs: Any) -> Any:
            name = self._next_name(base)
            step = self.steps.get(name)
            if step is None or step.code.entrypoint != entrypoint:
                raise ReplayError(
                    f"the pipeline logic calls component {entrypoint!r} as step {name!r}, which "
                    "the compiled graph does not have: this run took a path the compile-time "
                    "trace did not see (run such logic on a target that runs it, e.g. local)"
                )
            values = [self._value(step, output) for output in step.outputs]
            if not values:
                return None
            return values[0] if len(values) == 1 else values

        component.__name__ = entrypoint
        return component


def _compiled(tree: ast.Module, file: str, line: int) -> Any:
    """Code of the user's logic, its errors at the user's lines; annotations are never
    evaluated (they may name module globals)."""
    ast.increment_lineno(tree, line - 1)
    return compile(
        tree, file, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True
    )


def replay(
    run: StoredRun,
    outcomes: dict[str, tuple[Node, StepRecord]],
    module: dict[str, Any] | None = None,
) -> Any:
    """Run the pipeline logic of a finished run with its step outcomes (`outcomes` by
    step name); returns what the logic returns. Whatever the logic raises propagates:
    it is the run's error, as when the logic runs live. `module` gives the logic the
    globals of its own module, for logic that reads them (the caller loads them: the
    runtime does not run the user's pipeline file)."""
    controller = run.pipeline.controller
    assert controller is not None, "only a decorator pipeline has logic to replay"
    replaying = _Replay(run, outcomes)
    namespace: dict[str, Any] = dict(module or {})
    namespace.update(__name__="__pipec_replay__", __builtins__=builtins)
    if module is None:
        import_globals(controller.imports, namespace)
    for entrypoint in controller.components:
        base = controller.component_names.get(entrypoint) or next(
            s.name for s in run.pipeline.steps if s.code.entrypoint == entrypoint
        )
        namespace[entrypoint] = replaying.stub(entrypoint, base)
    for inner in controller.nested:
        where = inner.location or run.pipeline.source
        exec(_compiled(ast.parse(inner.source), where.file, where.line), namespace)
        namespace[inner.name] = replaying.nested(namespace[inner.name])
    location = controller.location or run.pipeline.source
    exec(_compiled(_function(controller), location.file, location.line), namespace)
    params = {p.name: resolve(run.parameter(p.name), run) for p in run.pipeline.parameters}
    return _unwrap(namespace[controller.entrypoint](**params))
