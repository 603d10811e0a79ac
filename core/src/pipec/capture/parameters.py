"""Pipeline parameters keep their types: ClearML stores them as strings, pipec does not."""

from __future__ import annotations

import inspect
from typing import Any


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
