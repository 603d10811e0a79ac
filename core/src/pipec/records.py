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
    signature: str | None = None
    """HMAC of a pickled value's hash under `PIPEC_SIGNING_KEY` (`pipec.store.signing`)."""


ReportKind = Literal[
    "scalar", "text", "table", "image", "media", "histogram", "scatter2d", "line_plot",
    "confusion_matrix", "surface", "plotly", "matplotlib",
]  # fmt: skip
"""The `Logger.report_*` call that made a report (`report_scalar` is `scalar`, ...);
as in ClearML, `report_vector` makes a `histogram`, `report_matrix` a `confusion_matrix`."""


class Report(_Record):
    """One `Logger.report_*` call made by a step or a pipeline.

    Scalars, texts and tables are data here. An image or a media file is a file in the
    store (`file`, its URI in `uri`), or only the `uri` it was reported with. A plot is
    `data`, a JSON description of what it shows, plus the image pipec rendered of it
    (`file`) where matplotlib is installed.
    """

    kind: ReportKind
    title: str | None = None
    series: str | None = None
    value: float | None = None
    iteration: int | None = None
    text: str | None = None
    table: JsonValue = None
    uri: str | None = None
    file: StoredValue | None = None
    data: JsonValue = None


class Configuration(_Record):
    """A configuration object a task connected (`Task.connect_configuration`), as it
    used it: after the pipeline's `configuration_overrides`."""

    type: str
    """`dictionary` for a dict or list; for a file, its extension (`yaml`, ...) or `file`."""
    value: JsonValue = None
    """A dictionary's (or list's) content."""
    text: str | None = None
    """A file's content."""
    description: str | None = None


class Attempt(_Record):
    number: int
    status: StepStatus
    started: float
    ended: float
    error: str | None = None
    traceback: str | None = None
    """A failed attempt's traceback as Python prints it, pipec's own frames removed."""
    location: str | None = None
    """`file:line` of the user's code where the attempt's error was raised."""
    console: str | None = None
    """The attempt's console (what the step printed), relative to the run's folder:
    `steps/<step>/console/<number>.log` (`pipec.runtime.runstore.console_text`)."""
    truncated: bool = False
    """The console reached its cap (`PIPEC_CONSOLE_LIMIT`) and the rest was not kept."""
    note: str | None = None
    """What pipec did around the attempt, such as ending processes the step left running."""


class Monitored(_Record):
    """What a step's `monitor_metrics` / `monitor_artifacts` / `monitor_models` selected,
    already renamed: the pipeline-level view is the union over its steps."""

    metrics: list[Report] = Field(default_factory=list)
    artifacts: dict[str, StoredValue] = Field(default_factory=dict)
    models: dict[str, StoredValue] = Field(default_factory=dict)


class DatasetUse(_Record):
    """A dataset version a step created or read: lineage, and what a cache hit of the
    step must find unchanged."""

    id: str
    project: str
    name: str
    version: str
    use: Literal["created", "read"]
    query: dict[str, JsonValue] | None = None
    """How a read by project and name asked for it (`Dataset.get` arguments); asked
    again before a cache hit, which holds only while it still finds this version."""


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
    """The weights of the task's output models, by their name on the task."""
    model_ids: dict[str, str] = Field(default_factory=dict)
    """The registry id (`pipec.registry.models`) of each output model in `models`."""
    input_models: dict[str, str] = Field(default_factory=dict)
    """Models the task connected (`Task.connect(InputModel(...))`): name -> registry id."""
    reports: list[Report] = Field(default_factory=list)
    monitored: Monitored = Field(default_factory=Monitored)
    for_pipeline: Monitored = Field(default_factory=Monitored)
    """What the step's code sent to the pipeline itself (`PipelineController.get_logger()`,
    `upload_artifact()` called in a step): forwarded as `monitor_*` selections are."""
    error: str | None = None
    workdir: str | None = None
    """Scratch directory of a failed step, kept for inspection."""
    task_name: str | None = None
    """The step's task name, when `task_overrides` renames it (else the step's name)."""
    tags: list[str] = Field(default_factory=list)
    configurations: dict[str, Configuration] = Field(default_factory=dict)
    parameter_descriptions: dict[str, str] = Field(default_factory=dict)
    """`Task.set_parameter(..., description=...)`, by `Section/name`."""
    status_reason: str | None = None
    """What `Task.mark_failed(status_reason=...)` said."""
    status_message: str | None = None
    """What `Task.mark_completed` / `mark_failed(status_message=...)` said."""
    datasets: list[DatasetUse] = Field(default_factory=list)
    """The dataset versions the step's code created or read (`Dataset.create` / `get`)."""

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
    failed_step: str | None = None
    """The step whose failure `error` is: the first to fail; later failures it caused (a
    skipped child, the logic reading its value) are not the run's error."""
    resumed_from: str | None = None
    """The run this one resumed (`pipec runs resume`): its completed steps were reused."""
    tags: list[str] = Field(default_factory=list)
    """Tags of the pipeline's own task (`Task.current_task().add_tags` in the logic)."""
    configurations: dict[str, Configuration] = Field(default_factory=dict)
    parameter_descriptions: dict[str, str] = Field(default_factory=dict)
    observer_notes: list[str] = Field(default_factory=list)
    """What plugins observing the run could not do (a tracker that was down: what it did
    not log), one line each; the run went on regardless."""


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
    model_ids: dict[str, str] = Field(default_factory=dict)
    input_models: dict[str, str] = Field(default_factory=dict)
    reports: list[Report] = Field(default_factory=list)
    datasets: list[DatasetUse] = Field(default_factory=list)


RESULTS = ("outputs", "artifacts", "models", "model_ids", "input_models", "reports", "datasets")
"""What a finished step produced: the fields a cache entry keeps, and a cache hit (or a
step a resumed run reuses) takes back, so the two lists can never drift apart."""


def results(record: StepRecord | CacheEntry) -> dict[str, Any]:
    """`record`'s `RESULTS` fields, by name."""
    return {name: getattr(record, name) for name in RESULTS}


def clear_results(record: StepRecord) -> None:
    """Empty `record`'s `RESULTS`: an attempt starts with none of an earlier one's."""
    for name in RESULTS:
        setattr(record, name, StepRecord.model_fields[name].get_default(call_default_factory=True))


def jsonable(value: Any) -> JsonValue | None:
    """`value` if it is exact JSON, else None (records never hold pickles)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None
