"""ClearML's explicit pipeline builder, straight into the IR.

`PipelineBuilder` holds the building half of ClearML's `PipelineController` (its
constructor, `add_parameter`, `add_step`, `add_function_step`), with the same names,
parameters and defaults; `pipec.api.PipelineController` adds starting and watching
a run. `${...}` strings in `parameter_override`, `function_kwargs` and `task_overrides`
become typed references here, so a bad reference is reported at the `add_*`
call that holds it, and every referenced step becomes a parent, as in ClearML.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipec import templates
from pipec._version import __version__
from pipec.capture.code import (
    code_hash,
    function_source,
    global_imports,
    original_function,
    step_code,
    step_packages,
)
from pipec.capture.options import (
    callable_spec,
    helpers_for,
    pipeline_policies,
    split_return_values,
    step_policies,
)
from pipec.capture.parameters import parameter_type, typed_default
from pipec.errors import CaptureError, caller_frame, caller_location, display_path
from pipec.exprs import literal
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


class PipelineBuilder:
    """The building half of ClearML's `PipelineController`: a pipec pipeline, step by step."""

    def __init__(
        self,
        name: str,
        project: str,
        version: str | float | None = None,
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
        self._version = None if version is None else str(version)  # ClearML takes 1.0 too
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
        self._start_options: dict[str, Any] = {}
        """What `start()` / `start_locally()` add to the pipeline's options."""

    # ------------------------------------------------------------ building

    def set_default_execution_queue(self, default_execution_queue: str | None) -> None:
        self._default_queue = str(default_execution_queue) if default_execution_queue else None

    def add_parameter(
        self,
        name: str,
        default: Any | None = None,
        description: str | None = None,
        param_type: str | type | None = None,
    ) -> None:
        """A pipeline parameter; its type is `param_type` (a type or its name, as ClearML
        takes it), else its default's, and every run's value is cast to it."""
        where = caller_location()
        self._parameters = [p for p in self._parameters if p.name != name]
        parameter = Parameter(
            name=name,
            type=parameter_type(param_type if param_type else inspect.Parameter.empty, default),
            description=description,
        )
        parameter.default = typed_default(parameter, default, where)
        self._parameters.append(parameter)

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
        skip = self._options["skip_global_imports"]
        imports = [] if skip else global_imports(src, helpers)
        if packages is None:  # ClearML records what the step imports
            packages = step_packages(src, helpers, imports)
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
        self._steps.append(
            Step(
                name=name,
                kind="function",
                code=step_code("function", src, helpers, imports),
                inputs=inputs,
                outputs=split_return_values(function_return, "function_return", where),
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
