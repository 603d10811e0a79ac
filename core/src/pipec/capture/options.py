"""ClearML step and pipeline options, normalised into IR policies.

One place turns the many accepted shapes of ClearML's arguments (a metric pair or
a pair of pairs, a name or a rename pair, an int or a callable) into plain IR
data, for decorators and controllers alike.
"""

from __future__ import annotations

import ast
import base64
import functools
import inspect
import json
import types
from collections.abc import Callable, Sequence
from typing import Any

import cloudpickle

from pipec.capture.code import FunctionSource, decorator_roots, function_source
from pipec.errors import CaptureError, display_path
from pipec.ir import (
    CallableSpec,
    DockerSpec,
    Helper,
    LoopSpec,
    MetricSelector,
    PipelinePolicies,
    RenamePair,
    RepoSpec,
    SourceLocation,
    StepPolicies,
)
from pipec.source import FileIndex, file_index

CONTINUE_KEYS = (
    "continue_on_fail",
    "continue_on_abort",
    "skip_children_on_fail",
    "skip_children_on_abort",
)


def _environment_globals(fn: Callable[..., Any]) -> list[tuple[str, int]]:
    """(name, line) of the module globals `fn` reads that its file sets from the
    environment (`TOKEN = os.environ["TOKEN"]`): cloudpickle would carry their values,
    secrets included, into the IR and every file compiled from it. Only a function of
    the pipeline file itself (`__main__`) is pickled with its globals."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__module__", None) != "__main__":
        return []
    names: set[str] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        names.update(current.co_names)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    try:
        assigned = _environment_assignments(file_index(code.co_filename))
    except (OSError, SyntaxError, ValueError):
        return []
    return [(name, line) for name, line in assigned.items() if name in names]


@functools.lru_cache(maxsize=64)
def _environment_assignments(index: FileIndex) -> dict[str, int]:
    """Module-level names a file sets from the environment, with their lines (once per
    parse of the file: a pipeline of many steps asks for each callable)."""
    found: dict[str, int] = {}
    for node in index.tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if value is None or not _reads_environment(value):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    found.setdefault(name.id, node.lineno)
    return found


def _reads_environment(expr: ast.expr) -> bool:
    return any(
        (isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv"))
        or (isinstance(node, ast.Name) and node.id in ("environ", "getenv"))
        for node in ast.walk(expr)
    )


def callable_spec(fn: Callable[..., Any], option: str, where: SourceLocation) -> CallableSpec:
    """Carry a user callable by value (cloudpickle), with where it is defined; never one
    that would carry a value read from the environment."""
    for name, line in _environment_globals(fn):
        file = display_path(fn.__code__.co_filename)
        raise CaptureError(
            f"{option}: {getattr(fn, '__qualname__', fn)!r} reads the module global {name!r}, "
            f"set from the environment at {file}:{line}: its value would be written into the "
            "pipeline and every file compiled from it. Read the environment inside the "
            "function instead",
            where,
        )
    try:
        pickled = base64.b64encode(cloudpickle.dumps(fn)).decode()
    except Exception as exc:
        raise CaptureError(f"{option}: cannot serialise {fn!r}: {exc}", where) from exc
    code = getattr(fn, "__code__", None)
    location = (
        SourceLocation(file=display_path(code.co_filename), line=code.co_firstlineno)
        if code is not None
        else None
    )
    try:
        source = function_source(fn).source
    except Exception:
        source = None
    return CallableSpec(
        qualname=getattr(fn, "__qualname__", repr(fn)),
        location=location,
        source=source,
        pickled=pickled,
    )


def optional_callable(
    fn: Callable[..., Any] | None, option: str, where: SourceLocation
) -> CallableSpec | None:
    if fn is None:
        return None
    if not callable(fn):
        raise CaptureError(f"{option} must be callable, got {type(fn).__name__}", where)
    return callable_spec(fn, option, where)


def retry_policy(value: Any, where: SourceLocation) -> int | CallableSpec | None:
    if value is None or isinstance(value, CallableSpec):
        return value
    if isinstance(value, bool) or not (isinstance(value, int) or callable(value)):
        raise CaptureError(
            f"retry_on_failure must be an int or a callable (pipeline, node, retries) -> bool, "
            f"got {value!r}",
            where,
        )
    return value if isinstance(value, int) else callable_spec(value, "retry_on_failure", where)


def parse_monitor_metrics(
    entries: Sequence[Any] | None, where: SourceLocation
) -> list[MetricSelector]:
    """`[(title, series)]` or `[((title, series), (target_title, target_series))]`."""
    out = []
    for entry in entries or []:
        pair = tuple(entry)
        if len(pair) == 2 and all(isinstance(p, str) for p in pair):
            src = dst = pair
        elif len(pair) == 2 and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pair):
            src, dst = tuple(pair[0]), tuple(pair[1])
        else:
            raise CaptureError(
                f"monitor_metrics entry {entry!r} must be (title, series) or "
                "((title, series), (target_title, target_series))",
                where,
            )
        out.append(
            MetricSelector(title=src[0], series=src[1], target_title=dst[0], target_series=dst[1])
        )
    return out


def parse_rename_pairs(
    entries: Sequence[Any] | None, option: str, where: SourceLocation
) -> list[RenamePair]:
    """`['name']` or `[('source', 'target')]`."""
    out = []
    for entry in entries or []:
        if isinstance(entry, str):
            out.append(RenamePair(source=entry, target=entry))
        elif isinstance(entry, (tuple, list)) and len(entry) == 2:
            out.append(RenamePair(source=str(entry[0]), target=str(entry[1])))
        else:
            raise CaptureError(
                f"{option} entry {entry!r} must be a name or (source, target)", where
            )
    return out


def parse_continue_behaviour(
    value: dict[str, Any] | None, where: SourceLocation
) -> dict[str, bool] | None:
    """ClearML semantics: keys missing from a given dict default to True."""
    if value is None:
        return None
    unknown = set(value) - set(CONTINUE_KEYS)
    if unknown:
        raise CaptureError(
            f"continue_behaviour has unknown keys {sorted(unknown)}; "
            f"allowed: {list(CONTINUE_KEYS)}",
            where,
        )
    return {key: bool(value.get(key, True)) for key in CONTINUE_KEYS}


def parse_packages(value: Any) -> list[str] | str | bool | None:
    if value is None or isinstance(value, (str, bool)):
        return value
    return [str(p) for p in value]


def parse_tags(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(t) for t in value]


def jsonable_options(where: SourceLocation, **options: Any) -> dict[str, Any]:
    """Options kept verbatim; they must be JSON data, and unset ones are left out."""
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        try:
            json.dumps(value)
        except TypeError as exc:
            raise CaptureError(
                f"{key} must be JSON data (dict/list/str/number): {exc}", where
            ) from exc
        out[key] = value
    return out


def step_policies(
    where: SourceLocation,
    *,
    cache: bool = False,
    continue_on_fail: bool = False,
    continue_behaviour: dict[str, Any] | None = None,
    retry_on_failure: Any = None,
    time_limit: float | None = None,
    execution_queue: str | None = None,
    task_type: Any = None,
    packages: Any = None,
    docker: str | None = None,
    docker_args: str | None = None,
    docker_bash_setup_script: str | None = None,
    repo: str | None = None,
    repo_branch: str | None = None,
    repo_commit: str | None = None,
    monitor_metrics: Sequence[Any] | None = None,
    monitor_artifacts: Sequence[Any] | None = None,
    monitor_models: Sequence[Any] | None = None,
    pre_execute_callback: Callable[..., Any] | None = None,
    post_execute_callback: Callable[..., Any] | None = None,
    status_change_callback: Callable[..., Any] | None = None,
    tags: str | Sequence[str] | None = None,
    output_uri: str | bool | None = None,
    draft: bool | None = False,
    working_dir: str | None = None,
    stage: str | None = None,
    loop_condition: Callable[..., Any] | None = None,
    loop_body: Sequence[str] | None = None,
    max_loop_iterations: int = 10,
    **options: Any,
) -> StepPolicies:
    loop = None
    if loop_condition is not None or loop_body:
        if loop_condition is None or not loop_body:
            raise CaptureError("loop_condition and loop_body must be given together", where)
        loop = LoopSpec(
            condition=callable_spec(loop_condition, "loop_condition", where),
            body=list(loop_body),
            max_iterations=max_loop_iterations,
        )
    return StepPolicies(
        cache=bool(cache),
        continue_on_fail=bool(continue_on_fail),
        continue_behaviour=parse_continue_behaviour(continue_behaviour, where),
        retry_on_failure=retry_policy(retry_on_failure, where),
        time_limit=time_limit,
        execution_queue=execution_queue,
        task_type=str(task_type) if task_type is not None else None,
        packages=parse_packages(packages),
        docker=DockerSpec(
            image=docker, args=docker_args, bash_setup_script=docker_bash_setup_script
        ),
        repo=RepoSpec(url=repo, branch=repo_branch, commit=repo_commit),
        monitor_metrics=parse_monitor_metrics(monitor_metrics, where),
        monitor_artifacts=parse_rename_pairs(monitor_artifacts, "monitor_artifacts", where),
        monitor_models=parse_rename_pairs(monitor_models, "monitor_models", where),
        pre_execute_callback=optional_callable(pre_execute_callback, "pre_execute_callback", where),
        post_execute_callback=optional_callable(
            post_execute_callback, "post_execute_callback", where
        ),
        status_change_callback=optional_callable(
            status_change_callback, "status_change_callback", where
        ),
        tags=parse_tags(tags),
        output_uri=output_uri,
        draft=draft,
        working_dir=working_dir,
        stage=stage,
        loop=loop,
        options=jsonable_options(where, **options),
    )


def split_return_values(
    value: str | Sequence[str] | None, option: str, where: SourceLocation
) -> list[str]:
    """`['X_train, X_test, y_train, y_test']` means four outputs, as users write it. Each
    name is one of the values the step returns, so a name given twice is an error at
    `where` (the decorator or `add_function_step`): one of its values would be lost."""
    if value is None:
        return []
    entries = [value] if isinstance(value, str) else list(value)
    names = [name.strip() for entry in entries for name in str(entry).split(",") if name.strip()]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise CaptureError(
                f"{option} names the output {name!r} twice: each name is one value", where
            )
    return names


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
