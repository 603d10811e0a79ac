"""Pipeline parameters keep their types: ClearML stores them as strings, pipec does not."""

from __future__ import annotations

import inspect
from typing import Any

from pipec.errors import CaptureError, UsageError
from pipec.exprs import literal
from pipec.ir import Parameter, SourceLocation, Value
from pipec.params import cast


def parameter_type(annotation: Any, value: Any = inspect.Parameter.empty) -> str | None:
    """The parameter's type name: from its annotation, else from its value."""
    if annotation is not inspect.Parameter.empty:
        if isinstance(annotation, str):
            return annotation
        if isinstance(annotation, type):
            return annotation.__qualname__
        return str(annotation).replace("typing.", "")
    if value is inspect.Parameter.empty or value is None:
        return None
    return type(value).__qualname__


def typed_default(parameter: Parameter, value: Any, where: SourceLocation) -> Value:
    """A parameter's default (or the value a script's call gives it) as IR, cast to the
    parameter's type as every run's values are (`pipec.params`): a value that is not of
    that type is an error at `where`, the user's line that gave it."""
    try:
        return literal(cast(parameter, value))
    except UsageError as exc:
        raise CaptureError(str(exc), where) from None
