"""Monitored metrics, artifacts and models where Airflow users look: a table in the task
log of the step that reported them and of `pipec_end` (the run's union), and in
`pipec_end`'s XCom, as plain JSON (a metric's value, a stored value's URI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipec.adapter import Report, StoredValue


def monitored(
    metrics: list[Report], artifacts: Mapping[str, StoredValue], models: Mapping[str, StoredValue]
) -> dict[str, dict[str, Any]]:
    """`monitor_*`'s selections as JSON: `title/series` -> last value, name -> URI."""
    return {
        "metrics": {f"{m.title}/{m.series}": m.value for m in metrics if m.value is not None},
        "artifacts": {name: value.uri for name, value in artifacts.items()},
        "models": {name: value.uri for name, value in models.items()},
    }


def table(found: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The selections as a text table for a task log; None when there are none."""
    kinds = {"metrics": "metric", "artifacts": "artifact", "models": "model"}
    rows = [(kinds[kind], name, f"{value:g}" if isinstance(value, float) else str(value))
            for kind in kinds for name, value in found.get(kind, {}).items()]  # fmt: skip
    if not rows:
        return None
    rows.insert(0, ("monitored", "name", "value"))
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    lines = [f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {value}" for kind, name, value in rows]
    return "\n".join(lines)
