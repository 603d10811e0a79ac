"""Where a step is: its run, its store paths, and what its code can reach while it runs.

`StepCall` is the small JSON an engine task passes to the shim. `RunFiles` is the
store layout of one run. `StepContext` is what the ClearML task surface (`Task`,
`Logger`) talks to inside a running step.
"""

from __future__ import annotations

import base64
import contextvars
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
from pipec.ir import CallableSpec, Pipeline, Step, Value
from pipec.records import Report, RunRecord, StepRecord, StoredValue
from pipec.store import Store, slug
from pydantic import BaseModel, ConfigDict


class StepCall(BaseModel):
    """Everything a process needs to run one step: only names and URLs."""

    model_config = ConfigDict(extra="forbid")

    store: str
    pipeline: str
    run_id: str
    step: str
    project_dir: str
    """The directory relative paths in the IR (scripts, the pipeline file) start from."""


@dataclass(frozen=True)
class RunFiles:
    """The store layout of one run (see `pipec.store`)."""

    pipeline: str
    run_id: str

    @property
    def root(self) -> str:
        return f"runs/{slug(self.pipeline)}/{self.run_id}"

    @property
    def record(self) -> str:
        return f"{self.root}/run.json"

    @property
    def ir(self) -> str:
        return f"{self.root}/pipeline.json"

    @property
    def head(self) -> str:
        """The IR without its steps: all a step process needs besides its own step's spec,
        so starting a step costs the same in a pipeline of 10 steps or of 1000."""
        return f"{self.root}/pipeline.head.json"

    def step_dir(self, step: str) -> str:
        return f"{self.root}/steps/{slug(step)}"

    def step_record(self, step: str) -> str:
        return f"{self.step_dir(step)}/step.json"

    def step_spec(self, step: str) -> str:
        return f"{self.step_dir(step)}/spec.json"

    def step_id(self, step: str) -> str:
        return f"{slug(self.pipeline)}/{self.run_id}/{slug(step)}"

    @property
    def controller_dir(self) -> str:
        return f"{self.root}/controller"


def parse_step_id(step_id: str) -> tuple[str, str, str]:
    """(pipeline slug, run id, step slug) of a `${step.id}`."""
    parts = step_id.split("/")
    if len(parts) != 3 or not all(parts):
        raise LookupError(f"{step_id!r} is not a pipec step id (pipeline/run/step)")
    return parts[0], parts[1], parts[2]


def load_callable(spec: CallableSpec) -> Callable[..., Any]:
    return cloudpickle.loads(base64.b64decode(spec.pickled))


def custom_serialization(pipeline: Pipeline) -> tuple[Callable, Callable] | None:
    """ClearML's `artifact_serialization_function` pair, when the pipeline sets one."""
    dumps = pipeline.policies.artifact_serialization_function
    loads = pipeline.policies.artifact_deserialization_function
    if dumps is None or loads is None:
        return None
    return load_callable(dumps), load_callable(loads)


class StoredRun:
    """A run as seen from any process: parameters from its IR, records from the store."""

    def __init__(self, store: Store, pipeline: Pipeline, run_id: str) -> None:
        self.store = store
        self.pipeline = pipeline
        self.run_id = run_id
        self.files = RunFiles(pipeline.name, run_id)
        self.custom = custom_serialization(pipeline)
        self._params = {p.name: p.default for p in pipeline.parameters}
        self._steps = {step.name: step for step in pipeline.steps}

    def parameter(self, name: str) -> Value:
        value = self._params.get(name)
        if value is None:
            raise LookupError(f"pipeline parameter {name!r} has no value in this run")
        return value

    def step_record(self, step: str) -> StepRecord:
        path = self.files.step_record(step)
        if not self.store.exists(path):
            raise LookupError(f"step {step!r} has not run in run {self.run_id}")
        return self.store.read_model(path, StepRecord)

    def step(self, name: str) -> Step:
        """The step's spec: from the IR in memory when it has the step, else the store (a
        step process reads the IR without its steps; steps a live logic adds exist only as
        specs)."""
        known = self._steps.get(name)
        return (
            known if known is not None else self.store.read_model(self.files.step_spec(name), Step)
        )

    def run_record(self) -> RunRecord:
        return self.store.read_model(self.files.record, RunRecord)

    def load(self, stored: StoredValue) -> Any:
        return self.store.get_value(stored, custom=self.custom)

    def put(self, rel: str, obj: Any) -> StoredValue:
        return self.store.put_value(rel, obj, custom=self.custom)

    def upload(self, rel: str, obj: Any) -> StoredValue:
        """ClearML's `upload_artifact` rule: a path to an existing file or folder uploads
        that file or folder; anything else is stored as a value."""
        if isinstance(obj, (str, os.PathLike)) and os.path.exists(obj):
            return self.store.put_file(rel, os.fspath(obj))
        return self.put(rel, obj)


@dataclass
class StepContext:
    """The running step, as its code's `Task.current_task()` sees it."""

    run: StoredRun
    step: Step
    record: StepRecord
    overrides: dict[str, Any] = field(default_factory=dict)
    """Resolved `parameter_override` values of a task step, by `Section/name`."""
    task: Any = None
    """The step's `Task`, made on first use."""

    def upload_artifact(self, name: str, obj: Any) -> StoredValue:
        where = f"{self.run.files.step_dir(self.step.name)}/artifacts/{slug(name)}"
        stored = self.run.upload(where, obj)
        self.record.artifacts[name] = stored
        return stored

    def upload_model(self, name: str, path: str) -> StoredValue:
        where = f"{self.run.files.step_dir(self.step.name)}/models/{slug(name)}"
        stored = self.run.store.put_file(where, path)
        self.record.models[name] = stored
        return stored

    def report(self, report: Report) -> None:
        self.record.reports.append(report)


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "pipec_step", default=None
)


def current_step() -> StepContext | None:
    return _CURRENT.get()


def enter_step(ctx: StepContext) -> contextvars.Token[StepContext | None]:
    return _CURRENT.set(ctx)


def leave_step(token: contextvars.Token[StepContext | None]) -> None:
    _CURRENT.reset(token)
