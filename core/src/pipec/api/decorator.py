"""`PipelineDecorator`: ClearML's decorator API, captured by tracing and run live.

Same names, parameters and defaults as ClearML's `PipelineDecorator`. A decorated
component call means one of three things: inside a trace it records a step
(`pipec.capture.component`), inside a running pipeline's logic it adds a step to that
run (`pipec.runtime.logic`), and anywhere else it is a plain call of the function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from pipec.api import launch
from pipec.api.model import OutputModel
from pipec.api.task import Logger, Task, pipeline_task
from pipec.capture import session
from pipec.capture.code import original_function
from pipec.capture.component import ComponentSpec, PipelineSpec
from pipec.capture.options import split_return_values
from pipec.capture.session import CHOICES
from pipec.capture.trace import active_trace
from pipec.errors import CaptureError, caller_frame, caller_location
from pipec.runtime import logic
from pipec.source import decorator_location


class PipelineDecorator:
    """ClearML's `PipelineDecorator`, with the same parameters and defaults."""

    # the script's choices (default queue, run mode) live in `pipec.capture.session.CHOICES`,
    # which a capture resets before it runs the next script

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
                outputs=split_return_values(return_values, "return_values", decorator),
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
                live = logic.active_run()
                if live is not None:
                    location = caller_location()
                    arguments = spec.bind(args, kwargs, location)
                    skip = live.run.pipeline.policies.options.get("skip_global_imports")
                    return live.call_component(
                        spec.name,
                        arguments,
                        spec.outputs,
                        functools.partial(
                            spec.make_step, location=location, global_imports=not skip
                        ),
                    )
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
        version: str | float | None = None,
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
                version=None if version is None else str(version),  # 1.0 as in ClearML
                options=options,
                decorator=decorator,
                decorator_file=frame.f_code.co_filename,
            )

            @functools.wraps(fn)
            def pipeline_call(*args: Any, **kwargs: Any) -> Any:
                trace = active_trace()
                if trace is not None:  # called by a pipeline's logic: a nested pipeline
                    return spec.trace_nested(trace, args, kwargs)
                live = logic.active_run()
                if live is not None:
                    return live.call_nested(fn.__name__, lambda: fn(*args, **kwargs))
                capturing = session.active_session()
                if capturing is not None:
                    pipeline = spec.capture(args, kwargs, dynamic=capturing.dynamic)
                    return session.pipeline_called(pipeline)
                return launch.run_decorator(spec, args, kwargs, CHOICES.execution_mode)

            pipeline_call._pipec_pipeline = spec  # type: ignore[attr-defined]
            return pipeline_call

        return wrap if _func is None else wrap(_func)

    @classmethod
    def reset(cls) -> None:
        """Forget the default queue and run mode a previous script chose."""
        CHOICES.reset()

    @classmethod
    def set_default_execution_queue(cls, default_execution_queue: str | None) -> None:
        CHOICES.default_queue = str(default_execution_queue) if default_execution_queue else None

    @classmethod
    def run_locally(cls) -> None:
        """Steps run as local subprocesses (the `local` target)."""
        CHOICES.execution_mode = "local"

    @classmethod
    def get_logger(cls) -> Logger:
        """The running step's logger inside a component, else the pipeline's own."""
        return Logger.current_logger()

    @classmethod
    def upload_artifact(cls, name: str, artifact_object: Any, **_: Any) -> bool:
        """From the pipeline logic: an artifact of the run (in its run record)."""
        cls._running("upload_artifact").upload_artifact(name, artifact_object)
        return True

    @classmethod
    def upload_model(
        cls, model_name: str, model_local_path: str, upload_uri: str | None = None
    ) -> OutputModel:
        """From the pipeline logic: a model of the pipeline itself, registered in the
        store's model registry and in the run record (while the logic is only traced,
        nothing is registered: the run does it)."""
        traced = logic.active_run() is None and active_trace() is not None
        task = Task.current_task() if traced else pipeline_task(cls._running("upload_model"))
        model = OutputModel(task=task, name=str(model_name))
        model.update_weights(weights_filename=str(model_local_path), upload_uri=upload_uri)
        return model

    @staticmethod
    def _running(what: str) -> Any:
        live = logic.active_run()
        if live is None:
            raise CaptureError(f"PipelineDecorator.{what}() works while a pipeline runs")
        return live.run

    @classmethod
    def debug_pipeline(cls) -> None:
        """Steps run as plain in-process calls (the `debug` target)."""
        CHOICES.execution_mode = "debug"
