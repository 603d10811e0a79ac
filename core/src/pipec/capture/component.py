"""Decorated functions as IR: a component call becomes a step, a pipeline function a trace.

`ComponentSpec` and `PipelineSpec` are what `@PipelineDecorator.component` and
`@PipelineDecorator.pipeline` (in `pipec.api`) keep of the user's function: from
them the trace builds steps, and the pipeline function becomes an IR pipeline whose
steps are the component calls it makes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipec._version import __version__
from pipec.capture.code import (
    code_hash,
    function_source,
    original_function,
    step_code,
    step_packages,
)
from pipec.capture.code import global_imports as global_imports_of
from pipec.capture.options import helpers_for, pipeline_policies, step_policies
from pipec.capture.parameters import parameter_type, typed_default
from pipec.capture.session import CHOICES
from pipec.capture.trace import (
    Deferred,
    Trace,
    TraceEnded,
    TraceStopped,
    end_trace,
    has_deferred,
    start_trace,
    to_value,
    unmark,
)
from pipec.errors import CaptureError, caller_location, user_exception
from pipec.ir import (
    ControllerCode,
    Helper,
    OutputRef,
    Parameter,
    ParamRef,
    Pipeline,
    SourceLocation,
    Step,
    StepCode,
    Value,
)
from pipec.refs import parents_of


@dataclass
class ComponentSpec:
    """A function decorated with `@PipelineDecorator.component`."""

    fn: Callable[..., Any]
    name: str
    outputs: list[str]
    parents: list[str]
    helper_functions: list[Callable[..., Any]]
    options: dict[str, Any]
    decorator: SourceLocation
    decorator_file: str
    module_globals: dict[str, Any]

    _code: dict[bool, tuple[StepCode, SourceLocation, list[str]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def code(self, global_imports: bool) -> tuple[StepCode, SourceLocation, list[str]]:
        """The step's shippable code, with the module imports it uses unless the pipeline
        says `skip_global_imports`, where it is defined, and the packages it imports;
        read once per component."""
        if global_imports not in self._code:
            src = function_source(
                self.fn, decorator_line=self.decorator.line, file=self.decorator_file
            )
            helpers = helpers_for(src, self.helper_functions, self.module_globals)
            imports = global_imports_of(src, helpers) if global_imports else []
            code = step_code("function", src, helpers, imports)
            self._code[global_imports] = code, src.location, step_packages(src, helpers, imports)
        return self._code[global_imports]

    def bind(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], location: SourceLocation
    ) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied."""
        signature = inspect.signature(original_function(self.fn))
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
            raise CaptureError(
                f"component {self.name!r} takes *args/**kwargs; a step's inputs must be named "
                "parameters",
                self.decorator,
            )
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise CaptureError(f"calling component {self.name!r}: {exc}", location) from exc
        bound.apply_defaults()
        return dict(bound.arguments)

    def make_step(
        self,
        name: str,
        inputs: dict[str, Value],
        location: SourceLocation,
        *,
        global_imports: bool = True,
    ) -> Step:
        code, definition, packages = self.code(global_imports)
        policies = step_policies(location, **self.options)
        if policies.packages is None:  # ClearML records what the step imports
            policies.packages = packages
        return Step(
            name=name,
            kind="component",
            code=code,
            inputs=inputs,
            outputs=self.outputs,
            parents=parents_of(inputs, self.parents),
            policies=policies,
            location=location,
            definition=definition,
        )

    def record_call(self, trace: Trace, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        location = caller_location()
        trace.check_static(self.name, location)
        arguments = self.bind(args, kwargs, location)
        inputs = {key: to_value(value) for key, value in arguments.items()}
        step = self.make_step(
            trace.unique_name(self.name), inputs, location, global_imports=trace.global_imports
        )
        trace.steps.append(step)
        trace.components.setdefault(step.code.entrypoint, self.name)
        proxies = [Deferred(OutputRef(step=step.name, name=out)) for out in self.outputs]
        if not proxies:
            return None
        return proxies[0] if len(proxies) == 1 else proxies


@dataclass
class PipelineSpec:
    """A function decorated with `@PipelineDecorator.pipeline`."""

    fn: Callable[..., Any]
    name: str
    project: str
    version: str | None
    options: dict[str, Any]
    decorator: SourceLocation
    decorator_file: str

    def trace_nested(self, trace: Trace, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """This pipeline called inside another's logic (a nested pipeline): its logic is
        traced into that pipeline, its steps named `<function>.<component>`; it returns
        what its logic returns, deferred values included."""
        src = function_source(self.fn, decorator_line=self.decorator.line, file=self.decorator_file)
        helper = Helper(name=self.fn.__name__, source=src.source, location=src.location)
        trace.nested.setdefault(helper.name, helper)
        outer = trace.enter_nested(self.fn.__name__)
        try:
            return self.fn(*args, **kwargs)
        finally:
            trace.prefix = outer

    def capture(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], *, dynamic: bool = False
    ) -> Pipeline:
        """Trace the pipeline logic with symbolic parameters (call values become defaults).

        With `dynamic` (for targets that run the real logic) the trace ends quietly where
        the logic first decides on a run-time value; the steps before it are still checked.
        """
        signature = inspect.signature(self.fn)
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise CaptureError(f"calling pipeline {self.name!r}: {exc}", caller_location()) from exc
        parameters = []
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise CaptureError(
                    f"pipeline {self.name!r} takes *args/**kwargs; "
                    "pipeline parameters must be named",
                    self.decorator,
                )
            called = param.name in bound.arguments
            has_value = called or param.default is not param.empty
            value = bound.arguments.get(param.name, param.default)
            # the type is the annotation's, else the declared default's: a call's value
            # is cast to it, as every run's values are
            unset = param.default is param.empty or param.default is None
            declared = value if unset else param.default
            parameter = Parameter(
                name=param.name,
                type=parameter_type(param.annotation, declared if has_value else param.empty),
                required=not has_value,
            )
            if has_value:
                where = caller_location() if called else self.decorator
                parameter.default = typed_default(parameter, value, where)
            parameters.append(parameter)
        trace = Trace(
            pipeline=self.name,
            dynamic=dynamic,
            global_imports=not self.options.get("skip_global_imports"),
        )
        token = start_trace(trace)
        cut = None
        try:
            try:
                result = self.fn(**{p.name: Deferred(ParamRef(name=p.name)) for p in parameters})
            except TraceEnded:  # the rest of the logic needs real values, and calls no step
                result = None
            except TraceStopped:
                result = None
                cut = trace.decision.location if trace.decision else None
            # a plain value returned after a branch on run-time values is only the branch the
            # trace happened to take: only a replay of the logic knows the real one
            guessed = bool(trace.decisions) and not has_deferred(result)
            return_value = to_value(result) if result is not None and not guessed else None
        except CaptureError:
            raise
        except Exception as exc:
            doing = "while tracing the pipeline logic"
            if isinstance(exc, (TypeError, ValueError)) and "unpack" in str(exc):
                doing += (
                    "; check the component's return_values: they set how many values it returns"
                )
            error = user_exception(exc, doing)
            raise CaptureError(unmark(error.message, trace), error.location) from exc
        finally:
            end_trace(token)
        src = function_source(self.fn, decorator_line=self.decorator.line, file=self.decorator_file)
        nested = list(trace.nested.values())
        imports = global_imports_of(src, nested) if trace.global_imports else []
        controller = ControllerCode(
            source=src.source,
            entrypoint=src.name,
            hash=code_hash("function", src.name, src.source, [], imports),
            imports=imports,
            location=src.location,
            components=list(trace.components),
            component_names=dict(trace.components),
            nested=list(trace.nested.values()),
            return_value=return_value,
            decisions=[d.location for d in trace.decisions],
            cut=cut,
        )
        return Pipeline(
            name=self.name,
            project=self.project,
            version=self.version,
            style="decorator",
            source=self.decorator,
            parameters=parameters,
            steps=trace.steps,
            controller=controller,
            policies=pipeline_policies(
                self.decorator,
                **{
                    **self.options,
                    "default_queue": self.options["default_queue"] or CHOICES.default_queue,
                },
            ),
            pipec_version=__version__,
        )
