"""Run records: what happened in a run, kept in the artifact store beside its data.

Every target writes the same records through the runtime shim, so `pipec runs`
reads a local run and an Airflow run the same way. Records are plain data;
only small JSON (URIs, hashes, statuses) lives here, never the values.

Public as data: adapters get `RunRecord` and `StepRecord` through `pipec.adapter`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

StepStatus = Literal[
    "pending", "queued", "running", "completed", "cached", "failed", "aborted", "skipped"
]
"""ClearML's node statuses; `cached` counts as successful."""

RunStatus = Literal["running", "completed", "failed", "aborted"]

FINISHED: frozenset[str] = frozenset({"completed", "cached", "failed", "aborted", "skipped"})
SUCCEEDED: frozenset[str] = frozenset({"completed", "cached"})


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoredValue(_Record):
    """One value in the store: where it is, how it was written, and its content hash."""

    uri: str
    hash: str
    """sha256 of the stored bytes: equal content, equal hash, whatever the run."""
    serializer: str
    type_name: str
    size: int


class Report(_Record):
    """One `Logger.report_*` call made by a step (scalars, texts, tables)."""

    kind: Literal["scalar", "text", "table"]
    title: str | None = None
    series: str | None = None
    value: float | None = None
    iteration: int | None = None
    text: str | None = None
    table: JsonValue = None


class Attempt(_Record):
    number: int
    status: StepStatus
    started: float
    ended: float
    error: str | None = None


class Monitored(_Record):
    """What a step's `monitor_metrics` / `monitor_artifacts` / `monitor_models` selected,
    already renamed: the pipeline-level view is the union over its steps."""

    metrics: list[Report] = Field(default_factory=list)
    artifacts: dict[str, StoredValue] = Field(default_factory=dict)
    models: dict[str, StoredValue] = Field(default_factory=dict)


class StepRecord(_Record):
    """One step of one run, written by the shim when the step's state changes."""

    name: str
    id: str
    """What `${step.id}` resolves to and `Task.get_task(task_id=...)` accepts."""
    status: StepStatus = "pending"
    cache_key: str | None = None
    cache_hit: bool = False
    cached_from: str | None = None
    """Id of the step run whose outputs a cache hit reused."""
    attempts: list[Attempt] = Field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    """The step's resolved inputs, as far as they are JSON (what callbacks saw)."""
    outputs: dict[str, StoredValue] = Field(default_factory=dict)
    artifacts: dict[str, StoredValue] = Field(default_factory=dict)
    models: dict[str, StoredValue] = Field(default_factory=dict)
    reports: list[Report] = Field(default_factory=list)
    monitored: Monitored = Field(default_factory=Monitored)
    error: str | None = None
    workdir: str | None = None
    """Scratch directory of a failed step, kept for inspection."""

    @property
    def duration(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


class RunRecord(_Record):
    """One run of a pipeline: the pipeline-level view (`runs show`, `--json`)."""

    run_id: str
    pipeline: str
    target: str
    status: RunStatus = "running"
    started: float
    ended: float | None = None
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    steps: list[str] = Field(default_factory=list)
    """Step names in the order they were added (decorator pipelines add them as they run)."""
    metrics: list[Report] = Field(default_factory=list)
    """Metrics forwarded by `monitor_metrics`, renamed, plus the controller's own reports."""
    artifacts: dict[str, StoredValue] = Field(default_factory=dict)
    """Artifacts forwarded by `monitor_artifacts` or uploaded by the controller."""
    models: dict[str, StoredValue] = Field(default_factory=dict)
    return_value: StoredValue | None = None
    error: str | None = None


class CacheEntry(_Record):
    """A finished step's outputs, found again by its cache key.

    Written only after every output is stored, so an entry always points at
    complete data.
    """

    key: str
    pipeline: str
    step: str
    step_id: str
    created: float
    outputs: dict[str, StoredValue] = Field(default_factory=dict)
    artifacts: dict[str, StoredValue] = Field(default_factory=dict)
    models: dict[str, StoredValue] = Field(default_factory=dict)
    reports: list[Report] = Field(default_factory=list)


def jsonable(value: Any) -> JsonValue | None:
    """`value` if it is exact JSON, else None (records never hold pickles)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None
