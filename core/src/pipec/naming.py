"""ClearML's naming of steps: a component called again becomes `name_1`, `name_2`, ...

One rule, used wherever steps are named from component calls: the trace at capture
time, the live logic on the local target, and a replay of the logic after an engine
run, so all three give each call the same step.

Internal.
"""

from __future__ import annotations

from collections.abc import Container


def unique_name(base: str, taken: Container[str]) -> str:
    """`base`, or the first of `base_1`, `base_2`, ... that is not `taken`."""
    name, counter = base, 1
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    return name
