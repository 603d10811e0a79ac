"""What a running step's code can reach: the ClearML task surface (`Task`, `Logger`)
talks to the `StepContext` of the attempt running in this process."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from pipec.ir import Step
from pipec.records import Report, StepRecord, StoredValue
from pipec.runtime.runstore import StoredRun


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
        stored = self.run.upload(self.step.name, "artifacts", name, obj)
        self.record.artifacts[name] = stored
        return stored

    def upload_model(self, name: str, path: str) -> StoredValue:
        stored = self.run.put_file(self.step.name, "models", name, path)
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
