"""What a running step's code can reach: the ClearML task surface (`Task`, `Logger`)
talks to the `StepContext` of the attempt running in this process."""

from __future__ import annotations

import contextvars
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pipec.errors import PipelineError, user_exception
from pipec.ir import Step, Value
from pipec.records import Report, StepRecord, StoredValue
from pipec.runtime.runstore import StoredRun
from pipec.runtime.values import resolve
from pipec.store import Store, slug
from pipec.store.downloads import cache_dir


class Reports:
    """Where one task's reports go: the report list of its record, a store folder for
    their files (images, media, rendered plots), and how to write the record now.

    Without a store (a logger outside any run) files go to this machine's cache, as
    ClearML keeps debug images in its cache folder when it has no upload destination.
    """

    def __init__(
        self,
        entries: list[Report],
        store: Store | None = None,
        folder: str | None = None,
        write: Callable[[], None] | None = None,
    ) -> None:
        self.entries = entries
        self._store = store
        self._folder = folder or secrets.token_hex(8)
        self._write = write

    def add(self, report: Report) -> None:
        self.entries.append(report)

    def put_file(self, name: str, obj: str | os.PathLike[str] | Any) -> StoredValue:
        """A local file as is, or a value with its serializer, in a folder of its own
        (`name`), so `drop` removes either."""
        if self._store is None:
            self._store = Store(str(cache_dir() / "debug_images"))
        where = f"{self._folder}/{slug(name)}"
        if isinstance(obj, (str, os.PathLike)):
            return self._store.put_file(where, obj)
        return self._store.put_value(f"{where}/value", obj)

    def drop(self, report: Report, name: str) -> None:
        """Forget a report and the file `put_file(name, ...)` stored for it."""
        self.entries[:] = [entry for entry in self.entries if entry is not report]
        if self._store is not None:
            self._store.remove(f"{self._folder}/{slug(name)}")

    def flush(self) -> bool:
        """Write the record now (ClearML sends reports as they come; pipec's record is
        otherwise written when the step ends). False when there is no record to write."""
        if self._write is None:
            return False
        self._write()
        return True


class StepEnded(BaseException):
    """`Task.mark_completed()` / `mark_failed()` in a step: ClearML ends the task's
    process there, so the step's code ends there, with that status. A BaseException,
    as SystemExit is, so the step's own `except Exception` does not swallow it."""

    def __init__(self, status: Literal["completed", "failed"], reason: str | None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def describe(self, where: str) -> str | None:
        """The step's error: none when it was marked completed; else the reason, at the
        user's line that marked it failed."""
        if self.status == "completed":
            return None
        location = user_exception(self, where).location
        return str(
            PipelineError(f"marked failed: {self.reason or 'no reason given'} ({where})", location)
        )


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
    reports: Reports = field(init=False)

    def __post_init__(self) -> None:
        """ClearML applies a task step's `task_overrides` to the task it clones: the name
        and the tags are what they mean without a server."""
        self.reports = Reports(
            self.record.reports,
            self.run.store,
            self.run.files.values(self.step.name, "reports"),
            lambda: self.run.write_step(self.record),
        )
        name = self.task_override("name")
        if name is not None:
            self.record.task_name = str(name)
        tags = self.task_override("tags")
        if tags is not None:
            self.record.tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]

    def _template_value(self, values: dict[str, Value], key: str) -> Any:
        return resolve(values[key], self.run) if key in values else None

    def task_override(self, key: str) -> Any:
        """The pipeline's `task_overrides[key]` for this task step, resolved (None: none)."""
        template = self.step.template
        return None if template is None else self._template_value(template.task_overrides, key)

    def configuration_override(self, name: str) -> Any:
        """The pipeline's `configuration_overrides[name]` for this task step, resolved
        (None: none)."""
        template = self.step.template
        if template is None:
            return None
        return self._template_value(template.configuration_overrides, name)

    def upload_artifact(self, name: str, obj: Any) -> StoredValue:
        stored = self.run.upload(self.step.name, "artifacts", name, obj)
        self.record.artifacts[name] = stored
        return stored

    def reports_to_pipeline(self) -> Reports:
        """Where reports this step sends to the pipeline itself go (`for_pipeline`)."""
        return Reports(
            self.record.for_pipeline.metrics,
            self.run.store,
            self.run.files.values(self.step.name, "pipeline-reports"),
            lambda: self.run.write_step(self.record),
        )

    def upload_to_pipeline(self, name: str, obj: Any) -> StoredValue:
        """An artifact this step gives the pipeline itself, stored beside its own."""
        stored = self.run.upload(self.step.name, "pipeline-artifacts", name, obj)
        self.record.for_pipeline.artifacts[name] = stored
        return stored


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "pipec_step", default=None
)


def current_step() -> StepContext | None:
    return _CURRENT.get()


def enter_step(ctx: StepContext) -> contextvars.Token[StepContext | None]:
    return _CURRENT.set(ctx)


def leave_step(token: contextvars.Token[StepContext | None]) -> None:
    _CURRENT.reset(token)
