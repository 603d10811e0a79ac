"""The ClearML `Task` surface that pipeline code touches.

Inside a running step, `Task.init` / `Task.current_task()` give the step's task:
`connect` applies the pipeline's `parameter_override`, `upload_artifact` stores
into the run's artifact store (where `${step.artifacts.NAME.url}` points), and
the logger's reports go to the run record. Outside a pipeline, a task script
that calls `Task.init` registers itself as a template (see `pipec.templates`), as
running it once does in ClearML, and `task.execute_remotely()` stops it there,
which ClearML's step scripts rely on.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

from pipec import templates
from pipec.capture.session import active_session
from pipec.errors import UsageError, caller_frame, display_path
from pipec.records import Report, StoredValue
from pipec.runtime import logic
from pipec.runtime.context import StepContext, current_step
from pipec.runtime.local import PipelineRun
from pipec.runtime.runstore import parse_step_id, read_step
from pipec.store import Store


class TaskTypes(Enum):
    """ClearML's task types; equal to their string value, as in ClearML."""

    training = "training"
    testing = "testing"
    inference = "inference"
    data_processing = "data_processing"
    application = "application"
    monitor = "monitor"
    controller = "controller"
    optimizer = "optimizer"
    service = "service"
    qc = "qc"
    custom = "custom"

    def __str__(self) -> str:
        return str(self.value)

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.value)


class Logger:
    """A task's reports; inside a run they are recorded (and `monitor_metrics` forwards them)."""

    def __init__(self, sink: Callable[[Report], None] | None = None) -> None:
        self.reports: list[Report] = []
        self._sink = sink

    @classmethod
    def current_logger(cls) -> Logger:
        """The running step's logger; in the pipeline logic, the run's own."""
        task = Task.current_task()
        if task is not None and task._step is not None:
            return task.get_logger()
        live = logic.active_run()
        if live is not None:
            return run_logger(live.run)
        return task.get_logger() if task is not None else cls()

    def _add(self, report: Report) -> None:
        self.reports.append(report)
        if self._sink is not None:
            self._sink(report)

    def report_scalar(self, title: str, series: str, value: float, iteration: int = 0) -> None:
        self._add(
            Report(kind="scalar", title=title, series=series, value=value, iteration=iteration)
        )

    def report_single_value(self, name: str, value: float) -> None:
        """ClearML files single values under the "Summary" title."""
        self.report_scalar("Summary", name, value)

    def report_text(self, msg: str, level: int = 20, print_console: bool = True, **_: Any) -> None:
        self._add(Report(kind="text", text=str(msg)))
        if print_console:
            print(msg)

    def report_table(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        table_plot: Any = None,
        csv: str | None = None,
        url: str | None = None,
        **_: Any,
    ) -> None:
        table: Any = None
        if table_plot is not None and hasattr(table_plot, "to_dict"):
            table = table_plot.to_dict(orient="split")  # a pandas DataFrame
        elif table_plot is not None:
            table = [list(row) for row in table_plot]
        self._add(
            Report(
                kind="table", title=title, series=series, iteration=iteration, table=table,
                text=csv or url,
            )
        )  # fmt: skip


_RUN_LOGGERS: weakref.WeakKeyDictionary[PipelineRun, Logger] = weakref.WeakKeyDictionary()


def run_logger(run: PipelineRun) -> Logger:
    """A run's own logger (`PipelineController.get_logger()`, `Logger.current_logger()` in
    the pipeline logic): one per run, its reports going straight to the run record."""
    if run not in _RUN_LOGGERS:
        _RUN_LOGGERS[run] = Logger(run.report)
    return _RUN_LOGGERS[run]


class Artifact:
    """An artifact of a finished task: `.url`, `.get()`, `.get_local_copy()`."""

    def __init__(self, name: str, stored: StoredValue, store: Store) -> None:
        self.name = name
        self.url = stored.uri
        self.hash = stored.hash
        self.type = stored.type_name
        self._stored, self._store = stored, store

    def get(self, **_: Any) -> Any:
        return self._store.get_value(self._stored)

    def get_local_copy(self, **_: Any) -> str:
        return self._store.local_path(self._stored)

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, url={self.url!r})"


class MissingArtifactError(KeyError):
    """`task.artifacts[name]` for a name the task never uploaded (a KeyError, as in ClearML)."""

    def __str__(self) -> str:
        return str(self.args[0])  # KeyError would show the message in quotes


class Artifacts(dict[str, Artifact]):
    """A task's artifacts by name; a missing one is reported with the step and what it has."""

    def __init__(self, step: str, artifacts: dict[str, Artifact]) -> None:
        super().__init__(artifacts)
        self.step = step

    def __missing__(self, name: str) -> Artifact:
        have = ", ".join(sorted(self)) or "none"
        raise MissingArtifactError(
            f"step {self.step!r} uploaded no artifact named {name!r} (it has: {have})"
        )


class Task:
    """A unit of work: a pipeline step, or a task script run by hand."""

    TaskTypes = TaskTypes
    _current: ClassVar[Task | None] = None

    def __init__(
        self,
        project_name: str | None,
        task_name: str | None,
        task_type: Any,
        *,
        step: StepContext | None = None,
    ) -> None:
        self.project = project_name
        self.name = task_name
        self.task_type = str(task_type) if task_type is not None else None
        self.script: str | None = None
        self.template: templates.TaskTemplate | None = None
        self._step = step
        self._logger = Logger(step.report if step is not None else None)

    # ------------------------------------------------------------- getting a task

    @classmethod
    def _of_step(cls, ctx: StepContext) -> Task:
        if ctx.task is None:
            ctx.task = cls(
                ctx.run.pipeline.project, ctx.step.name, ctx.step.policies.task_type, step=ctx
            )
        return ctx.task

    @classmethod
    def init(
        cls,
        project_name: str | None = None,
        task_name: str | None = None,
        task_type: Any = TaskTypes.training,
        tags: Any = None,
        reuse_last_task_id: bool | str = True,
        continue_last_task: bool | str | int = False,
        output_uri: str | bool | None = None,
        auto_connect_arg_parser: bool | dict[str, bool] = True,
        auto_connect_frameworks: bool | dict[str, Any] = True,
        auto_resource_monitoring: bool | dict[str, Any] = True,
        auto_connect_streams: bool | dict[str, bool] = True,
        deferred_init: bool = False,
    ) -> Task:
        ctx = current_step()
        if ctx is not None:
            return cls._of_step(ctx)
        task = cls(project_name, task_name, task_type)
        task.script = caller_frame().f_code.co_filename
        if active_session() is None and templates.find_task_init(task.script) is not None:
            task.template = templates.register(task.script)
        cls._current = task
        return task

    @classmethod
    def current_task(cls) -> Task | None:
        ctx = current_step()
        return cls._of_step(ctx) if ctx is not None else cls._current

    @classmethod
    def get_task(
        cls,
        task_id: str | None = None,
        project_name: str | None = None,
        task_name: str | None = None,
        **_: Any,
    ) -> Task:
        """A finished step of a run, by the id `${step.id}` gave (e.g. to read its artifacts)."""
        if task_id is None:
            raise UsageError("Task.get_task needs task_id (pass it with ${step_name.id})")
        ctx = current_step()
        store = ctx.run.store if ctx is not None else Store.resolve()
        record = read_step(store, task_id)
        task = cls(parse_step_id(task_id)[0], record.name, None)
        task._record, task._store = record, store  # type: ignore[attr-defined]
        return task

    # ------------------------------------------------------------- what a task has

    @property
    def id(self) -> str:
        if self._step is not None:
            return self._step.record.id
        record = getattr(self, "_record", None)
        return record.id if record is not None else f"local/{self.project}/{self.name}"

    @property
    def artifacts(self) -> dict[str, Artifact]:
        if self._step is not None:
            record, store = self._step.record, self._step.run.store
        else:
            record, store = getattr(self, "_record", None), getattr(self, "_store", None)
        if record is None or store is None:
            return Artifacts(self.name or "", {})
        found = {name: Artifact(name, v, store) for name, v in record.artifacts.items()}
        return Artifacts(record.name, found)

    def get_parameters(self, **_: Any) -> dict[str, Any]:
        record = self._step.record if self._step is not None else getattr(self, "_record", None)
        return dict(record.parameters) if record is not None else {}

    def connect(self, mutable: Any, name: str | None = None) -> Any:
        """Parameters the task exposes; the pipeline's `parameter_override` changes them."""
        if self._step is None:
            return mutable
        section = name or "General"
        overrides = {
            key.split("/", 1)[1]: value
            for key, value in self._step.overrides.items()
            if key.startswith(f"{section}/")
        }
        if isinstance(mutable, dict):
            for key, value in overrides.items():
                mutable[key] = _cast(value, mutable.get(key))
            items = dict(mutable)
        else:
            for key, value in overrides.items():
                setattr(mutable, key, _cast(value, getattr(mutable, key, None)))
            items = dict(vars(mutable)) if hasattr(mutable, "__dict__") else {}
        for key, value in items.items():
            if isinstance(value, (str, int, float, bool, type(None))):
                self._step.record.parameters[f"{section}/{key}"] = value
        return mutable

    def get_logger(self) -> Logger:
        return self._logger

    def upload_artifact(
        self, name: str, artifact_object: Any, metadata: dict[str, Any] | None = None, **_: Any
    ) -> bool:
        """Store an artifact of this step (a file path uploads the file, as in ClearML)."""
        if self._step is None:
            raise UsageError(
                f"upload_artifact({name!r}) outside a pipeline step: pipec stores artifacts "
                "in a run's store, so run this script through a pipeline"
            )
        self._step.upload_artifact(name, artifact_object)
        return True

    def update_output_model(self, model_path: str, name: str | None = None, **_: Any) -> None:
        """Register a model file of this step (what `monitor_models` selects by name)."""
        if self._step is None:
            raise UsageError("update_output_model outside a pipeline step")
        self._step.upload_model(name or os.path.basename(model_path), model_path)

    def execute_remotely(
        self, queue_name: str | None = None, clone: bool = False, exit_process: bool = True
    ) -> None:
        """Run by hand: the script is a registered template now; stop, as ClearML does.
        Inside a pipeline step it does nothing: the step is already "remote"."""
        template = self.template
        if template is None or self._step is not None:
            return
        print(
            f"pipec: registered task template {template.project}/{template.name} "
            f"({display_path(template.script)}); add it to a pipeline with add_step",
            file=sys.stderr,
        )
        if exit_process:
            sys.exit(0)


def _cast(value: Any, like: Any) -> Any:
    """ClearML casts an override (often a string) to the type of the connected value."""
    if not isinstance(value, str) or like is None or isinstance(like, str):
        return value
    try:
        if isinstance(like, bool):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(like, (int, float)):
            return type(like)(value)
    except ValueError:
        return value
    return value
