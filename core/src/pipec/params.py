"""Pipeline parameter values as their parameters' types.

ClearML keeps parameters as text; pipec keeps their types (`ir.Parameter.type`: the
annotation, `add_parameter(param_type=...)`, or the default's type). Every value a run
gets (`pipec run --param`, a script's call of its pipeline, an engine's run form) is cast
here, so `flag=false` is the bool False on every target and an int parameter given `abc`
is refused, naming the parameter and its type, before anything runs. A parameter of a
type pipec does not know takes its values as they are.

Internal.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipec.errors import UsageError
from pipec.ir import Parameter

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class _Invalid(Exception):
    """A value that is not of the kind asked for."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _Invalid


def _int(value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def _float(value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Invalid from None
    raise _Invalid


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid


def _json(text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        raise _Invalid from None
    if not isinstance(value, kind):
        raise _Invalid
    return value


def _list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return _json(value, list)
    raise _Invalid


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(_list(value))


def _dict(value: Any) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        return _json(value, dict)
    raise _Invalid


_KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "bool": (_bool, "a bool (true/false, yes/no, on/off, 1/0)"),
    "int": (_int, "an integer"),
    "float": (_float, "a number"),
    "str": (_str, "text"),
    "list": (_list, "a list (a JSON array)"),
    "tuple": (_tuple, "a tuple (a JSON array)"),
    "dict": (_dict, "a dict (a JSON object)"),
}
"""What each type pipec casts to accepts, and what to call it when a value is not one."""

_ALIASES = {"List": "list", "Tuple": "tuple", "Dict": "dict"}


def _top_level(text: str, separator: str) -> list[str]:
    """`text` split at `separator`s outside brackets (`dict[str, int] | None`)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def kind_of(type_name: str | None) -> str | None:
    """The type a parameter's values are cast to, from its type's name (`int`,
    `Optional[int]`, `int | None`, `list[str]`); None when pipec does not know it."""
    if not type_name:
        return None
    name = "".join(type_name.split())
    if name.startswith("Optional[") and name.endswith("]"):
        name = name[len("Optional[") : -1]
    choices = [part for part in _top_level(name, "|") if part not in ("None", "NoneType")]
    if len(choices) != 1:
        return None
    base = choices[0].partition("[")[0]
    base = _ALIASES.get(base, base)
    return base if base in _KINDS else None


def cast(parameter: Parameter, value: Any) -> Any:
    """`value` as `parameter`'s type; text is parsed (`false`, `7`, `2.5`, JSON for a
    list or dict), an int is a float where a float is wanted, None stays None. A value
    that is none of its type is a UsageError naming the parameter and the type."""
    kind = kind_of(parameter.type)
    if kind is None or value is None:
        return value
    convert, what = _KINDS[kind]
    try:
        return convert(value)
    except _Invalid:
        raise UsageError(
            f"parameter {parameter.name!r} of type {parameter.type} takes {what}, got {value!r}"
        ) from None


def from_text(parameter: Parameter | None, text: str) -> Any:
    """A value typed on the command line for `parameter` (None: no such parameter): cast
    to its type when pipec knows it, else JSON when the text parses, else the text."""
    if parameter is not None and kind_of(parameter.type) is not None:
        return cast(parameter, text)
    try:
        return json.loads(text)
    except ValueError:
        return text


def cast_values(parameters: Sequence[Parameter], values: Mapping[str, Any]) -> dict[str, Any]:
    """Each value of `values` cast to its parameter's type (`cast`); a name that is no
    parameter keeps its value (the run refuses it, saying which parameters there are)."""
    by_name = {p.name: p for p in parameters}
    return {
        name: cast(by_name[name], value) if name in by_name else value
        for name, value in values.items()
    }
