"""The operations an IR `Expr` may name, and plain Python values as IR.

One table maps each `Expr.op` to the callable that computes it: the trace records
only names from it, the runtime evaluates from it, and the diagram shows it. Keeping
it here, below both capture and the runtime, is what lets them agree without
importing each other.

Internal.
"""

from __future__ import annotations

import base64
import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import cloudpickle

from pipec.errors import CaptureError, caller_location
from pipec.ir import Expr, LiteralValue, PickledValue, Value, is_exact_json

BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift",
          "rshift", "and", "or", "xor")  # fmt: skip
COMPARE = ("lt", "le", "eq", "ne", "gt", "ge")
UNARY = ("neg", "pos", "invert", "abs", "trunc", "floor", "ceil")


def _left_fold(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A binary operator over any number of operands, left to right: `a + b + c` is one
    node of three arguments rather than a nesting as deep as the chain (see `operation`)."""
    return lambda first, *rest: functools.reduce(fn, rest, first)


OPERATORS: dict[str, Callable[..., Any]] = {
    **{op: _left_fold(getattr(operator, f"{op}_" if op in ("and", "or") else op)) for op in BINARY},
    **{op: getattr(operator, op) for op in COMPARE},
    **{op: getattr(operator, op) for op in ("neg", "pos", "invert", "abs")},
    **{op: getattr(math, op) for op in ("trunc", "floor", "ceil")},
    "round": round,
    "divmod": divmod,
}
"""Arithmetic and comparisons: the operator behind each such `Expr.op`."""


def _mutated(op: str) -> Callable[..., Any]:
    """Mutation recorded by the trace (`x[k] = v`): apply it, the result is the object."""
    change = {"setitem": operator.setitem, "delitem": operator.delitem, "setattr": setattr}[op]

    def apply(target: Any, *args: Any) -> Any:
        change(target, *args)
        return target

    return apply


def _after_method(target: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """A method call the trace recorded (`x.append(v)`): make it, the result is the object."""
    getattr(target, name)(*args, **kwargs)
    return target


MUTATIONS = frozenset({"setitem", "delitem", "setattr", "method"})
"""The operations that change their first argument and give it back."""

CALLS: dict[str, Callable[..., Any]] = {
    **OPERATORS,
    "getattr": getattr,
    "getitem": operator.getitem,
    "call": lambda fn, *args, **kwargs: fn(*args, **kwargs),
    "format": format,
    "str": str,
    "repr": repr,
    "tuple": lambda *items: tuple(items),
    "list": lambda *items: list(items),
    "set": lambda *items: set(items),
    "frozenset": lambda *items: frozenset(items),
    "dict": lambda *flat: dict(zip(flat[::2], flat[1::2], strict=True)),
    **{op: _mutated(op) for op in ("setitem", "delitem", "setattr")},
    "method": _after_method,
}
"""Every `Expr.op`, by name: what evaluating it calls with the evaluated arguments."""


def operation(op: str, args: list[Value], kwargs: dict[str, Value]) -> Expr:
    """The expression `op(*args, **kwargs)`, with a binary operation whose left operand is
    the same operation joined into it: `((a + b) + c) + d` becomes `add(a, b, c, d)`, which
    evaluates the same, left to right. Logic summing a hundred step outputs would otherwise
    nest a hundred deep, past what pydantic reads and writes as JSON."""
    first = args[0] if args else None
    if op in BINARY and isinstance(first, Expr) and first.op == op and not kwargs | first.kwargs:
        return Expr(op=op, args=[*first.args, *args[1:]])
    return Expr(op=op, args=args, kwargs=kwargs)


def literal(obj: Any) -> Value:
    """A plain Python value as IR: JSON when exact, a tuple expression, else cloudpickle."""
    if is_exact_json(obj):
        return LiteralValue(value=obj)
    if type(obj) is tuple:
        return Expr(op="tuple", args=[literal(x) for x in obj])
    try:
        data = cloudpickle.dumps(obj)
    except Exception as exc:
        raise CaptureError(f"cannot serialise argument {obj!r}: {exc}", caller_location()) from exc
    return PickledValue(data=base64.b64encode(data).decode(), type_name=type(obj).__qualname__)


def literal_value(value: Value) -> Any:
    """The Python value of an IR value that refers to nothing in a run (what `literal`
    made): a parameter's default before any run has given it a value."""
    if isinstance(value, LiteralValue):
        return value.value
    if isinstance(value, PickledValue):
        return cloudpickle.loads(base64.b64decode(value.data))
    if isinstance(value, Expr) and value.op in CALLS:
        args = [literal_value(a) for a in value.args]
        return CALLS[value.op](*args, **{k: literal_value(v) for k, v in value.kwargs.items()})
    raise ValueError(f"a {value.kind!r} value is known only in a run")
