"""Starting a run: which target, with which options, for a pipeline the user started.

A pipeline starts three ways: `pipec run` (a `RunRequest` names the target and
options), a script calling a `@pipeline` function (`run_locally()` /
`debug_pipeline()` choose the target, as in ClearML), or a script calling
`PipelineController.start()` / `start_locally()`. Without a choice the target
is `$PIPEC_TARGET`, else `local`: ClearML's remote default runs on the engine
this machine is configured for.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

from pipec.capture.builder import PipelineBuilder
from pipec.capture.component import PipelineSpec
from pipec.contract import Logic, RunOptions, RunResult
from pipec.errors import PipelineErrors
from pipec.ir import Pipeline
from pipec.plugins import get_target
from pipec.validate import check_target, validate


@dataclass
class RunRequest:
    """What `pipec run` asked for; results of the pipelines the script ran are kept."""

    options: RunOptions
    name: str | None = None
    results: list[RunResult] = field(default_factory=list)


_REQUEST: contextvars.ContextVar[RunRequest | None] = contextvars.ContextVar(
    "pipec_run_request", default=None
)


def active_request() -> RunRequest | None:
    return _REQUEST.get()


def set_request(request: RunRequest | None) -> contextvars.Token[RunRequest | None]:
    return _REQUEST.set(request)


def reset_request(token: contextvars.Token[RunRequest | None]) -> None:
    _REQUEST.reset(token)


def default_target(chosen: str | None = None) -> str:
    """`debug`/`local` when the script chose one, else $PIPEC_TARGET, else `local`."""
    return chosen or os.environ.get("PIPEC_TARGET") or "local"


def run(pipeline: Pipeline, logic: Logic, chosen: str | None = None) -> RunResult | None:
    """Validate and run a started pipeline; None when `pipec run` asked for another one."""
    request = active_request()
    if request is not None and request.name not in (None, pipeline.name):
        return None
    options = request.options if request else RunOptions(target=default_target(chosen))
    target = get_target(options.target)
    errors = validate(pipeline)
    errors += check_target(pipeline, target.name, target.capabilities)
    if errors:
        raise PipelineErrors(errors)
    try:
        result = target.run(pipeline, options, logic)
    except Exception:
        if request is not None and logic.failed_run is not None:
            request.results.append(logic.failed_run)  # `pipec run` reports it as a failed run
        raise
    if request is not None:
        request.results.append(result)
    return result


def run_decorator(
    spec: PipelineSpec, args: tuple[Any, ...], kwargs: dict[str, Any], mode: str
) -> Any:
    """A `@pipeline` function called by a script: run it and return its value."""
    request = active_request()
    target_name = (
        request.options.target
        if request
        else default_target(mode if mode in ("debug", "local") else None)
    )
    dynamic = "dynamic" in get_target(target_name).capabilities
    with contextlib.redirect_stdout(io.StringIO()):  # the check's prints show placeholders
        pipeline = spec.capture(args, kwargs, dynamic=dynamic)
    result = run(pipeline, Logic(function=spec.fn, args=args, kwargs=kwargs), target_name)
    return None if result is None else result.value


def run_file(path: str, request: RunRequest) -> dict[str, Any]:
    """Run a pipeline file as `python PATH` would, with `request` choosing target and
    options; returns its module namespace (for pipelines it defines but never starts)."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path}
    with open(path, encoding="utf-8") as handle:
        code = compile(handle.read(), path, "exec")
    module = types.ModuleType("__main__")
    module.__dict__.update(namespace)
    saved = sys.modules.get("__main__"), list(sys.argv), list(sys.path)
    sys.modules["__main__"], sys.argv = module, [path]
    sys.path.insert(0, os.path.dirname(path))
    token = set_request(request)
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        reset_request(token)
        sys.modules["__main__"], sys.argv[:], sys.path[:] = saved[0], saved[1], saved[2]  # type: ignore[assignment]
    return module.__dict__


def run_defined(namespace: dict[str, Any], name: str, request: RunRequest) -> None:
    """Start a pipeline the file defines but did not start itself."""
    token = set_request(request)
    try:
        for obj in list(namespace.values()):
            spec = getattr(obj, "_pipec_pipeline", None)
            if spec is not None and spec.name == name:
                obj()
                return
            if isinstance(obj, PipelineBuilder) and obj.name == name:
                obj.start()  # type: ignore[attr-defined]  # a PipelineController
                return
    finally:
        reset_request(token)
