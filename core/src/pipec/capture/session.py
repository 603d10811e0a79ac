"""Capture mode: run a user's pipeline file as a script and record its pipelines.

ClearML users build controllers and call pipeline functions under
`if __name__ == "__main__":`, so the file runs as `__main__`. There, calling a
`@pipeline` function or `PipelineController.start()` / `start_locally()` records
the pipeline and stops the script, much as ClearML's remote start stops the local
process. Pipelines defined at module level but never started are found too.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import io
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipec.capture.builder import PipelineBuilder
from pipec.errors import CaptureError, PipelineError, UsageError, display_path, user_exception
from pipec.ir import Pipeline, SourceLocation


@dataclass
class ScriptChoices:
    """What a pipeline script chose with `PipelineDecorator`'s class methods, as in ClearML:
    the default queue of its components, and where its decorator pipelines run
    (`remote`: the configured target; `run_locally()`: local; `debug_pipeline()`: debug)."""

    default_queue: str | None = None
    execution_mode: str = "remote"

    def reset(self) -> None:
        self.default_queue, self.execution_mode = None, "remote"


CHOICES = ScriptChoices()
"""The choices of the script running in this process (reset before each capture)."""


class PipelineRecorded(BaseException):
    """Stops the user's script once its pipeline is recorded (not an error)."""


@dataclass
class CaptureSession:
    path: str
    dynamic: bool = False
    """Capturing to check a pipeline whose real logic will run (`pipec run` on a target
    that runs it): decorator traces stop quietly at run-time decisions."""
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    lazy: dict[str, Callable[[], Pipeline]] = field(default_factory=dict)
    logic: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """Each decorator pipeline's own function (undecorated), for running its logic."""

    def record(self, pipeline: Pipeline, *aliases: str) -> None:
        self.pipelines[pipeline.name] = pipeline
        for alias in aliases:
            self.aliases[alias] = pipeline.name

    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.pipelines, *self.lazy]))

    def get(self, name: str) -> Pipeline | None:
        name = self.aliases.get(name, name)
        if name not in self.pipelines and name in self.lazy:
            self.pipelines[name] = self.lazy[name]()
        return self.pipelines.get(name)


_SESSION: contextvars.ContextVar[CaptureSession | None] = contextvars.ContextVar(
    "pipec_capture_session", default=None
)


def active_session() -> CaptureSession | None:
    return _SESSION.get()


def pipeline_called(pipeline: Pipeline, *aliases: str) -> Any:
    """A pipeline was started by the user's script in capture mode: record it, stop."""
    session = active_session()
    assert session is not None, "only called while capturing"
    session.record(pipeline, *aliases)
    raise PipelineRecorded


def resolve_path(target: str) -> str:
    """PATH is a .py file or an importable `module.path`."""
    if target.endswith(".py") or os.sep in target:
        if not os.path.isfile(target):
            raise UsageError(f"no such file: {target}")
        return os.path.abspath(target)
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise UsageError(f"{target!r} is neither a .py file nor an importable module")
    return os.path.abspath(spec.origin)


def capture_file(path: str, *, dynamic: bool = False) -> CaptureSession:
    """Run the file in capture mode and collect its pipelines (nothing runs)."""
    CHOICES.reset()
    session = CaptureSession(path=path, dynamic=dynamic)
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        raise CaptureError(
            f"SyntaxError: {exc.msg}",
            SourceLocation(file=display_path(path), line=exc.lineno or 1),
        ) from exc
    module = types.ModuleType("__main__")
    module.__file__ = path
    saved = sys.modules.get("__main__"), list(sys.argv), list(sys.path)
    sys.modules["__main__"], sys.argv = module, [path]
    sys.path.insert(0, os.path.dirname(path))
    token = _SESSION.set(session)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, module.__dict__)
    except PipelineRecorded:
        pass
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise CaptureError(f"the script exited with status {exc.code}") from exc
    except PipelineError:
        raise
    except Exception as exc:
        raise user_exception(exc, "while running the pipeline file") from exc
    finally:
        _SESSION.reset(token)
        sys.modules["__main__"], sys.argv[:], sys.path[:] = saved[0], saved[1], saved[2]  # type: ignore[assignment]
    for var, obj in list(module.__dict__.items()):
        spec = getattr(obj, "_pipec_pipeline", None)
        if spec is not None:
            session.aliases[var] = spec.name
            session.logic[spec.name] = spec.fn
            if spec.name not in session.pipelines:
                session.lazy[spec.name] = _capture_uncalled(spec, dynamic)
        elif isinstance(obj, PipelineBuilder):
            session.aliases[var] = obj.name
            if obj.name not in session.pipelines:
                session.lazy[obj.name] = obj.to_ir
    return session


def pipeline_logic(pipeline: Pipeline, project_dir: str) -> Callable[..., Any]:
    """The function of decorator pipeline `pipeline`, from its file under `project_dir`,
    where it was compiled (the file runs in capture mode, so nothing in it starts a run):
    a target that runs or replays the logic calls it, with its module's globals."""
    path = os.path.join(project_dir, pipeline.source.file)
    if not os.path.isfile(path):
        raise UsageError(f"the pipeline file {path} is not on this machine")
    session = capture_file(path, dynamic=True)
    try:
        return session.logic[session.aliases.get(pipeline.name, pipeline.name)]
    except KeyError:
        raise UsageError(
            f"{display_path(path)} no longer defines the decorator pipeline {pipeline.name!r}"
        ) from None


def _capture_uncalled(spec: Any, dynamic: bool) -> Callable[[], Pipeline]:
    def capture() -> Pipeline:
        token = _SESSION.set(None)
        try:
            # as in `capture_file`: what the traced logic prints shows placeholders, and
            # stdout may be a command's JSON
            with contextlib.redirect_stdout(io.StringIO()):
                return spec.capture((), {}, dynamic=dynamic)
        finally:
            _SESSION.reset(token)

    return capture


def split_target(target: str) -> tuple[str, str]:
    """`PATH[:NAME]` -> (PATH, NAME or "") (a Windows drive letter is not a NAME)."""
    path_part, _, name = target.partition(":") if ":" in target[2:] else (target, "", "")
    return path_part, name


def load_pipeline(target: str, *, dynamic: bool = False) -> Pipeline:
    """`PATH[:NAME]` -> the captured pipeline (NAME is required when a file has several)."""
    path_part, name = split_target(target)
    session = capture_file(resolve_path(path_part), dynamic=dynamic)
    names = session.names()
    if not names:
        raise CaptureError(f"no pipeline found in {path_part}")
    if not name and len(session.pipelines) == 1:
        name = next(iter(session.pipelines))  # the one the script starts (others it nests)
    if not name:
        if len(names) > 1:
            raise UsageError(
                f"{path_part} defines several pipelines ({', '.join(names)}): pick one with "
                f"{path_part}:NAME"
            )
        name = names[0]
    pipeline = session.get(name)
    if pipeline is None:
        raise UsageError(f"no pipeline named {name!r} in {path_part}; found: {', '.join(names)}")
    return pipeline
