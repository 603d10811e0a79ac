"""`PipelineController`: ClearML's explicit pipeline builder, straight into the IR.

Same names, parameters and defaults as ClearML's `PipelineController`.
`${...}` strings in `parameter_override`, `function_kwargs` and `task_overrides`
become typed references here, so a bad reference is reported at the `add_*`
call that holds it, and every referenced step becomes a parent, as in ClearML.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import inspect
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipec import __version__, templates
from pipec.capture import session
from pipec.capture.decorator import helpers_for, pipeline_policies
from pipec.capture.options import callable_spec, step_policies
from pipec.capture.parameters import parameter_type
from pipec.capture.source import code_hash, function_source, original_function, step_code
from pipec.capture.trace import literal
from pipec.errors import CaptureError, caller_frame, caller_location, display_path
from pipec.ir import (
    Expr,
    Parameter,
    Pipeline,
    SourceLocation,
    Step,
    StepCode,
    TaskTemplateSpec,
    Value,
)
from pipec.refs import RefSyntaxError, parents_of, parse_string


def parse_value(value: Any, where: SourceLocation, *, nested: bool) -> Value:
    """A ClearML argument value: `${...}` strings become references.

    With `nested` (ClearML's `recursively_parse_parameters`), strings inside
    lists, tuples and dicts are parsed too.
    """
    if isinstance(value, str):
        try:
            return parse_string(value)
        except RefSyntaxError as exc:
            raise CaptureError(str(exc), where) from exc
    if nested and isinstance(value, (list, tuple)):
        items = [parse_value(v, where, nested=True) for v in value]
        return Expr(op="list" if isinstance(value, list) else "tuple", args=items)
    if nested and isinstance(value, dict):
        flat = [parse_value(x, where, nested=True) for pair in value.items() for x in pair]
        return Expr(op="dict", args=flat)
    return literal(value)


class PipelineController:
    """ClearML's `PipelineController`, building a pipec pipeline."""

    def __init__(
        self,
        name: str,
        project: str,
        version: str | None = None,
        pool_frequency: float = 0.2,
        add_pipeline_tags: bool = False,
        target_project: str | bool | None = True,
        auto_version_bump: bool | None = None,
        abort_on_failure: bool = False,
        add_run_number: bool = True,
        retry_on_failure: int | Callable[..., bool] | None = None,
        docker: str | None = None,
        docker_args: str | None = None,
        docker_bash_setup_script: str | None = None,
        packages: bool | str | Sequence[str] | None = None,
        repo: str | None = None,
        repo_branch: str | None = None,
        repo_commit: str | None = None,
        always_create_from_code: bool = True,
        artifact_serialization_function: Callable[[Any], bytes | bytearray] | None = None,
        artifact_deserialization_function: Callable[[bytes], Any] | None = None,
        output_uri: str | bool | None = None,
        skip_global_imports: bool = False,
        working_dir: str | None = None,
        enable_local_imports: bool = True,
    ) -> None:
        self.name = name
        self._project = project
        self._version = version
        self._frame_file = caller_frame().f_code.co_filename
        self._location = caller_location()
        self._steps: list[Step] = []
        self._parameters: list[Parameter] = []
        self._options: dict[str, Any] = dict(
            pool_frequency=pool_frequency,
            add_pipeline_tags=add_pipeline_tags,
            target_project=target_project,
            abort_on_failure=abort_on_failure,
            retry_on_failure=retry_on_failure,
            docker=docker,
            docker_args=docker_args,
            docker_bash_setup_script=docker_bash_setup_script,
            packages=packages,
            repo=repo,
            repo_branch=repo_branch,
            repo_commit=repo_commit,
            artifact_serialization_function=artifact_serialization_function,
            artifact_deserialization_function=artifact_deserialization_function,
            output_uri=output_uri,
            auto_version_bump=auto_version_bump,
            add_run_number=add_run_number,
            always_create_from_code=always_create_from_code,
            skip_global_imports=skip_global_imports,
            working_dir=working_dir,
            enable_local_imports=enable_local_imports,
        )
        self._default_queue: str | None = None
        self._run: Any = None
        self._start_options: dict[str, Any] = {}

    # ------------------------------------------------------------ building

    def set_default_execution_queue(self, default_execution_queue: str | None) -> None:
        self._default_queue = str(default_execution_queue) if default_execution_queue else None

    def add_parameter(
        self,
        name: str,
        default: Any | None = None,
        description: str | None = None,
        param_type: str | None = None,
    ) -> None:
        self._parameters = [p for p in self._parameters if p.name != name]
        self._parameters.append(
            Parameter(
                name=name,
                type=param_type or parameter_type(inspect.Parameter.empty, default),
                default=literal(default),
                description=description,
            )
        )

    def add_step(
        self,
        name: str,
        base_task_id: str | None = None,
        parents: Sequence[str] | None = None,
        parameter_override: Mapping[str, Any] | None = None,
        configuration_overrides: Mapping[str, str | Mapping[str, Any]] | None = None,
        task_overrides: Mapping[str, Any] | None = None,
        execution_queue: str | None = None,
        monitor_metrics: list[Any] | None = None,
        monitor_artifacts: list[Any] | None = None,
        monitor_models: list[Any] | None = None,
        time_limit: float | None = None,
        base_task_project: str | None = None,
        base_task_name: str | None = None,
        clone_base_task: bool = True,
        continue_on_fail: bool = False,
        pre_execute_callback: Callable[..., bool] | None = None,
        post_execute_callback: Callable[..., None] | None = None,
        cache_executed_step: bool = False,
        base_task_factory: Callable[..., Any] | None = None,
        retry_on_failure: int | Callable[..., bool] | None = None,
        status_change_callback: Callable[..., None] | None = None,
        recursively_parse_parameters: bool = False,
        output_uri: str | bool | None = None,
        continue_behaviour: dict[str, Any] | None = None,
        stage: str | None = None,
        loop_condition: Callable[..., bool] | None = None,
        loop_body: list[str] | None = None,
        max_loop_iterations: int = 10,
    ) -> bool:
        """A step from a task script (a template found by id or by project/name)."""
        where = caller_location()
        nested = recursively_parse_parameters
        overrides = dict(parameter_override or {})
        for key in overrides:
            if "/" not in key:
                raise CaptureError(
                    f"parameter_override key {key!r} must be 'Section/name' (e.g. 'General/{key}')",
                    where,
                )
        inputs = {k: parse_value(v, where, nested=nested) for k, v in overrides.items()}
        task_values = {
            k: parse_value(v, where, nested=nested) for k, v in (task_overrides or {}).items()
        }
        config_values = {
            k: parse_value(v, where, nested=nested)
            for k, v in (configuration_overrides or {}).items()
        }
        template_spec = TaskTemplateSpec(
            project=base_task_project,
            name=base_task_name,
            template_id=base_task_id,
            factory=callable_spec(base_task_factory, "base_task_factory", where)
            if base_task_factory
            else None,
            clone_base_task=clone_base_task,
            task_overrides=task_values,
            configuration_overrides=config_values,
        )
        code, definition = self._task_code(template_spec, base_task_factory, where)
        dependencies = {
            **inputs,
            **{f"task:{k}": v for k, v in {**task_values, **config_values}.items()},
        }
        self._steps.append(
            Step(
                name=name,
                kind="task",
                code=code,
                inputs=inputs,
                outputs=[],
                parents=parents_of(dependencies, parents or []),
                policies=step_policies(
                    where,
                    cache=cache_executed_step,
                    continue_on_fail=continue_on_fail,
                    continue_behaviour=continue_behaviour,
                    retry_on_failure=retry_on_failure,
                    time_limit=time_limit,
                    execution_queue=execution_queue,
                    monitor_metrics=monitor_metrics,
                    monitor_artifacts=monitor_artifacts,
                    monitor_models=monitor_models,
                    pre_execute_callback=pre_execute_callback,
                    post_execute_callback=post_execute_callback,
                    status_change_callback=status_change_callback,
                    output_uri=output_uri,
                    stage=stage,
                    loop_condition=loop_condition,
                    loop_body=loop_body,
                    max_loop_iterations=max_loop_iterations,
                    recursively_parse_parameters=recursively_parse_parameters or None,
                ),
                template=template_spec,
                location=where,
                definition=definition,
            )
        )
        return True

    def _task_code(
        self, spec: TaskTemplateSpec, factory: Callable[..., Any] | None, where: SourceLocation
    ) -> tuple[StepCode, SourceLocation | None]:
        if spec.template_id is None and spec.name is None:
            if factory is None:
                raise CaptureError(
                    "add_step needs base_task_id, base_task_project/base_task_name or "
                    "base_task_factory",
                    where,
                )
            assert spec.factory is not None
            digest = hashlib.sha256(base64.b64decode(spec.factory.pickled)).hexdigest()
            return StepCode(kind="script", hash=digest), spec.factory.location
        found = templates.lookup(
            task_id=spec.template_id,
            project=spec.project,
            name=spec.name,
            search_dirs=[os.path.dirname(self._frame_file)],
        )
        if found is None:
            wanted = (
                f"id {spec.template_id!r}"
                if spec.template_id
                else f"{spec.project or '*'}/{spec.name}"
            )
            raise CaptureError(
                f"no task template {wanted}: run its script once, or register it with "
                f"`pipec task register SCRIPT` (scripts beside {display_path(self._frame_file)} "
                "with a matching Task.init are found too)",
                where,
            )
        spec.template_id = found.id
        with open(found.script, encoding="utf-8") as handle:
            source = handle.read()
        code = StepCode(
            kind="script",
            source=source,
            path=display_path(found.script),
            hash=code_hash("script", "", source, []),
        )
        return code, SourceLocation(file=display_path(found.script), line=found.line)

    def add_function_step(
        self,
        name: str,
        function: Callable[..., Any],
        function_kwargs: dict[str, Any] | None = None,
        function_return: list[str] | None = None,
        project_name: str | None = None,
        task_name: str | None = None,
        task_type: str | None = None,
        auto_connect_frameworks: dict[str, Any] | None = None,
        auto_connect_arg_parser: dict[str, Any] | None = None,
        packages: bool | str | Sequence[str] | None = None,
        repo: str | None = None,
        repo_branch: str | None = None,
        repo_commit: str | None = None,
        helper_functions: Sequence[Callable[..., Any]] | None = None,
        docker: str | None = None,
        docker_args: str | None = None,
        docker_bash_setup_script: str | None = None,
        parents: Sequence[str] | None = None,
        execution_queue: str | None = None,
        monitor_metrics: list[Any] | None = None,
        monitor_artifacts: list[Any] | None = None,
        monitor_models: list[Any] | None = None,
        time_limit: float | None = None,
        continue_on_fail: bool = False,
        pre_execute_callback: Callable[..., bool] | None = None,
        post_execute_callback: Callable[..., None] | None = None,
        cache_executed_step: bool = False,
        retry_on_failure: int | Callable[..., bool] | None = None,
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
    ) -> bool:
        """A step from a function; its defaults fill `function_kwargs`, as in ClearML."""
        where = caller_location()
        try:
            src = function_source(function)
        except (TypeError, CaptureError) as exc:
            raise CaptureError(f"add_function_step {name!r}: {exc}", where) from exc
        frame_globals = original_function(function).__globals__
        helpers = helpers_for(src, list(helper_functions or []), frame_globals)
        signature = inspect.signature(original_function(function))
        kwargs = {
            p.name: p.default for p in signature.parameters.values() if p.default is not p.empty
        }
        kwargs.update(function_kwargs or {})
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            raise CaptureError(
                f"add_function_step {name!r}: function_kwargs: {exc}", where
            ) from exc
        inputs = {k: parse_value(v, where, nested=False) for k, v in kwargs.items()}
        from pipec.capture.decorator import split_return_values

        self._steps.append(
            Step(
                name=name,
                kind="function",
                code=step_code("function", src, helpers),
                inputs=inputs,
                outputs=split_return_values(function_return),
                parents=parents_of(inputs, parents or []),
                policies=step_policies(
                    where,
                    cache=cache_executed_step,
                    continue_on_fail=continue_on_fail,
                    continue_behaviour=continue_behaviour,
                    retry_on_failure=retry_on_failure,
                    time_limit=time_limit,
                    execution_queue=execution_queue,
                    task_type=task_type,
                    packages=packages,
                    docker=docker,
                    docker_args=docker_args,
                    docker_bash_setup_script=docker_bash_setup_script,
                    repo=repo,
                    repo_branch=repo_branch,
                    repo_commit=repo_commit,
                    monitor_metrics=monitor_metrics,
                    monitor_artifacts=monitor_artifacts,
                    monitor_models=monitor_models,
                    pre_execute_callback=pre_execute_callback,
                    post_execute_callback=post_execute_callback,
                    status_change_callback=status_change_callback,
                    tags=tags,
                    output_uri=output_uri,
                    draft=draft,
                    working_dir=working_dir,
                    stage=stage,
                    loop_condition=loop_condition,
                    loop_body=loop_body,
                    max_loop_iterations=max_loop_iterations,
                    project_name=project_name,
                    task_name=task_name,
                    auto_connect_frameworks=auto_connect_frameworks,
                    auto_connect_arg_parser=auto_connect_arg_parser,
                ),
                location=where,
                definition=src.location,
            )
        )
        return True

    # ------------------------------------------------------------ the IR

    def to_ir(self) -> Pipeline:
        return Pipeline(
            name=self.name,
            project=self._project,
            version=self._version,
            style="controller",
            source=self._location,
            parameters=list(self._parameters),
            steps=list(self._steps),
            policies=pipeline_policies(
                self._location,
                default_queue=self._default_queue,
                **self._options,
                **self._start_options,
            ),
            pipec_version=__version__,
        )

    # ------------------------------------------------------------ starting

    def start(
        self,
        queue: str = "services",
        step_task_created_callback: Callable[..., bool] | None = None,
        step_task_completed_callback: Callable[..., None] | None = None,
        wait: bool = True,
    ) -> bool:
        """ClearML's remote start: runs on `$PIPEC_TARGET` (default `local`).
        With `wait=False` the run goes on in the background; see `wait()` and `stop()`."""
        where = caller_location()
        for option, callback in (
            ("step_task_created_callback", step_task_created_callback),
            ("step_task_completed_callback", step_task_completed_callback),
        ):
            if callback is not None:
                self._start_options[option] = callable_spec(callback, option, where).model_dump()
        self._start_options["pipeline_execution_queue"] = queue
        if session.active_session() is not None:
            return session.pipeline_called(self.to_ir(), *self._aliases())
        self._launch(None, wait=wait)
        return True

    def start_locally(self, run_pipeline_steps_locally: bool = False) -> None:
        """Runs here until done; steps on `local` when asked, else on `$PIPEC_TARGET`."""
        self._start_options["run_pipeline_steps_locally"] = run_pipeline_steps_locally
        self._start_options["pipeline_execution_queue"] = None
        if session.active_session() is not None:
            session.pipeline_called(self.to_ir(), *self._aliases())
            return
        self._launch("local" if run_pipeline_steps_locally else None, wait=True)

    def _launch(self, chosen: str | None, *, wait: bool) -> None:
        from pipec.runtime import start

        pipeline, logic = self.to_ir(), start.Logic(controller=self)
        if wait:
            self._result = start.run(pipeline, logic, chosen)
            return
        self._error: BaseException | None = None

        def background() -> None:
            try:
                self._result = start.run(pipeline, logic, chosen)
            except BaseException as exc:  # raised again by wait(), in the caller's thread
                self._error = exc

        # in the caller's context, so the options of `pipec run` reach the run
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(background,), daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ while / after it runs

    def wait(self, timeout: float | None = None) -> bool:
        """Until the run ends (`timeout` in minutes, as in ClearML); False if it did not."""
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(None if timeout is None else timeout * 60)
            if thread.is_alive():
                return False
            error, self._error = self._error, None
            if error is not None:  # the run could not start (invalid pipeline, storage, ...)
                raise error
        return True

    def stop(
        self, timeout: float | None = None, mark_failed: bool = False, mark_aborted: bool = False
    ) -> None:
        """Abort the running steps and skip the rest."""
        if self._run is not None:
            self._run.stop(status="failed" if mark_failed else "aborted")
        self.wait(timeout)

    def is_successful(
        self, fail_on_step_fail: bool = True, fail_condition: str = "all", strict: bool = False
    ) -> bool:
        """True when the run completed; a step reused from the cache counts as a success."""
        result = getattr(self, "_result", None)
        return result is not None and result.succeeded

    def get_pipeline_dag(self) -> dict[str, Any]:
        """Steps by name as `Node`s (`name`, `parents`, `status`, `executed`, ...)."""
        if self._run is not None:
            return self._run.get_pipeline_dag()
        from pipec.runtime.lifecycle import Node

        return {step.name: Node.of(step) for step in self._steps}

    def get_running_nodes(self) -> list[str]:
        return self._run.get_running_nodes() if self._run is not None else []

    def get_processed_nodes(self) -> list[str]:
        return self._run.get_processed_nodes() if self._run is not None else []

    @property
    def id(self) -> str | None:
        return self._run.run_id if self._run is not None else None

    def _active_run(self, what: str) -> Any:
        if self._run is None:
            raise CaptureError(f"{what} works while the pipeline runs (from a callback)")
        return self._run

    def get_logger(self) -> Any:
        """The pipeline's own logger: its reports go to the run record."""
        return self._active_run("get_logger()").logger

    def upload_artifact(self, name: str, artifact_object: Any, **_: Any) -> bool:
        self._active_run("upload_artifact()").upload_artifact(name, artifact_object)
        return True

    def upload_model(self, model_name: str, model_local_path: str, **_: Any) -> None:
        self._active_run("upload_model()").upload_model(model_name, model_local_path)

    def _aliases(self) -> list[str]:
        frame = caller_frame()
        return [var for var, obj in frame.f_globals.items() if obj is self]
