"""Errors that point at the user's code.

Every mistake in a pipeline is reported as `file:line: message`, once, before
anything runs, so the user can jump straight to it.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import traceback
from collections.abc import Iterable
from types import FrameType

from pipec.ir import SourceLocation


class PipelineError(Exception):
    """One problem in a pipeline, at a place in the user's code."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CaptureError(PipelineError):
    """The pipeline could not be captured (the user's script failed or a trace stopped)."""


class ValidationError(PipelineError):
    """The pipeline was captured but is not valid."""


class PipelineErrors(Exception):
    """Several independent problems, reported together."""

    def __init__(self, errors: Iterable[PipelineError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def display_path(path: str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    return _display_path(path, os.getcwd())


@functools.lru_cache(maxsize=256)
def _display_path(path: str, cwd: str) -> str:
    """`display_path` per working directory: capture asks it several times per step."""
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def location_of(frame: FrameType) -> SourceLocation:
    return SourceLocation(file=display_path(frame.f_code.co_filename), line=frame.f_lineno)


_PIPEC_DIR = os.path.dirname(os.path.abspath(__file__))


def caller_location() -> SourceLocation:
    """The line of user code that called into pipec."""
    return location_of(caller_frame())


def caller_frame() -> FrameType:
    """The innermost frame outside pipec itself."""
    frame = sys._getframe(1)
    while frame.f_back is not None and _is_pipec_frame(frame):
        frame = frame.f_back
    return frame


def is_pipec_path(path: str) -> bool:
    """Whether a file belongs to pipec itself (so errors skip it to find user code)."""
    return os.path.abspath(path).startswith(_PIPEC_DIR + os.sep)


def _is_pipec_frame(frame: FrameType) -> bool:
    return is_pipec_path(frame.f_code.co_filename)


def user_location_of_exception(exc: BaseException, user_files: set[str]) -> SourceLocation | None:
    """The innermost traceback line inside one of the user's files."""
    found = None
    for entry in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(entry.filename) in user_files and entry.lineno is not None:
            found = SourceLocation(file=display_path(entry.filename), line=entry.lineno)
    return found


class UsageError(Exception):
    """The command was called wrongly (exit code 2), as opposed to an invalid pipeline."""


class StepFailedError(RuntimeError):
    """The pipeline logic used the value of a step that did not complete."""


_LIBRARY_DIRS = tuple(
    os.path.abspath(p)
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
              sysconfig.get_paths()["platlib"]}
)  # fmt: skip


def is_library_path(path: str) -> bool:
    """Whether a file is Python's own or an installed package's: not the user's code."""
    return os.path.abspath(path).startswith(_LIBRARY_DIRS)


def user_exception(exc: BaseException, doing: str) -> CaptureError:
    """An exception from the user's code, pointed at the user's own line."""
    location = None
    for entry in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(entry.filename)
        if entry.lineno is None or path.startswith(_LIBRARY_DIRS) or "<" in entry.filename:
            continue
        if not is_pipec_path(path):
            location = SourceLocation(file=display_path(entry.filename), line=entry.lineno)
    return CaptureError(f"{type(exc).__name__}: {exc} ({doing})", location)


def user_traceback(exc: BaseException) -> str:
    """The traceback Python would print for `exc` (its causes too), without pipec's own
    frames: what is left is the user's code and the libraries it called, ending at the
    user's line when pipec raised on its behalf."""
    shown = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    todo = [shown]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [frame for frame in current.stack if not is_pipec_path(frame.filename)]
        )
        todo.extend(t for t in (current.__cause__, current.__context__) if t is not None)
    return "".join(shown.format())


def describe_error(exc: BaseException, where: str) -> str:
    """`file:line: Type: message (where)`, pointing at the user's own line."""
    return str(user_exception(exc, where))
