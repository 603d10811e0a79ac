"""The ClearML `Task` surface that pipeline code touches.

Inside a running step, `Task.init` / `Task.current_task()` give the step's task:
`connect` and `connect_configuration` apply the pipeline's `parameter_override` and
`configuration_overrides`, `upload_artifact` stores into the run's artifact store
(where `${step.artifacts.NAME.url}` points), and what the task reports, tags and sets
goes to the step's record. In decorator pipeline logic, `Task.current_task()` is the
pipeline's own task, recorded in the run record. Outside a pipeline, a task script
that calls `Task.init` registers itself as a template (see `pipec.templates`), as
running it once does in ClearML, and `task.execute_remotely()` stops it there, which
ClearML's step scripts rely on.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import sys
import tempfile
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pipec import templates
from pipec.api import model as model_api
from pipec.api.model import InputModel, Model, OutputModel, cast_model
from pipec.capture.session import active_session
from pipec.capture.trace import active_trace
from pipec.errors import UsageError, caller_frame, display_path
from pipec.records import (
    Configuration,
    Report,
    ReportKind,
    RunRecord,
    StepRecord,
    StoredValue,
    jsonable,
)
from pipec.registry import models as registry
from pipec.registry.models import ModelRecord, tags_match
from pipec.runtime import logic
from pipec.runtime.context import Reports, StepContext, StepEnded, current_step
from pipec.runtime.local import PipelineRun
from pipec.runtime.runstore import list_runs, open_run, parse_step_id, read_step
from pipec.store import Store

_log = logging.getLogger("pipec")


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


# ----------------------------------------------------------------- report data


def _json(obj: Any) -> Any:
    """`obj` as JSON data: numpy arrays and scalars as lists and numbers, non-finite
    floats as null, anything else unknown as its text."""
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, without importing numpy
        obj = obj.tolist()
    if isinstance(obj, Mapping):
        return {str(k): _json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _rows(values: Any) -> list[list[Any]]:
    """A histogram's values as rows (one row per bar group), as numpy's `atleast_2d`."""
    data = _json(values)
    if not isinstance(data, list):
        data = [data]
    return data if data and all(isinstance(row, list) for row in data) else [data]


def _points(data: Any, what: str) -> list[list[Any]]:
    """(x, y) pairs of a scatter or line series."""
    points = _json(data)
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        raise ValueError(f"{what}: expected a sequence of (x, y) pairs")
    return points


@dataclass
class SeriesInfo:
    """One line of `Logger.report_line_plot`: its name, (x, y) pairs and point labels."""

    name: str
    data: Any
    labels: list[str] | None = None


def _one_of(call: str, **given: Any) -> str:
    """The one argument of `given` that is set; ClearML takes one and only one."""
    passed = [name for name, value in given.items() if value is not None]
    if len(passed) != 1:
        names = ", ".join(given)
        got = ", ".join(passed) or "none"
        raise UsageError(f"{call} takes exactly one of {names} (got {got})")
    return passed[0]


def _png_of_array(array: Any, path: str) -> bool:
    """Write a numpy image as PNG with PIL, else matplotlib; False when neither is
    installed. Values are made 8-bit as ClearML does (floats up to 1.0 are scaled)."""
    import numpy as np

    data = np.atleast_3d(array)
    if data.dtype != np.uint8:
        scale = 255 if np.issubdtype(data.dtype, np.floating) and data.max() <= 1.0 else 1
        data = (data * scale).astype(np.uint8)
    if data.shape[2] == 1:
        data = data[:, :, 0]
    try:
        from PIL import Image

        Image.fromarray(data).save(path, format="PNG")
        return True
    except ImportError:
        pass
    try:
        from matplotlib import image as mpimg

        mpimg.imsave(path, data, cmap="gray" if data.ndim == 2 else None, format="png")
        return True
    except ImportError:
        return False


def _drawn(draw: Callable[[Any], None]) -> Callable[[str], None] | None:
    """How to save a PNG of a plot that `draw` puts on a matplotlib figure; None where
    matplotlib is not installed (the report keeps its data only)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None

    def save(path: str) -> None:
        figure = Figure()
        draw(figure)
        figure.savefig(path, format="png")

    return save


def _axes(figure: Any, title: str, xaxis: str | None, yaxis: str | None, **kw: Any) -> Any:
    ax = figure.add_subplot(**kw)
    ax.set_title(title)
    ax.set_xlabel(xaxis or "")
    ax.set_ylabel(yaxis or "")
    return ax


_LINE_STYLES = {"lines": "-", "markers": "o", "lines+markers": "-o"}


def _draw_lines(
    title: str, lines: list[tuple[str, list[list[Any]]]], data: dict[str, Any]
) -> Callable[[Any], None]:
    def draw(figure: Any) -> None:
        ax = _axes(figure, title, data["xaxis"], data["yaxis"])
        style = _LINE_STYLES.get(data["mode"], "-")
        for name, points in lines:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=name)
        if data.get("reverse_xaxis"):
            ax.invert_xaxis()
        ax.legend()

    return draw


def _draw_bars(title: str, data: dict[str, Any]) -> Callable[[Any], None]:
    def draw(figure: Any) -> None:
        ax = _axes(figure, title, data["xaxis"], data["yaxis"])
        rows, labels, grouped = data["values"], data["labels"] or [], data["mode"] == "group"
        width = 0.8 / len(rows) if grouped else 0.8
        base = [0.0] * max(len(row) for row in rows)
        for i, row in enumerate(rows):
            xs = [x + i * width if grouped else x for x in range(len(row))]
            bottom = None if grouped else base[: len(row)]
            ax.bar(xs, row, width, bottom=bottom, label=labels[i] if i < len(labels) else None)
            base = [b + (row[x] if x < len(row) else 0) for x, b in enumerate(base)]
        if data["xlabels"]:
            ax.set_xticks(range(len(data["xlabels"])), data["xlabels"])
        if labels:
            ax.legend()

    return draw


def _draw_heatmap(title: str, data: dict[str, Any]) -> Callable[[Any], None]:
    def draw(figure: Any) -> None:
        ax = _axes(figure, title, data["xaxis"], data["yaxis"])
        ax.imshow(data["matrix"], origin="upper" if data["yaxis_reversed"] else "lower")
        if data["xlabels"]:
            ax.set_xticks(range(len(data["xlabels"])), data["xlabels"])
        if data["ylabels"]:
            ax.set_yticks(range(len(data["ylabels"])), data["ylabels"])

    return draw


def _draw_surface(title: str, data: dict[str, Any]) -> Callable[[Any], None]:
    def draw(figure: Any) -> None:
        import numpy as np

        ax = _axes(figure, title, data["xaxis"], data["yaxis"], projection="3d")
        z = np.array(data["matrix"], dtype=float)
        x, y = np.meshgrid(range(z.shape[1]), range(z.shape[0]))
        ax.plot_surface(x, y, z)
        ax.set_zlabel(data["zaxis"] or "")

    return draw


def _figure_data(figure: Any) -> dict[str, Any]:
    """What a matplotlib figure shows, as data: each axes' titles and lines."""
    return {
        "axes": [
            {
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "lines": [
                    {
                        "label": line.get_label(),
                        "x": _json(line.get_xdata()),
                        "y": _json(line.get_ydata()),
                    }
                    for line in ax.get_lines()
                ],
            }
            for ax in figure.get_axes()
        ]
    }


# ----------------------------------------------------------------- Logger


_DEFAULT_SAMPLE_HISTORY = 5
"""ClearML's `metrics.file_history_size`: images / media kept per title and series."""


class Logger:
    """A task's reports; inside a run they are recorded (and `monitor_metrics` forwards
    scalars). Images, media and rendered plots are files in the run's store."""

    SeriesInfo = SeriesInfo

    def __init__(self, reports: Reports | None = None) -> None:
        self._reports = reports if reports is not None else Reports([])
        self._names = itertools.count()
        self._history: dict[tuple[str, str | None, str | None], deque[tuple[str, Report]]] = {}
        self._max_history = _DEFAULT_SAMPLE_HISTORY

    @property
    def reports(self) -> list[Report]:
        return self._reports.entries

    @classmethod
    def current_logger(cls) -> Logger:
        """The running step's logger; in the pipeline logic, the run's own."""
        task = Task.current_task()
        return task.get_logger() if task is not None else cls()

    def _add(self, report: Report) -> None:
        self._reports.add(report)

    def _add_with_file(self, report: Report, source: Any, history: int | None = None) -> None:
        """Store `source` (a local file, or a value to serialise) for `report` and add it.
        With a `history`, only the newest that many reports of the same kind, title and
        series stay (ClearML's debug sample history): older ones go, with their files."""
        name = (
            f"{report.kind}.{report.title}.{report.series}.{report.iteration}.{next(self._names)}"
        )
        stored = self._reports.put_file(name, source)
        report = report.model_copy(update={"uri": stored.uri, "file": stored})
        self._add(report)
        if history is None or history <= 0:
            return
        kept = self._history.setdefault((report.kind, report.title, report.series), deque())
        kept.append((name, report))
        while len(kept) > history:
            old_name, old = kept.popleft()
            self._reports.drop(old, old_name)

    def _plot(
        self,
        kind: ReportKind,
        title: str,
        series: str | None,
        iteration: int | None,
        data: dict[str, Any],
        draw: Callable[[Any], None] | None,
    ) -> None:
        """A plot as data, plus the PNG matplotlib renders of it where installed."""
        report = Report(kind=kind, title=title, series=series, iteration=iteration or 0, data=data)
        save = _drawn(draw) if draw is not None else None
        if save is None:
            self._add(report)
            return
        with tempfile.TemporaryDirectory(prefix="pipec-plot-") as scratch:
            path = os.path.join(scratch, "plot.png")
            save(path)
            self._add_with_file(report, path)

    def report_scalar(self, title: str, series: str, value: float, iteration: int = 0) -> None:
        """`value` is made a float, as ClearML does (a step output in live logic is read)."""
        report = Report(
            kind="scalar", title=title, series=series, value=float(value), iteration=iteration
        )
        self._add(report)

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

    def report_image(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        local_path: str | None = None,
        image: Any = None,
        matrix: Any = None,
        max_image_history: int | None = None,
        delete_after_upload: bool = False,
        url: str | None = None,
    ) -> None:
        """An image file, a numpy array or a PIL image, stored as a file beside the
        task's values (an array as PNG where PIL or matplotlib is installed, else with
        the value serializer); a `url` is recorded as is."""
        given = _one_of(
            f"report_image({title!r}, {series!r})",
            local_path=local_path or None,
            image=image,
            matrix=matrix,
            url=url or None,
        )
        report = Report(kind="image", title=title, series=series, iteration=iteration or 0)
        if given == "url":
            self._add(report.model_copy(update={"uri": url}))
            return
        history = max_image_history if max_image_history is not None else self._max_history
        if given == "local_path":
            assert local_path is not None
            self._add_local_file(report, local_path, history, delete_after_upload)
            return
        picture = image if image is not None else matrix
        if type(picture).__module__.startswith("PIL."):
            with tempfile.TemporaryDirectory(prefix="pipec-image-") as scratch:
                path = os.path.join(scratch, "image.png")
                picture.save(path, format="PNG")
                self._add_with_file(report, path, history)
            return
        if type(picture).__module__ != "numpy" or not hasattr(picture, "shape"):
            raise ValueError(
                f"report_image({title!r}, {series!r}): the image must be a numpy array or a "
                f"PIL image, not {type(picture).__name__}"
            )
        with tempfile.TemporaryDirectory(prefix="pipec-image-") as scratch:
            path = os.path.join(scratch, "image.png")
            self._add_with_file(report, path if _png_of_array(picture, path) else picture, history)

    def _add_local_file(
        self, report: Report, path: str, history: int, delete_after_upload: bool
    ) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"report_{report.kind}({report.title!r}): no file {path!r}")
        self._add_with_file(report, path, history)
        if delete_after_upload:
            os.remove(path)

    def report_media(
        self,
        title: str,
        series: str,
        iteration: int | None = None,
        local_path: str | None = None,
        stream: Any = None,
        file_extension: str | None = None,
        max_history: int | None = None,
        delete_after_upload: bool = False,
        url: str | None = None,
    ) -> None:
        """Audio, video or any file (a path, or a stream with its `file_extension`),
        stored as a file beside the task's values; a `url` is recorded as is."""
        given = _one_of(
            f"report_media({title!r}, {series!r})",
            local_path=local_path or None,
            stream=stream,
            url=url or None,
        )
        report = Report(kind="media", title=title, series=series, iteration=iteration or 0)
        if given == "url":
            self._add(report.model_copy(update={"uri": url}))
            return
        history = max_history if max_history is not None else self._max_history
        if given == "local_path":
            assert local_path is not None
            self._add_local_file(report, local_path, history, delete_after_upload)
            return
        if not file_extension:
            raise ValueError(f"report_media({title!r}, {series!r}): a stream needs file_extension")
        content = stream.getvalue() if hasattr(stream, "getvalue") else stream.read()
        with tempfile.TemporaryDirectory(prefix="pipec-media-") as scratch:
            path = os.path.join(scratch, "media." + file_extension.lstrip("."))
            Path(path).write_bytes(content.encode() if isinstance(content, str) else content)
            self._add_with_file(report, path, history)

    def report_histogram(
        self,
        title: str,
        series: str,
        values: Sequence[float] | Any,
        iteration: int | None = None,
        labels: list[str] | None = None,
        xlabels: list[str] | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        mode: str | None = None,
        data_args: dict[str, Any] | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """Bars of already counted `values` (a row per bar group), grouped by default."""
        if mode not in (None, "group", "stack", "relative"):
            raise ValueError(f"report_histogram: mode is group, stack or relative, not {mode!r}")
        data = {
            "values": _rows(values),
            "labels": labels,
            "xlabels": xlabels,
            "xaxis": xaxis,
            "yaxis": yaxis,
            "mode": mode or "group",
            "data_args": _json(data_args),
            "extra_layout": _json(extra_layout),
        }
        self._plot("histogram", title, series, iteration, data, _draw_bars(title, data))

    def report_vector(
        self,
        title: str,
        series: str,
        values: Sequence[float] | Any,
        iteration: int | None = None,
        labels: list[str] | None = None,
        xlabels: list[str] | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        mode: str | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """ClearML's older name for a histogram: recorded as one, as ClearML does."""
        self.report_histogram(
            title, series, values, iteration, labels, xlabels, xaxis, yaxis, mode,
            extra_layout=extra_layout,
        )  # fmt: skip

    def report_scatter2d(
        self,
        title: str,
        series: str,
        scatter: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        labels: list[str] | None = None,
        mode: str = "lines",
        comment: str | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """A series of (x, y) points; `mode` is lines, markers or lines+markers."""
        data = {
            "scatter": _points(scatter, f"report_scatter2d({title!r}, {series!r})"),
            "xaxis": xaxis,
            "yaxis": yaxis,
            "labels": labels,
            "mode": mode,
            "comment": comment,
            "extra_layout": _json(extra_layout),
        }
        draw = _draw_lines(title, [(series, data["scatter"])], data)
        self._plot("scatter2d", title, series, iteration, data, draw)

    def report_line_plot(
        self,
        title: str,
        series: Sequence[SeriesInfo | Mapping[str, Any]],
        xaxis: str,
        yaxis: str,
        mode: str = "lines",
        iteration: int | None = None,
        reverse_xaxis: bool = False,
        comment: str | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """Lines, one per `SeriesInfo(name, data, labels)` (or a dict of those keys)."""
        lines = [s if isinstance(s, SeriesInfo) else SeriesInfo(**s) for s in series]
        data = {
            "series": [
                {
                    "name": s.name,
                    "data": _points(s.data, f"report_line_plot({title!r})"),
                    "labels": s.labels,
                }
                for s in lines
            ],
            "xaxis": xaxis,
            "yaxis": yaxis,
            "mode": mode,
            "reverse_xaxis": reverse_xaxis,
            "comment": comment,
            "extra_layout": _json(extra_layout),
        }
        draw = _draw_lines(title, [(s["name"], s["data"]) for s in data["series"]], data)
        self._plot("line_plot", title, lines[0].name if lines else "", iteration, data, draw)

    def report_confusion_matrix(
        self,
        title: str,
        series: str,
        matrix: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        xlabels: list[str] | None = None,
        ylabels: list[str] | None = None,
        yaxis_reversed: bool = False,
        comment: str | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """A heat map of a matrix (with `yaxis_reversed`, (0, 0) is top left)."""
        data = {
            "matrix": _rows(matrix),
            "xaxis": xaxis,
            "yaxis": yaxis,
            "xlabels": xlabels,
            "ylabels": ylabels,
            "yaxis_reversed": yaxis_reversed,
            "comment": comment,
            "extra_layout": _json(
                {"texttemplate": "%{z}"} if extra_layout is None else extra_layout
            ),
        }
        self._plot("confusion_matrix", title, series, iteration, data, _draw_heatmap(title, data))

    def report_matrix(
        self,
        title: str,
        series: str,
        matrix: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        xlabels: list[str] | None = None,
        ylabels: list[str] | None = None,
        yaxis_reversed: bool = False,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """ClearML's older name for a confusion matrix: recorded as one, as ClearML does."""
        self.report_confusion_matrix(
            title, series, matrix, iteration, xaxis, yaxis, xlabels, ylabels, yaxis_reversed,
            extra_layout=extra_layout,
        )  # fmt: skip

    def report_surface(
        self,
        title: str,
        series: str,
        matrix: Any,
        iteration: int | None = None,
        xaxis: str | None = None,
        yaxis: str | None = None,
        zaxis: str | None = None,
        xlabels: list[str] | None = None,
        ylabels: list[str] | None = None,
        camera: Sequence[float] | None = None,
        comment: str | None = None,
        extra_layout: dict[str, Any] | None = None,
    ) -> None:
        """A matrix as a 3D surface (the values are heights)."""
        data = {
            "matrix": _rows(matrix),
            "xaxis": xaxis,
            "yaxis": yaxis,
            "zaxis": zaxis,
            "xlabels": xlabels,
            "ylabels": ylabels,
            "camera": _json(camera),
            "comment": comment,
            "extra_layout": _json(extra_layout),
        }
        self._plot("surface", title, series, iteration, data, _draw_surface(title, data))

    def report_plotly(
        self, title: str, series: str, figure: Any, iteration: int | None = None
    ) -> None:
        """A plotly figure (or its dict), kept as its plotly JSON; as in ClearML, its
        layout title becomes the series. No image: plotly renders none without Chrome."""
        plot = _json(figure if isinstance(figure, Mapping) else figure.to_plotly_json())
        if isinstance(plot.get("layout"), dict):
            plot["layout"]["title"] = series
        self._plot("plotly", title, series, iteration, plot, None)

    def report_matplotlib_figure(
        self,
        title: str,
        series: str,
        figure: Any,
        iteration: int | None = None,
        report_image: bool = False,
        report_interactive: bool = True,
    ) -> None:
        """A matplotlib figure (or `pyplot`, for its current figure) as a PNG, and what
        its axes show as data; with `report_image`, an image report instead (ClearML's
        debug sample); without `report_interactive`, the PNG only."""
        fig = figure.gcf() if hasattr(figure, "gcf") else figure
        kind: ReportKind = "image" if report_image else "matplotlib"
        data = _figure_data(fig) if report_interactive and not report_image else None
        report = Report(kind=kind, title=title, series=series, iteration=iteration or 0, data=data)
        with tempfile.TemporaryDirectory(prefix="pipec-plot-") as scratch:
            path = os.path.join(scratch, "figure.png")
            fig.savefig(path, format="png")
            self._add_with_file(report, path, self._max_history if report_image else None)

    def flush(self, wait: bool = False) -> bool:
        """Write the task's record now, reports included; False for a logger of no task."""
        return self._reports.flush()

    def set_default_debug_sample_history(self, max_history: int) -> None:
        """How many images / media files each title and series keeps (negative: all)."""
        self._max_history = int(max_history)

    def get_default_debug_sample_history(self) -> int:
        return self._max_history


_RUN_LOGGERS: weakref.WeakKeyDictionary[PipelineRun, Logger] = weakref.WeakKeyDictionary()


def run_logger(run: PipelineRun) -> Logger:
    """A run's own logger (`PipelineController.get_logger()`, `Logger.current_logger()` in
    the pipeline logic): one per run, its reports going straight to the run record."""
    if run not in _RUN_LOGGERS:
        reports = Reports(
            run.record.metrics,
            run.store,
            run.files.values(None, "reports"),
            lambda: run.state.write_record(run.record),
        )
        _RUN_LOGGERS[run] = Logger(reports)
    return _RUN_LOGGERS[run]


# ----------------------------------------------------------------- artifacts and models


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


class ModelList(list[Any]):
    """A task's models in order (`-1` the latest); also by their name on the task
    (`task.models.output["name"]`), as in ClearML."""

    def __init__(self, named: Iterable[tuple[str, Any]] = ()) -> None:
        pairs = list(named)
        super().__init__(model for _, model in pairs)
        self._names = [name for name, _ in pairs]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for name, model in zip(self._names, self, strict=True):
                if name == key:
                    return model
            raise KeyError(key)
        return super().__getitem__(key)


class Models(dict[str, ModelList]):
    """ClearML's `task.models`: the `input` models the task connected and the `output`
    models it stored, registry models (`Model`) by their name on the task."""

    def __init__(self, input: ModelList, output: ModelList) -> None:
        super().__init__(input=input, output=output)

    @property
    def input(self) -> ModelList:
        return self["input"]

    @property
    def output(self) -> ModelList:
        return self["output"]


# ----------------------------------------------------------------- parameters


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


def _typed(value: Any, value_type: Any) -> Any:
    """A text `value` as `value_type` (a type or its name), as ClearML's `cast` reads a
    parameter back."""
    name = value_type if isinstance(value_type, str) else getattr(value_type, "__name__", "")
    if not isinstance(value, str):
        return value
    if name in ("list", "dict", "tuple"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return _cast(value, {"int": 0, "float": 0.0, "bool": False}.get(name))


def _as_string(value: Any) -> str:
    """A parameter as ClearML stores it: text (None empty, containers as JSON)."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """`Section/name/...` keys as nested dicts (ClearML's `get_parameters_as_dict`); a key
    below a name that already holds a value is left out."""
    out: dict[str, Any] = {}
    for key, value in sorted(flat.items()):
        *parents, leaf = key.split("/")
        node: Any = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value
    return out


class _Owner(Protocol):
    """What stores a task's artifacts and models: its running step, or its run."""

    def upload_artifact(self, name: str, obj: Any) -> Any: ...


_CLEARML_STATUS = {
    "pending": "created",
    "queued": "queued",
    "running": "in_progress",
    "completed": "completed",
    "cached": "completed",
    "failed": "failed",
    "aborted": "stopped",
    "skipped": "created",
}
"""pipec's step and run statuses as ClearML names a task's (a skipped step never started)."""


# ----------------------------------------------------------------- Task


class Task:
    """A unit of work: a pipeline step, a pipeline's own task, or a task script run by hand.

    What the task knows of itself (parameters, tags, configurations, status, reports,
    artifacts) is a record: its step's record in a run, the run record for a pipeline's
    own task, a record read from the store for `Task.get_task`, or one in memory for a
    script run by hand.
    """

    TaskTypes = TaskTypes
    _current: ClassVar[Task | None] = None

    def __init__(
        self,
        project_name: str | None,
        task_name: str | None,
        task_type: Any,
        *,
        record: StepRecord | RunRecord | None = None,
        logger: Logger | None = None,
        owner: _Owner | None = None,
        store: Store | None = None,
        step: StepContext | None = None,
    ) -> None:
        self.project = project_name
        self.name = task_name
        self.task_type = str(task_type) if task_type is not None else None
        self.script: str | None = None
        self.template: templates.TaskTemplate | None = None
        self._record = record or StepRecord(
            name=task_name or "", id=f"local/{project_name}/{task_name}", status="running"
        )
        self._logger = logger or Logger(Reports(self._record_reports(), write=lambda: None))
        self._owner = owner
        self._store = store
        self._step = step
        self._closed = False

    def _record_reports(self) -> list[Report]:
        record = self._record
        return record.metrics if isinstance(record, RunRecord) else record.reports

    # ------------------------------------------------------------- getting a task

    @classmethod
    def _of_step(cls, ctx: StepContext) -> Task:
        if ctx.task is None:
            ctx.task = cls(
                ctx.run.pipeline.project,
                ctx.record.task_name or ctx.step.name,
                ctx.step.policies.task_type,
                record=ctx.record,
                logger=Logger(ctx.reports),
                owner=ctx,
                store=ctx.run.store,
                step=ctx,
            )
        return ctx.task

    @classmethod
    def _running(cls) -> Task | None:
        """The task of the step running here, else of the pipeline whose logic runs here
        (or is being traced)."""
        ctx = current_step()
        if ctx is not None:
            return cls._of_step(ctx)
        live = logic.active_run()
        if live is not None:
            return pipeline_task(live.run)
        trace = active_trace()
        return _traced_task(trace.pipeline) if trace is not None else None

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
        """The running step's (or pipeline's) task; run by hand, a new task. In a step,
        `tags` are the task's unless the pipeline's `task_overrides` set them, as a cloned
        template keeps the tags its script gave it."""
        running = cls._running()
        if running is not None:
            ctx = running._step
            if tags and (ctx is None or ctx.task_override("tags") is None):
                running.add_tags(tags)
            return running
        task = cls(project_name, task_name, task_type)
        if tags:
            task.add_tags(tags)
        task.script = caller_frame().f_code.co_filename
        if active_session() is None and templates.find_task_init(task.script) is not None:
            task.template = templates.register(task.script)
        cls._current = task
        return task

    @classmethod
    def current_task(cls) -> Task | None:
        """The running step's task; in decorator pipeline logic, the pipeline's own task;
        else the one `Task.init` made. None once closed."""
        task = cls._running() or cls._current
        return None if task is None or task._closed else task

    @classmethod
    def get_task(
        cls,
        task_id: str | None = None,
        project_name: str | None = None,
        task_name: str | None = None,
        tags: Sequence[str] | None = None,
        allow_archived: bool = True,
        task_filter: dict[str, Any] | None = None,
    ) -> Task | None:
        """A step of a run, by the id `${step.id}` gave (e.g. to read its artifacts); or
        by name (and project, tags): that step in the newest run that has it, else the
        registered task template of that name. None (with a warning) if there is none,
        as in ClearML. pipec archives nothing, so `allow_archived` changes nothing."""
        if task_filter:
            raise UsageError(
                "Task.get_task(task_filter=...) queries a ClearML server; pipec finds tasks "
                "by task_id, or by project_name, task_name and tags"
            )
        if tags and any(tag.startswith("__$") for tag in tags):
            raise UsageError(
                "Task.get_task(tags=...): pipec filters by plain and '-' tags, not '__$' operators"
            )
        ctx = current_step()
        store = ctx.run.store if ctx is not None else Store.resolve()
        if task_id is not None:
            return cls._by_id(store, task_id)
        if task_name is None:
            raise UsageError(
                "Task.get_task needs task_id (pass it with ${step_name.id}) or task_name"
            )
        found = _newest_step(store, project_name, task_name, tags or [])
        if found is not None:
            return cls._snapshot(store, *found)
        if tags:
            _log.warning(
                "Task.get_task: no task %r (project %r) with tags %s in storage %s",
                task_name, project_name, list(tags), store.url,
            )  # fmt: skip
            return None
        template = templates.lookup(project=project_name, name=task_name)
        if template is not None:
            return cls._of_template(template)
        _log.warning(
            "Task.get_task: no task %r (project %r) in storage %s, nor a task template",
            task_name, project_name, store.url,
        )  # fmt: skip
        return None

    @classmethod
    def _by_id(cls, store: Store, task_id: str) -> Task:
        try:
            pipeline, run_id, _ = parse_step_id(task_id)
        except LookupError:
            template = templates.lookup(task_id=task_id)
            if template is None:
                raise LookupError(
                    f"no task {task_id!r}: not a step id, nor a task template's"
                ) from None
            return cls._of_template(template)
        record = read_step(store, task_id)
        project = open_run(store, pipeline, run_id, steps=False).pipeline.project
        return cls._snapshot(store, record, project)

    @classmethod
    def _snapshot(cls, store: Store, record: StepRecord, project: str | None) -> Task:
        """A step as its record in the store says: changes to this object stay in it."""
        return cls(project, record.task_name or record.name, None, record=record, store=store)

    @classmethod
    def _of_template(cls, template: templates.TaskTemplate) -> Task:
        record = StepRecord(name=template.name, id=template.id, status="pending")
        task = cls(template.project, template.name, template.task_type, record=record)
        task.script, task.template = template.script, template
        return task

    # ------------------------------------------------------------- what a task has

    @property
    def id(self) -> str:
        record = self._record
        return record.run_id if isinstance(record, RunRecord) else record.id

    def get_project_name(self) -> str | None:
        return self.project

    @property
    def artifacts(self) -> dict[str, Artifact]:
        record, store = self._record, self._store
        owner = record.pipeline if isinstance(record, RunRecord) else record.name
        if store is None:
            return Artifacts(owner, {})
        return Artifacts(owner, {n: Artifact(n, v, store) for n, v in record.artifacts.items()})

    @property
    def models(self) -> Models:
        """The registry models the task connected (`input`) and stored (`output`); a
        model the pipeline itself uploaded (`upload_model`) is its weights' artifact."""
        record, store = self._record, self._models_store()
        if store is None:
            return Models(ModelList(), ModelList())
        ids = record.model_ids if isinstance(record, StepRecord) else {}
        inputs = record.input_models if isinstance(record, StepRecord) else {}

        def registered(name: str, model_id: str) -> Iterator[tuple[str, Any]]:
            with contextlib.suppress(registry.ModelNotFoundError):  # removed since
                yield name, cast_model(Model, registry.read(store, model_id), store)

        output: list[tuple[str, Any]] = []
        for name, stored in record.models.items():
            if name in ids:
                output.extend(registered(name, ids[name]))
            else:
                output.append((name, Artifact(name, stored, store)))
        found = [pair for name, i in inputs.items() for pair in registered(name, i)]
        return Models(ModelList(found), ModelList(output))

    def _models_store(self) -> Store | None:
        """Where this task's models are registered: its run's store (the default store
        for a script run by hand); None while pipeline logic is only traced."""
        if isinstance(self._owner, _Discarded):
            return None
        return self._store if self._store is not None else Store.resolve()

    def _add_model(
        self, direction: Literal["input", "output"], name: str, record: ModelRecord
    ) -> None:
        """The task's record names the model: ClearML's task models, by name on the task."""
        task_record = self._record
        if direction == "input":
            if isinstance(task_record, StepRecord):
                task_record.input_models[name] = record.id
            return
        if record.weights is not None:
            task_record.models[name] = record.weights
        if isinstance(task_record, StepRecord):
            task_record.model_ids[name] = record.id

    def get_logger(self) -> Logger:
        return self._logger

    def get_status(self) -> str:
        """ClearML's name of the task's status (`in_progress` while it runs)."""
        return "completed" if self._closed else _CLEARML_STATUS[self._record.status]

    def get_reported_scalars(
        self, max_samples: int = 0, x_axis: str = "iter"
    ) -> dict[str, dict[str, dict[str, list[float]]]]:
        """{title: {series: {"x": iterations, "y": values}}}, as ClearML's; with
        `max_samples`, each series averaged down to at most that many points."""
        if x_axis != "iter":
            raise ValueError(
                f"get_reported_scalars(x_axis={x_axis!r}): pipec records each scalar's "
                "iteration, not when it was reported; use x_axis='iter'"
            )
        scalars = [r for r in self._record_reports() if r.kind == "scalar"]
        graphs: dict[str, dict[str, dict[str, list[float]]]] = {}
        for r in sorted(scalars, key=lambda r: r.iteration or 0):
            graph = graphs.setdefault(r.title or "", {}).setdefault(
                r.series or "", {"x": [], "y": []}
            )
            graph["x"].append(r.iteration or 0)
            graph["y"].append(r.value if r.value is not None else math.nan)
        if max_samples > 0:
            for series in graphs.values():
                for name, graph in series.items():
                    series[name] = {
                        axis: _averaged(values, max_samples) for axis, values in graph.items()
                    }
        return graphs

    # ------------------------------------------------------------- parameters

    def _bare_section(self) -> str:
        """Where ClearML files parameters pipec records without a section: a pipeline's
        arguments under `Args`, a function step's under `kwargs`."""
        return "Args" if isinstance(self._record, RunRecord) else "kwargs"

    def get_parameters(
        self, backwards_compatibility: bool = True, cast: bool = False
    ) -> dict[str, Any]:
        """Flat `Section/name` parameters; as text, the way ClearML stores them, unless
        `cast`. (`backwards_compatibility` concerns servers older than pipec's records.)"""
        bare = self._bare_section()
        return {
            key if "/" in key else f"{bare}/{key}": value if cast else _as_string(value)
            for key, value in self._record.parameters.items()
        }

    def get_parameter(self, name: str, default: Any = None, cast: bool = False) -> Any:
        return self.get_parameters(cast=cast).get(name, default)

    def get_parameters_as_dict(self, cast: bool = False) -> dict[str, Any]:
        """The parameters nested by section: {"General": {"epochs": "5"}}."""
        return _nested(self.get_parameters(cast=cast))

    def _parameter(self, key: str, value: Any) -> tuple[str, Any] | None:
        """A parameter as pipec records it: a key with a section (`General` by default),
        a JSON value; None (with a warning, as ClearML's) for a value that is neither
        JSON nor an enum member."""
        if "/" not in key:
            key = f"General/{key}"
        if isinstance(value, Enum):
            return key, value.name
        stored = jsonable(value)
        if stored is None and value is not None:
            _log.warning(
                "parameter %s not set: %s is not a builtin type", key, type(value).__name__
            )
            return None
        return key, stored

    def set_parameters(
        self, *args: Mapping[str, Any] | Iterable[tuple[str, Any]], **kwargs: Any
    ) -> None:
        """Replace all the task's parameters with these (dicts or (key, value) pairs)."""
        if not all(isinstance(arg, (Mapping, Iterable)) for arg in args):
            raise ValueError("set_parameters takes dicts or iterables of (key, value) pairs")
        given: dict[str, Any] = {}
        for arg in args:
            given.update(arg.items() if isinstance(arg, Mapping) else arg)
        given.update(kwargs)
        self._record.parameters = dict(
            p for p in (self._parameter(k, v) for k, v in given.items()) if p is not None
        )

    def set_parameter(
        self, name: str, value: Any, description: str | None = None, value_type: Any = None
    ) -> None:
        """Set one parameter; with `value_type`, it is kept as that type (what `cast`
        gives back)."""
        found = self._parameter(name, _typed(value, value_type) if value_type else value)
        if found is None:
            return
        key, stored = found
        self._record.parameters[key] = stored
        if description:
            self._record.parameter_descriptions[key] = description

    def connect(
        self, mutable: Any, name: str | None = None, ignore_remote_overrides: bool = False
    ) -> Any:
        """Parameters the task exposes (the pipeline's `parameter_override` changes them),
        or a model it reads (`InputModel`) or writes (`OutputModel`)."""
        self._check_open("connect")
        if isinstance(mutable, (InputModel, OutputModel)):
            mutable.connect(self, name)
            return mutable
        section = name or "General"
        overrides = {
            key.split("/", 1)[1]: value
            for key, value in (self._step.overrides if self._step is not None else {}).items()
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
                self._record.parameters[f"{section}/{key}"] = value
        return mutable

    def connect_configuration(
        self,
        configuration: Mapping[str, Any] | list[Any] | Path | str,
        name: str | None = None,
        description: str | None = None,
        ignore_remote_overrides: bool = False,
    ) -> Any:
        """A configuration dict (or list), or a configuration file (a path); the
        pipeline's `configuration_overrides[name]` replaces its content, as a ClearML step
        gets the content the pipeline set. A dict stays the same dict; a file comes back
        as its path, or with an override, as a path to a local file holding it."""
        self._check_open("connect_configuration")
        section = name or "General"
        override = (
            None
            if ignore_remote_overrides or self._step is None
            else self._step.configuration_override(section)
        )
        if isinstance(configuration, (dict, list)):
            if override is not None:
                _replace_content(configuration, override, section)
            self._record.configurations[section] = Configuration(
                type="dictionary", value=_json(configuration), description=description
            )
            return configuration
        if not isinstance(configuration, (str, os.PathLike)):
            raise ValueError(
                "connect_configuration takes a dict, a list or a file path, not "
                f"{type(configuration).__name__}"
            )
        path = Path(configuration)
        result: Any = configuration
        if override is not None:
            text = override if isinstance(override, str) else json.dumps(override, indent=2)
            handle, local = tempfile.mkstemp(
                prefix="pipec_task_config_", suffix=path.suffix or ".txt"
            )
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            result = Path(local) if isinstance(configuration, os.PathLike) else local
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"Could not connect configuration file {path}: {exc.strerror or exc}"
                ) from None
        self._record.configurations[section] = Configuration(
            type=path.suffix.lstrip(".") or "file", text=text, description=description
        )
        return result

    # ------------------------------------------------------------- tags and status

    def add_tags(self, tags: Sequence[str] | str) -> None:
        """Add tags (a string is split at spaces, as ClearML does); old tags stay."""
        new = tags.split(" ") if isinstance(tags, str) else [str(t) for t in tags]
        self._record.tags.extend(t for t in dict.fromkeys(new) if t and t not in self._record.tags)

    def get_tags(self) -> list[str]:
        return list(self._record.tags)

    def flush(self, wait_for_uploads: bool = False) -> bool:
        """Write the task's record now (in a step: its reports, parameters, tags so far),
        where ClearML sends what it has to the server."""
        self._logger.flush()
        return True

    def close(self) -> None:
        """Flush, and end this task object: it is `completed` and no longer the current
        task, and `connect` / `connect_configuration` raise ValueError, as in ClearML. The
        code goes on (in a step, the step ends when its code does)."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._owner is None:
            self._record.status = "completed"

    def _check_open(self, call: str) -> None:
        if self._closed:
            raise ValueError(f"Task {self.name!r} was closed: {call} needs an open task")

    def _end(
        self, status: Literal["completed", "failed"], reason: str | None, message: str | None
    ) -> None:
        """ClearML's mark_completed / mark_failed end the task's process: in a step the
        step's code ends there with that status; run by hand, the script exits."""
        record = self._record
        if isinstance(record, RunRecord):
            raise UsageError(
                f"mark_{status} on the pipeline's own task: end the pipeline function "
                "instead (return, or raise to fail it)"
            )
        record.status_message = message
        if self._step is not None:
            raise StepEnded(status, reason)
        record.status = status
        self.flush()
        sys.exit(0 if status == "completed" else 1)

    def mark_completed(
        self, ignore_errors: bool = True, status_message: str | None = None, force: bool = False
    ) -> None:
        self._end("completed", None, status_message)

    def mark_failed(
        self,
        ignore_errors: bool = True,
        status_reason: str | None = None,
        status_message: str | None = None,
        force: bool = False,
    ) -> None:
        """Fail the task; its record keeps `status_reason` and `status_message`."""
        if isinstance(self._record, StepRecord):
            self._record.status_reason = status_reason
        self._end("failed", status_reason or status_message, status_message)

    # ------------------------------------------------------------- storing

    def _writer(self, call: str) -> _Owner:
        if self._owner is None:
            raise UsageError(
                f"{call} outside a pipeline step: pipec stores artifacts and models in a "
                "run's store, so run this script through a pipeline"
            )
        return self._owner

    def upload_artifact(
        self, name: str, artifact_object: Any, metadata: dict[str, Any] | None = None, **_: Any
    ) -> bool:
        """Store an artifact of this step (a file path uploads the file, as in ClearML)."""
        self._writer(f"upload_artifact({name!r})").upload_artifact(name, artifact_object)
        return True

    def update_output_model(
        self,
        model_path: str,
        name: str | None = None,
        comment: str | None = None,
        tags: Sequence[str] | None = None,
        model_name: str | None = None,
        iteration: int | None = None,
        auto_delete_file: bool = True,
    ) -> str:
        """Store a model file (or folder) as a new output model of this task, as
        ClearML does: `name` on the task (default the file's stem; what
        `monitor_models` selects), `model_name` in the registry (default
        `"<task name> - <name>"`). Returns the weights' URL."""
        model = OutputModel(
            task=self,
            name=model_name or (f"{self.name} - {name}" if name else self.name),
            tags=list(tags) if tags else None,
            comment=comment,
        )
        model.connect(self, name=name)
        return model.update_weights(
            weights_filename=model_path, iteration=iteration, auto_delete_file=auto_delete_file
        )

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


_RUN_TASKS: weakref.WeakKeyDictionary[PipelineRun, Task] = weakref.WeakKeyDictionary()


def pipeline_task(run: PipelineRun) -> Task:
    """The pipeline's own task (ClearML's controller task) for decorator logic: its
    reports, artifacts, tags and configurations are the run record's."""
    if run not in _RUN_TASKS:
        _RUN_TASKS[run] = Task(
            run.pipeline.project,
            run.pipeline.name,
            TaskTypes.controller,
            record=run.record,
            logger=run_logger(run),
            owner=run,
            store=run.store,
        )
    return _RUN_TASKS[run]


class _TraceLogger(Logger):
    """The pipeline's logger while pipec traces decorator logic to build its graph:
    reports wait for the run, where the logic runs again with real values."""

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("report_"):
            return lambda *args, **kwargs: None
        return super().__getattribute__(name)


class _Discarded:
    """Where the traced logic's uploads go: nowhere (the run makes them again)."""

    def upload_artifact(self, name: str, obj: Any) -> None:
        return None


def _traced_task(pipeline: str) -> Task:
    """The pipeline's task as traced logic sees it: one that records nothing."""
    record = RunRecord(run_id="", pipeline=pipeline, target="", started=0.0)
    return Task(
        None,
        pipeline,
        TaskTypes.controller,
        record=record,
        logger=_TraceLogger(),
        owner=_Discarded(),
    )


def _newest_step(
    store: Store, project: str | None, name: str, tags: Sequence[str]
) -> tuple[StepRecord, str | None] | None:
    """The record of step `name` in the newest run that has one (of `project`, with `tags`)."""
    for run in list_runs(store):
        if name not in run.steps:
            continue
        state = open_run(store, run.pipeline, run.run_id, steps=False)
        if project is not None and state.pipeline.project != project:
            continue
        try:
            record = state.step_record(name)
        except LookupError:
            continue
        if not tags or tags_match(record.tags, tags):
            return record, state.pipeline.project
    return None


def _replace_content(configuration: dict[str, Any] | list[Any], override: Any, name: str) -> None:
    """The connected dict (or list) takes the override's content, in place; text is read
    as JSON."""
    if isinstance(override, str):
        try:
            override = json.loads(override)
        except ValueError:
            raise UsageError(
                f"configuration_overrides[{name!r}] is text that is not JSON, but the task "
                "connects a dict: pass the override as a dict, or as JSON text"
            ) from None
    if isinstance(configuration, dict) and isinstance(override, dict):
        configuration.clear()
        configuration.update(override)
    elif isinstance(configuration, list) and isinstance(override, list):
        configuration[:] = override
    else:
        raise UsageError(
            f"configuration_overrides[{name!r}] is a {type(override).__name__}, but the task "
            f"connects a {type(configuration).__name__}"
        )


def _averaged(values: list[float], samples: int) -> list[float]:
    """`values` in at most `samples` consecutive windows, each its mean."""
    size = math.ceil(len(values) / samples)
    return [sum(w) / len(w) for w in (values[i : i + size] for i in range(0, len(values), size))]


model_api.current_task = Task.current_task
