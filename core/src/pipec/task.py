"""The ClearML `Task` surface that pipeline code touches.

Outside a pipeline, a task script that calls `Task.init` registers itself as a
template (see `pipec.templates`), as running it once does in ClearML, and
`task.execute_remotely()` stops it there, which ClearML's step scripts rely on.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any, ClassVar

from pipec import templates
from pipec.capture.session import active_session
from pipec.errors import caller_frame, display_path


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
    """Reports made by a task; kept in order so the runtime can record and forward them."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def report_scalar(self, title: str, series: str, value: float, iteration: int = 0) -> None:
        self.reports.append(
            {
                "kind": "scalar",
                "title": title,
                "series": series,
                "value": value,
                "iteration": iteration,
            }
        )

    def report_text(self, msg: str, level: int = 20, print_console: bool = True, **_: Any) -> None:
        self.reports.append({"kind": "text", "msg": msg, "level": level})
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
        self.reports.append(
            {"kind": "table", "title": title, "series": series, "iteration": iteration,
             "table": table_plot, "csv": csv, "url": url}
        )  # fmt: skip


class Task:
    """A unit of work: a pipeline step, or a task script run by hand."""

    TaskTypes = TaskTypes
    _current: ClassVar[Task | None] = None

    def __init__(self, project_name: str | None, task_name: str | None, task_type: Any) -> None:
        self.project = project_name
        self.name = task_name
        self.task_type = str(task_type) if task_type is not None else None
        self.script: str | None = None
        self.template: templates.TaskTemplate | None = None
        self._logger = Logger()

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
        task = cls(project_name, task_name, task_type)
        task.script = caller_frame().f_code.co_filename
        if active_session() is None and templates.find_task_init(task.script) is not None:
            task.template = templates.register(task.script)
        cls._current = task
        return task

    @classmethod
    def current_task(cls) -> Task | None:
        return cls._current

    def connect(self, mutable: Any, name: str | None = None) -> Any:
        """Parameters the task exposes; a pipeline's `parameter_override` changes them."""
        return mutable

    def get_logger(self) -> Logger:
        return self._logger

    def execute_remotely(
        self, queue_name: str | None = None, clone: bool = False, exit_process: bool = True
    ) -> None:
        """Run by hand: the script is a registered template now; stop, as ClearML does."""
        template = self.template
        if template is None:
            return
        print(
            f"pipec: registered task template {template.project}/{template.name} "
            f"({display_path(template.script)}); add it to a pipeline with add_step",
            file=sys.stderr,
        )
        if exit_process:
            sys.exit(0)
