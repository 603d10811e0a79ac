"""Tracing a decorator pipeline into a static graph.

The pipeline function is called with symbolic parameters. A component call
records a step and returns `Deferred` outputs. Whatever the logic does with a
deferred value (arithmetic, formatting, indexing, attribute access, calling a
method) becomes an `Expr` the runtime evaluates later with real values. Only
control flow that decides *which steps run* from such a value cannot be static:
the decision is remembered, and if another component is called after it the
trace stops with an error that points at the decision.
"""

from __future__ import annotations

import ast
import contextvars
import dis
import functools
import inspect
import itertools
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any, NoReturn

from pipec.errors import (
    CaptureError,
    caller_frame,
    display_path,
    is_library_path,
    is_pipec_path,
    location_of,
)
from pipec.exprs import BINARY, COMPARE, UNARY, literal, operation
from pipec.ir import (
    Expr,
    Helper,
    LiteralValue,
    OutputRef,
    ParamRef,
    SourceLocation,
    Step,
    Template,
    Value,
    iter_refs,
)
from pipec.naming import unique_name
from pipec.source import calls_after, statement_at

_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARK_RE = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")


@dataclass
class Decision:
    """A place where the logic used a step value to choose what happens next."""

    what: str
    value: Value
    location: SourceLocation


class TraceStopped(BaseException):
    """Ends a dynamic trace at its first run-time decision (a BaseException, so the
    user's own `except Exception` in the logic does not swallow it)."""


class TraceEnded(BaseException):
    """Ends a trace where the logic passes a run-time value to a call that needs the real
    one, with no component call after it (`Trace.halt`): every step is known, and only the
    logic running with real values (live, or replayed) makes that call."""


@dataclass
class Trace:
    """The state of one decorator pipeline being traced."""

    pipeline: str
    steps: list[Step] = field(default_factory=list)
    formatted: list[Value] = field(default_factory=list)
    decision: Decision | None = None
    decisions: list[Decision] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)
    """Entrypoint of each component the logic called -> its step name before `_1`, `_2`."""
    dynamic: bool = False
    """Tracing only to check a pipeline whose real logic will run: stop at a decision."""
    global_imports: bool = True
    """Steps ship the module imports they use (the pipeline's `skip_global_imports` off)."""
    prefix: str = ""
    """`inner.` while a nested pipeline's logic is traced: its steps' names start with it."""
    prefixes: set[str] = field(default_factory=set)
    nested: dict[str, Helper] = field(default_factory=dict)
    """The nested pipelines the logic called, as plain functions (for a replay)."""

    def unique_name(self, base: str) -> str:
        """ClearML's naming of a component's step (`pipec.naming`), under the prefix of
        the nested pipeline being traced, if any."""
        return unique_name(self.prefix + base, {s.name for s in self.steps})

    def enter_nested(self, name: str) -> str:
        """Trace a nested pipeline's call (`name.`, then `name_1.`); gives the prefix to
        go back to."""
        outer = self.prefix
        prefix = unique_name(outer + name, self.prefixes)
        self.prefixes.add(prefix)
        self.prefix = prefix + "."
        return outer

    def check_static(self, component: str, location: SourceLocation) -> None:
        """Called before each component call: a pending value-based decision is fatal."""
        if self.decision is None:
            return
        if self.dynamic:
            raise TraceStopped
        d = self.decision
        raise CaptureError(
            f"the pipeline logic makes a {d.what} on {describe(d.value)} and then calls "
            f"component {component!r} (at {location}): which steps run would depend on a "
            "value known only at run time, and a static pipeline graph cannot express that. "
            "Move this "
            "decision into a component, or run the pipeline on a target that executes "
            "the pipeline logic itself (`pipec run --target local` or `debug`).",
            d.location,
        )

    def halt(self, value: Value, frames: list[FrameType]) -> NoReturn:
        """The logic passes `value` to a call that needs the real value (`open(path)`,
        `range(n)`, `Path(folder)`), in the innermost of the user's `frames`: no stand-in is
        safe to pass (an int is a file descriptor to `open`), so the trace ends there. If
        the logic can call a component after that call, which steps run depends on the
        value, as after any decision: an error for a static graph, a cut for a dynamic
        trace. Otherwise every step is known (`TraceEnded`)."""
        decision = Decision("call that needs its real value", value, location_of(frames[0]))
        if decision not in self.decisions[-1:]:  # `open()` asks for an int, then a path
            self.decisions.append(decision)
        self.decision = self.decision or decision
        later = _component_after(frames)
        if later is None:
            raise TraceEnded
        if self.dynamic:
            raise TraceStopped
        component, location = later
        raise CaptureError(
            f"the pipeline logic passes {describe(value)} to a call that needs its real value, "
            f"and can then call component {component!r} (at {location}): which steps run "
            "would depend on a value known only at run time, and a static pipeline graph "
            "cannot express that. Move this call into a component, or run the pipeline on a "
            "target that executes the pipeline logic itself (`pipec run --target local` or "
            "`debug`).",
            decision.location,
        )


def _user_frames() -> list[FrameType]:
    """The user's frames running the traced logic, innermost first: from the call into
    pipec out through the pipeline function (and a pipeline that calls it as a nested
    one), pipec's and libraries' (`pathlib`, ...) frames left out."""
    frames: list[FrameType] = []
    frame: FrameType | None = caller_frame()
    while frame is not None:
        path = frame.f_code.co_filename
        if not is_pipec_path(path) and not is_library_path(path):
            frames.append(frame)
        frame = frame.f_back
    return frames or [caller_frame()]


def _component_after(frames: list[FrameType]) -> tuple[str, SourceLocation] | None:
    """The first component (or pipeline, whose components it calls) the logic can call
    after the call it is making, looking in each of the user's frames from the innermost
    out (`pipec.source.calls_after`)."""
    for frame in frames:
        path = frame.f_code.co_filename
        for name, line in calls_after(path, frame.f_lineno):
            called = frame.f_locals.get(name, frame.f_globals.get(name))
            spec = inspect.getattr_static(called, "_pipec_component", None)
            spec = spec or inspect.getattr_static(called, "_pipec_pipeline", None)
            if spec is not None:
                return spec.name, SourceLocation(file=display_path(path), line=line)
    return None


_ACTIVE: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("pipec_trace", default=None)


def active_trace() -> Trace | None:
    return _ACTIVE.get()


def start_trace(trace: Trace) -> contextvars.Token[Trace | None]:
    _watch_file_operations()
    return _ACTIVE.set(trace)


@functools.cache
def _watch_file_operations() -> None:
    """Python's audit hook for `_audit`, added once: it cannot be taken away again, and
    does nothing while no trace runs."""
    sys.addaudithook(_audit)


_AUDITED = ("open", "os.", "shutil.", "subprocess.")
"""Audit events of operations on files and processes (`open`, `os.mkdir`, ...)."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """A file or process operation on a name made from a run-time value while tracing
    (`open(f"{out_dir}/metrics.json", "w")`: the text holds a marker for the value) ends
    the trace before the operation happens, as a deferred value passed to a call that
    needs it does (`Trace.halt`)."""
    trace = _ACTIVE.get()
    if trace is None or not event.startswith(_AUDITED):
        return
    for arg in args:
        for item in arg if isinstance(arg, (list, tuple)) else (arg,):
            text = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
            found = _MARK_RE.search(text) if isinstance(text, str) else None
            if found is not None:
                trace.halt(trace.formatted[int(found.group(1))], _user_frames())


def end_trace(token: contextvars.Token[Trace | None]) -> None:
    _ACTIVE.reset(token)


def describe(value: Value) -> str:
    """A human name for the step values inside a deferred value."""
    names = []
    for ref in iter_refs(value):
        if isinstance(ref, OutputRef):
            names.append(f"output {ref.name!r} of step {ref.step!r}")
        elif isinstance(ref, ParamRef):
            names.append(f"pipeline parameter {ref.name!r}")
    return " and ".join(dict.fromkeys(names)) or "a step value"


# ---------------------------------------------------------------- deferred values


def _expr(op: str, *args: Any, **kwargs: Any) -> Deferred:
    return Deferred(
        operation(op, [to_value(a) for a in args], {k: to_value(v) for k, v in kwargs.items()})
    )


def _derived(op: str, parent: Deferred, key: Any) -> Deferred:
    """`parent[key]` or `parent.key`, remembering where it came from (for mutation)."""
    child = _expr(op, parent, key)
    object.__setattr__(child, "_pipec_origin", (parent, op, key))
    return child


def _rebind(proxy: Deferred, op: str, *args: Any, **kwargs: Any) -> None:
    """Mutating a value in the logic: the proxy (and what it was taken from) now means
    the mutated value, so the next step sees the change."""
    object.__setattr__(proxy, "_pipec_value", _expr(op, proxy, *args, **kwargs)._pipec_value)
    origin = object.__getattribute__(proxy, "_pipec_origin")
    if origin is not None:
        parent, how, key = origin
        _rebind(parent, "setitem" if how == "getitem" else "setattr", key, proxy)


class Deferred:
    """A value known only when the pipeline runs: a step output or an expression over one."""

    __slots__ = ("_pipec_origin", "_pipec_value")

    def __init__(self, value: Value) -> None:
        object.__setattr__(self, "_pipec_value", value)
        object.__setattr__(self, "_pipec_origin", None)

    # -- decisions: the logic needs the concrete value now
    def _decide(self, what: str) -> None:
        trace = active_trace()
        if trace is not None and not _in_assert(caller_frame()):
            decision = Decision(
                what=what, value=self._pipec_value, location=location_of(caller_frame())
            )
            trace.decisions.append(decision)
            trace.decision = trace.decision or decision

    def __bool__(self) -> bool:
        self._decide("truth test")
        return True

    def __iter__(self) -> Iterator[Deferred]:
        self._decide("loop")
        return iter([_expr("getitem", self, 0)])

    def __len__(self) -> int:
        self._decide("len()")
        return 1

    def __index__(self) -> int:
        if _subscripting(caller_frame()):
            self._decide("use as an index")
            return 0
        self._halt()

    def __fspath__(self) -> str:
        self._halt()

    def _halt(self) -> NoReturn:
        """Passed to a call that needs the real value: the trace ends (`Trace.halt`)."""
        trace = active_trace()
        if trace is None:
            raise CaptureError("a deferred step value was passed to a call outside a trace")
        trace.halt(self._pipec_value, _user_frames())

    def __int__(self) -> int:
        self._decide("conversion to int")
        return 0

    def __float__(self) -> float:
        self._decide("conversion to float")
        return 0.0

    def __contains__(self, item: Any) -> bool:
        self._decide("membership test")
        return True

    def __hash__(self) -> int:
        return id(self)

    # -- text: a marker that becomes a format expression when it reaches the IR
    def __format__(self, spec: str) -> str:
        value = Expr(op="format", args=[self._pipec_value, LiteralValue(value=spec)])
        return _marker(value)

    def __str__(self) -> str:
        return _marker(Expr(op="str", args=[self._pipec_value]))

    def __repr__(self) -> str:
        return _marker(Expr(op="repr", args=[self._pipec_value]))

    # -- access and calls
    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("__"):
            raise AttributeError(name)
        return _derived("getattr", self, name)

    def __getitem__(self, key: Any) -> Deferred:
        return _derived("getitem", self, key)

    def __call__(self, *args: Any, **kwargs: Any) -> Deferred:
        result = _expr("call", self, *args, **kwargs)
        origin = object.__getattribute__(self, "_pipec_origin")
        if origin is not None and origin[1] == "getattr" and _changes_object(origin[2]):
            # the object now means itself after the call
            receiver, _, name = origin
            _rebind(receiver, "method", name, *args, **kwargs)
        return result

    # -- mutation in the logic rebinds this value to the mutated one
    def __setitem__(self, key: Any, value: Any) -> None:
        _rebind(self, "setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        _rebind(self, "delitem", key)

    def __setattr__(self, name: str, value: Any) -> None:
        _rebind(self, "setattr", name, value)

    def __round__(self, ndigits: int | None = None) -> Deferred:
        return _expr("round", self) if ndigits is None else _expr("round", self, ndigits)


def _install_operators() -> None:
    def binary(op: str) -> Any:
        return lambda self, other: _expr(op, self, other)

    def reflected(op: str) -> Any:
        return lambda self, other: _expr(op, other, self)

    def unary(op: str) -> Any:
        return lambda self: _expr(op, self)

    for op in [*BINARY, "divmod"]:
        setattr(Deferred, f"__{op}__", binary(op))
        setattr(Deferred, f"__r{op}__", reflected(op))
    for op in COMPARE:
        setattr(Deferred, f"__{op}__", binary(op))
    for op in UNARY:
        setattr(Deferred, f"__{op}__", unary(op))


_install_operators()

_CHANGE_AND_RETURN = frozenset({"pop", "popitem", "setdefault"})
"""Methods of Python's containers that change their object and return something."""


def _changes_object(method: str) -> bool:
    """Whether a method call in the logic is taken to change its object: its result is
    thrown away (`items.append(x)`, `config.update(...)`: called for what they do to the
    object), or it is one of `_CHANGE_AND_RETURN`. A call whose result the logic uses
    (`model.predict(x)`) is taken to leave its object as it was."""
    frame = caller_frame()
    return method in _CHANGE_AND_RETURN or frame.f_lasti in _discarding_calls(frame.f_code)


@functools.cache
def _discarding_calls(code: CodeType) -> frozenset[int]:
    """The offsets of the calls in `code` whose result is popped right away."""
    return frozenset(
        call.offset
        for call, after in itertools.pairwise(dis.get_instructions(code))
        if call.opname.startswith("CALL") and after.opname == "POP_TOP"
    )


_SUBSCRIPTS = frozenset(
    {"BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR", "BINARY_SLICE", "STORE_SLICE"}
)


def _subscripting(frame: FrameType) -> bool:
    """Whether the frame is at a subscript (`names[best]`, `x[a:b] = v`): the value picks
    an item, a decision the trace makes with item 0 (where a call would get 0 for real)."""
    return frame.f_lasti in _subscripts(frame.f_code)


@functools.cache
def _subscripts(code: CodeType) -> frozenset[int]:
    """The offsets of the subscripts in `code` (3.14 makes them a `BINARY_OP`)."""
    return frozenset(
        i.offset
        for i in dis.get_instructions(code)
        if i.opname in _SUBSCRIPTS or (i.opname == "BINARY_OP" and i.argrepr == "[]")
    )


def _in_assert(frame: FrameType) -> bool:
    """An `assert` on a step value passes or fails the run; it does not choose steps."""
    return isinstance(statement_at(frame.f_code.co_filename, frame.f_lineno), ast.Assert)


def _marker(value: Value) -> str:
    trace = active_trace()
    if trace is None:
        raise CaptureError("a deferred step value was formatted outside a pipeline trace")
    trace.formatted.append(value)
    return f"{_MARK_OPEN}{len(trace.formatted) - 1}{_MARK_CLOSE}"


# ---------------------------------------------------------------- python -> IR value


def has_deferred(obj: Any) -> bool:
    if isinstance(obj, Deferred):
        return True
    if isinstance(obj, str):
        return _MARK_OPEN in obj
    if isinstance(obj, (list, tuple, set, frozenset)):
        return any(has_deferred(x) for x in obj)
    if isinstance(obj, dict):
        return any(has_deferred(k) or has_deferred(v) for k, v in obj.items())
    return False


def to_value(obj: Any) -> Value:
    """Any value the pipeline logic passes around, deferred parts kept symbolic."""
    if isinstance(obj, Deferred):
        return obj._pipec_value
    if not has_deferred(obj):
        return literal(obj)
    if isinstance(obj, str):
        return _template(obj)
    if isinstance(obj, dict):
        plain = Expr(op="dict", args=[to_value(x) for pair in obj.items() for x in pair])
    else:
        base = next(b for b in (list, tuple, frozenset, set) if isinstance(obj, b))
        plain = Expr(op=base.__name__, args=[to_value(x) for x in obj])
    if type(obj) in (dict, list, tuple, set, frozenset):
        return plain
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple: fields positionally
        return Expr(op="call", args=[literal(type(obj)), *plain.args])
    return Expr(op="call", args=[literal(type(obj)), plain])


def _template(text: str) -> Value:
    trace = active_trace()
    assert trace is not None
    parts: list[str | Value] = []
    pos = 0
    for match in _MARK_RE.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(trace.formatted[int(match.group(1))])
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return Template(parts=parts)


def unmark(text: str, trace: Trace) -> str:
    """Text with the markers of deferred values replaced by what they stand for."""
    return _MARK_RE.sub(lambda m: f"<{describe(trace.formatted[int(m.group(1))])}>", text)
