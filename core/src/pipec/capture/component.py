"""Decorated functions as IR: a component call becomes a step, a pipeline function a trace.

`ComponentSpec` and `PipelineSpec` are what `@PipelineDecorator.component` and
`@PipelineDecorator.pipeline` (in `pipec.api`) keep of the user's function: from
them the trace builds steps, and the pipeline function becomes an IR pipeline whose
steps are the component calls it makes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipec._version import __version__
from pipec.capture.code import (
    code_hash,
    function_source,
    original_function,
    step_code,
)
from pipec.capture.options import helpers_for, pipeline_policies, step_policies
from pipec.capture.parameters import parameter_type
from pipec.capture.session import CHOICES
from pipec.capture.trace import (
    Deferred,
    Trace,
    TraceStopped,
    end_trace,
    has_deferred,
    start_trace,
    to_value,
    unmark,
)
from pipec.errors import CaptureError, caller_location, user_exception
from pipec.exprs import literal
from pipec.ir import (
    ControllerCode,
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

    @functools.cached_property
    def code(self) -> tuple[StepCode, SourceLocation]:
        """The step's shippable code, read once per component."""
        src = function_source(self.fn, decorator_line=self.decorator.line, file=self.decorator_file)
        helpers = helpers_for(src, self.helper_functions, self.module_globals)
        return step_code("function", src, helpers), src.location

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

    def make_step(self, name: str, inputs: dict[str, Value], location: SourceLocation) -> Step:
        code, definition = self.code
        return Step(
            name=name,
            kind="component",
            code=code,
            inputs=inputs,
            outputs=self.outputs,
            parents=parents_of(inputs, self.parents),
            policies=step_policies(location, **self.options),
            location=location,
            definition=definition,
        )

    def record_call(self, trace: Trace, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        location = caller_location()
        trace.check_static(self.name, location)
        arguments = self.bind(args, kwargs, location)
        inputs = {key: to_value(value) for key, value in arguments.items()}
        step = self.make_step(trace.unique_name(self.name), inputs, location)
        trace.steps.append(step)
        trace.components.setdefault(step.code.entrypoint, None)
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
            has_value = param.name in bound.arguments or param.default is not param.empty
            value = bound.arguments.get(param.name, param.default)
            parameters.append(
                Parameter(
                    name=param.name,
                    type=parameter_type(param.annotation, value if has_value else param.empty),
                    default=literal(value) if has_value else None,
                    required=not has_value,
                )
            )
        trace = Trace(pipeline=self.name, dynamic=dynamic)
        token = start_trace(trace)
        cut = None
        try:
            try:
                result = self.fn(**{p.name: Deferred(ParamRef(name=p.name)) for p in parameters})
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
        controller = ControllerCode(
            source=src.source,
            entrypoint=src.name,
            hash=code_hash("function", src.name, src.source, []),
            location=src.location,
            components=list(trace.components),
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
