"""`PipelineDecorator`: ClearML's decorator API, captured by tracing.

Same names, parameters and defaults as ClearML's `PipelineDecorator`; the
decorated pipeline function becomes an IR pipeline whose steps are the
component calls it makes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipec import __version__
from pipec.capture import session
from pipec.capture.options import (
    jsonable_options,
    optional_callable,
    parse_packages,
    retry_policy,
    step_policies,
)
from pipec.capture.parameters import parameter_type
from pipec.capture.source import (
    FunctionSource,
    code_hash,
    decorator_location,
    decorator_roots,
    function_source,
    original_function,
    step_code,
)
from pipec.capture.trace import (
    Deferred,
    Trace,
    TraceStopped,
    active_trace,
    end_trace,
    has_deferred,
    literal,
    start_trace,
    to_value,
    unmark,
)
from pipec.errors import CaptureError, caller_frame, caller_location
from pipec.ir import (
    ControllerCode,
    DockerSpec,
    Helper,
    OutputRef,
    Parameter,
    ParamRef,
    Pipeline,
    PipelinePolicies,
    RepoSpec,
    SourceLocation,
    Step,
    StepCode,
    Value,
)
from pipec.refs import parents_of
from pipec.runtime import live


def split_return_values(value: str | Sequence[str] | None) -> list[str]:
    """`['X_train, X_test, y_train, y_test']` means four outputs, as users write it."""
    if value is None:
        return []
    entries = [value] if isinstance(value, str) else list(value)
    return [name.strip() for entry in entries for name in str(entry).split(",") if name.strip()]


def helpers_for(
    src: FunctionSource, explicit: Sequence[Callable[..., Any]], module_globals: dict[str, Any]
) -> list[Helper]:
    """Helper functions shipped with a step: the explicit ones plus stacked decorators."""
    functions = list(explicit)
    for root in decorator_roots(src):
        candidate = module_globals.get(root)
        if inspect.isfunction(candidate) and candidate not in functions:
            functions.append(candidate)
    helpers = []
    for fn in functions:
        helper_src = function_source(fn)
        helpers.append(
            Helper(name=helper_src.name, source=helper_src.source, location=helper_src.location)
        )
    return helpers


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
            error = session.user_exception(exc, doing)
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
                    "default_queue": self.options["default_queue"]
                    or PipelineDecorator._default_execution_queue,
                },
            ),
            pipec_version=__version__,
        )


def pipeline_policies(
    where: SourceLocation,
    *,
    default_queue: str | None = None,
    pipeline_execution_queue: str | None = "services",
    abort_on_failure: bool = False,
    add_pipeline_tags: bool = False,
    target_project: str | bool | None = None,
    pool_frequency: float = 0.2,
    retry_on_failure: Any = None,
    docker: str | None = None,
    docker_args: str | None = None,
    docker_bash_setup_script: str | None = None,
    repo: str | None = None,
    repo_branch: str | None = None,
    repo_commit: str | None = None,
    packages: Any = None,
    output_uri: str | bool | None = None,
    artifact_serialization_function: Callable[..., Any] | None = None,
    artifact_deserialization_function: Callable[..., Any] | None = None,
    **options: Any,
) -> PipelinePolicies:
    """Pipeline-level ClearML options as IR policies (shared by both authoring styles)."""
    return PipelinePolicies(
        default_queue=default_queue,
        pipeline_execution_queue=pipeline_execution_queue,
        abort_on_failure=abort_on_failure,
        add_pipeline_tags=add_pipeline_tags,
        target_project=target_project,
        pool_frequency=pool_frequency,
        retry_on_failure=retry_policy(retry_on_failure, where),
        docker=DockerSpec(
            image=docker, args=docker_args, bash_setup_script=docker_bash_setup_script
        ),
        repo=RepoSpec(url=repo, branch=repo_branch, commit=repo_commit),
        packages=parse_packages(packages),
        output_uri=output_uri,
        artifact_serialization_function=optional_callable(
            artifact_serialization_function, "artifact_serialization_function", where
        ),
        artifact_deserialization_function=optional_callable(
            artifact_deserialization_function, "artifact_deserialization_function", where
        ),
        options=jsonable_options(where, **options),
    )


class PipelineDecorator:
    """ClearML's `PipelineDecorator`, with the same parameters and defaults."""

    _default_execution_queue: ClassVar[str | None] = None
    _execution_mode: ClassVar[str] = "remote"

    @classmethod
    def component(
        cls,
        _func: Any = None,
        *,
        return_values: str | Sequence[str] = ("return_object",),
        name: str | None = None,
        cache: bool = False,
        packages: bool | str | Sequence[str] | None = None,
        parents: list[str] | None = None,
        execution_queue: str | None = None,
        continue_on_fail: bool = False,
        docker: str | None = None,
        docker_args: str | None = None,
        docker_bash_setup_script: str | None = None,
        task_type: str | None = None,
        auto_connect_frameworks: dict[str, Any] | None = None,
        auto_connect_arg_parser: dict[str, Any] | None = None,
        repo: str | None = None,
        repo_branch: str | None = None,
        repo_commit: str | None = None,
        helper_functions: Sequence[Callable[..., Any]] | None = None,
        monitor_metrics: list[Any] | None = None,
        monitor_artifacts: list[Any] | None = None,
        monitor_models: list[Any] | None = None,
        retry_on_failure: int | Callable[..., bool] | None = None,
        pre_execute_callback: Callable[..., bool] | None = None,
        post_execute_callback: Callable[..., None] | None = None,
        status_change_callback: Callable[..., None] | None = None,
        tags: str | Sequence[str] | None = None,
        output_uri: str | bool | None = None,
        draft: bool | None = False,
        working_dir: str | None = None,
        continue_behaviour: dict[str, Any] | None = None,
        stage: str | None = None,
        loop_condition: Callable[..., bool] | None = None,
        loop_body: list[str] | None = None,
        max_loop_iterations: int = 10,
    ) -> Callable[..., Any]:
        frame = caller_frame()
        decorator = decorator_location(frame.f_code.co_filename, frame.f_lineno)
        options = dict(
            cache=cache,
            packages=packages,
            execution_queue=execution_queue,
            continue_on_fail=continue_on_fail,
            docker=docker,
            docker_args=docker_args,
            docker_bash_setup_script=docker_bash_setup_script,
            task_type=task_type,
            repo=repo,
            repo_branch=repo_branch,
            repo_commit=repo_commit,
            monitor_metrics=monitor_metrics,
            monitor_artifacts=monitor_artifacts,
            monitor_models=monitor_models,
            retry_on_failure=retry_on_failure,
            pre_execute_callback=pre_execute_callback,
            post_execute_callback=post_execute_callback,
            status_change_callback=status_change_callback,
            tags=tags,
            output_uri=output_uri,
            draft=draft,
            working_dir=working_dir,
            continue_behaviour=continue_behaviour,
            stage=stage,
            loop_condition=loop_condition,
            loop_body=loop_body,
            max_loop_iterations=max_loop_iterations,
            auto_connect_frameworks=auto_connect_frameworks,
            auto_connect_arg_parser=auto_connect_arg_parser,
        )

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            spec = ComponentSpec(
                fn=fn,
                name=name or original_function(fn).__name__,
                outputs=split_return_values(return_values),
                parents=list(parents or []),
                helper_functions=list(helper_functions or []),
                options=options,
                decorator=decorator,
                decorator_file=frame.f_code.co_filename,
                module_globals=frame.f_globals,
            )

            @functools.wraps(fn)
            def component_call(*args: Any, **kwargs: Any) -> Any:
                trace = active_trace()
                if trace is not None:
                    return spec.record_call(trace, args, kwargs)
                run = live.active_run()
                if run is not None:
                    return live.component_call(run, spec, args, kwargs)
                return fn(*args, **kwargs)

            component_call._pipec_component = spec  # type: ignore[attr-defined]
            return component_call

        return wrap if _func is None else wrap(_func)

    @classmethod
    def pipeline(
        cls,
        _func: Any = None,
        *,
        name: str,
        project: str,
        version: str | None = None,
        return_value: str | None = None,
        default_queue: str | None = None,
        pool_frequency: float = 0.2,
        add_pipeline_tags: bool = False,
        target_project: str | None = None,
        abort_on_failure: bool = False,
        pipeline_execution_queue: str | None = "services",
        multi_instance_support: bool | str = False,
        add_run_number: bool = True,
        args_map: dict[str, list[str]] | None = None,
        start_controller_locally: bool = False,
        retry_on_failure: int | Callable[..., bool] | None = None,
        docker: str | None = None,
        docker_args: str | None = None,
        docker_bash_setup_script: str | None = None,
        packages: bool | str | Sequence[str] | None = None,
        repo: str | None = None,
        repo_branch: str | None = None,
        repo_commit: str | None = None,
        artifact_serialization_function: Callable[[Any], bytes | bytearray] | None = None,
        artifact_deserialization_function: Callable[[bytes], Any] | None = None,
        output_uri: str | bool | None = None,
        skip_global_imports: bool = False,
        working_dir: str | None = None,
        enable_local_imports: bool = True,
    ) -> Callable[..., Any]:
        frame = caller_frame()
        # now, while the frame is at the decorator: when it is applied, Python 3.10 has
        # moved on to the `def` line
        decorator = decorator_location(frame.f_code.co_filename, frame.f_lineno)
        options = dict(
            default_queue=default_queue,
            pipeline_execution_queue=pipeline_execution_queue,
            abort_on_failure=abort_on_failure,
            add_pipeline_tags=add_pipeline_tags,
            target_project=target_project,
            pool_frequency=pool_frequency,
            retry_on_failure=retry_on_failure,
            docker=docker,
            docker_args=docker_args,
            docker_bash_setup_script=docker_bash_setup_script,
            repo=repo,
            repo_branch=repo_branch,
            repo_commit=repo_commit,
            packages=packages,
            output_uri=output_uri,
            artifact_serialization_function=artifact_serialization_function,
            artifact_deserialization_function=artifact_deserialization_function,
            return_value=return_value,
            multi_instance_support=multi_instance_support,
            add_run_number=add_run_number,
            args_map=args_map,
            start_controller_locally=start_controller_locally,
            skip_global_imports=skip_global_imports,
            working_dir=working_dir,
            enable_local_imports=enable_local_imports,
        )

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            spec = PipelineSpec(
                fn=fn,
                name=name,
                project=project,
                version=version,
                options=options,
                decorator=decorator,
                decorator_file=frame.f_code.co_filename,
            )

            @functools.wraps(fn)
            def pipeline_call(*args: Any, **kwargs: Any) -> Any:
                capturing = session.active_session()
                if capturing is not None:
                    pipeline = spec.capture(args, kwargs, dynamic=capturing.dynamic)
                    return session.pipeline_called(pipeline)
                from pipec.runtime import start

                return start.run_decorator(spec, args, kwargs, cls._execution_mode)

            pipeline_call._pipec_pipeline = spec  # type: ignore[attr-defined]
            return pipeline_call

        return wrap if _func is None else wrap(_func)

    @classmethod
    def reset(cls) -> None:
        """Forget the default queue and run mode a previous script chose."""
        cls._default_execution_queue = None
        cls._execution_mode = "remote"

    @classmethod
    def set_default_execution_queue(cls, default_execution_queue: str | None) -> None:
        cls._default_execution_queue = (
            str(default_execution_queue) if default_execution_queue else None
        )

    @classmethod
    def run_locally(cls) -> None:
        """Steps run as local subprocesses (the `local` target)."""
        cls._execution_mode = "local"

    @classmethod
    def get_logger(cls) -> Any:
        """The running step's logger inside a component, else the pipeline's own."""
        from pipec.task import Logger

        return Logger.current_logger()

    @classmethod
    def upload_artifact(cls, name: str, artifact_object: Any, **_: Any) -> bool:
        """From the pipeline logic: an artifact of the run (in its run record)."""
        cls._running("upload_artifact").upload_artifact(name, artifact_object)
        return True

    @classmethod
    def upload_model(cls, model_name: str, model_local_path: str, **_: Any) -> None:
        cls._running("upload_model").upload_model(model_name, model_local_path)

    @staticmethod
    def _running(what: str) -> Any:
        run = live.active_run()
        if run is None:
            raise CaptureError(f"PipelineDecorator.{what}() works while a pipeline runs")
        return run

    @classmethod
    def debug_pipeline(cls) -> None:
        """Steps run as plain in-process calls (the `debug` target)."""
        cls._execution_mode = "debug"
