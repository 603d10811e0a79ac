"""A run page and the runs list, as HTML that needs no server and no network.

Every picture is inline (SVG drawn in `pipec.report.svg`, images as data URIs) and the
page's Content-Security-Policy lets it load nothing from anywhere, so a page mailed
around or opened from disk shows the same as one served by `pipec ui`. The only script
is plotly.js, inlined from the installed `plotly` package, on pages with plotly reports.
Every text from a run (console, values, names) is escaped: it is the user's data.
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from html import escape
from typing import Any

from pipec.diagram import show_value
from pipec.records import Attempt, Report, RunRecord, StepRecord, StoredValue
from pipec.report.data import RunData
from pipec.report.svg import STATUS_COLOURS, anchor, dag, line_plot

TABLE_ROWS = 200
"""A reported table shows at most this many rows."""

_PLOTS_WITH_IMAGE = frozenset(
    {"histogram", "scatter2d", "line_plot", "confusion_matrix", "surface", "matplotlib"}
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1200px}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top;font-size:.9rem}th{background:#f5f5f5}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5rem;overflow:auto;max-height:30rem;
font-size:.82rem;white-space:pre-wrap}
.status{display:inline-block;color:#fff;border-radius:4px;padding:0 6px;font-size:.85rem}
.error{border-left:4px solid #c62828;background:#fdecea;padding:.5rem;white-space:pre-wrap}
.plots{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:.85rem}
img.report{max-width:480px;border:1px solid #ddd}img.report.image{image-rendering:pixelated}
section.step{border-top:1px solid #eee;margin-top:1rem}.muted{color:#777}
pre.preview{white-space:pre;max-height:14rem;max-width:40rem;margin:0}
"""


def run_page(data: RunData, *, runs_link: str | None = None) -> str:
    """The whole page of one run; `runs_link` (served pages) leads back to the runs list."""
    record = data.record
    body = [
        f'<p><a href="{escape(runs_link)}">all runs</a></p>' if runs_link else "",
        f"<h1>{escape(record.pipeline)} <span class='muted'>run {escape(record.run_id)}</span> "
        f"{_status(record.status)}</h1>",
        _run_facts(data),
    ]
    if record.error:
        body.append(f'<h2>Error</h2><div class="error" id="run-error">{escape(record.error)}</div>')
    statuses = {step.name: step.status for step in data.steps}
    if data.pipeline is not None and data.pipeline.steps:
        body.append("<h2>Graph</h2>" + dag(data.pipeline, statuses) + _legend())
    body.append("<h2>Steps</h2>" + _steps_table(data.steps))
    pipeline_level = _reports(data, record.metrics)
    values = _values(data, {**record.artifacts, **record.models})
    if pipeline_level or values:
        body.append("<h2>Pipeline metrics, artifacts and models</h2>" + pipeline_level + values)
    for step in data.steps:
        body.append(_step_section(data, step))
    scripts = _plotly_js() if _uses_plotly(data) else None
    return _document(f"{record.pipeline} {record.run_id}", "".join(body), scripts)


def runs_page(records: Iterable[RunRecord], link: str = "runs/{}") -> str:
    """The runs list: one row per run, newest first, each linking to its page."""
    rows = [
        "<tr><th>run</th><th>pipeline</th><th>target</th><th>status</th><th>started</th>"
        "<th>duration</th><th>steps</th></tr>"
    ]
    for r in records:
        rows.append(
            f'<tr class="run"><td><a href="{escape(link.format(r.run_id))}">{escape(r.run_id)}'
            f"</a></td><td>{escape(r.pipeline)}</td><td>{escape(r.target)}</td>"
            f"<td>{_status(r.status)}</td><td>{_when(r.started)}</td>"
            f"<td>{_took(r.started, r.ended)}</td><td>{len(r.steps)}</td></tr>"
        )
    body = "<h1>pipec runs</h1><table>" + "".join(rows) + "</table>"
    return _document("pipec runs", body, None)


def _document(title: str, body: str, script: str | None) -> str:
    scripts = "script-src 'unsafe-inline'" if script else "script-src 'none'"
    policy = (
        f"default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; {scripts}"
    )
    head_script = f"<script>{script}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{head_script}</head>"
        f"<body>{body}</body></html>\n"
    )


def _status(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#777")
    return f'<span class="status" style="background:{colour}">{escape(status)}</span>'


def _legend() -> str:
    return "<p>" + " ".join(_status(s) for s in STATUS_COLOURS) + "</p>"


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _took(start: float | None, end: float | None) -> str:
    return f"{end - start:.2f}s" if start is not None and end is not None else ""


def _run_facts(data: RunData) -> str:
    record = data.record
    facts = [
        ("target", escape(record.target)),
        ("started", _when(record.started)),
        ("duration", _took(record.started, record.ended)),
        ("storage", f"<code>{escape(data.store.url)}</code>"),
    ]
    if record.failed_step:
        link = f'<a href="#step-{anchor(record.failed_step)}">{escape(record.failed_step)}</a>'
        facts.append(("failed step", link))
    if record.resumed_from:
        facts.append(("resumed from", escape(record.resumed_from)))
    if record.tags:
        facts.append(("tags", escape(", ".join(record.tags))))
    if record.return_value is not None:
        facts.append(("return value", _value_cell(data, record.return_value)))
    table = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    table += "</table>"
    if record.parameters:
        table += "<h3>Parameters</h3>" + _mapping(record.parameters)
    return table


def _mapping(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td><code>{escape(json.dumps(v))}</code></td></tr>"
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _steps_table(steps: list[StepRecord]) -> str:
    rows = [
        "<tr><th>step</th><th>status</th><th>attempts</th><th>duration</th><th>cache</th>"
        "<th>error</th></tr>"
    ]
    for step in steps:
        cache = f"hit ({escape(step.cached_from or '')})" if step.cache_hit else ""
        rows.append(
            f'<tr class="step-row"><td><a href="#step-{anchor(step.name)}">{escape(step.name)}</a>'
            f"</td><td>{_status(step.status)}</td><td>{len(step.attempts)}</td>"
            f"<td>{_took(step.started, step.ended)}</td><td>{cache}</td>"
            f"<td>{escape(step.error or '')}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _step_section(data: RunData, step: StepRecord) -> str:
    parts = [
        f'<section class="step" id="step-{anchor(step.name)}">',
        f"<h2>{escape(step.name)} {_status(step.status)}</h2>",
    ]
    facts = [("duration", _took(step.started, step.ended))]
    if step.task_name:
        facts.append(("task name", escape(step.task_name)))
    if step.cache_hit:
        facts.append(("reused from", escape(step.cached_from or "")))
    if step.status_message or step.status_reason:
        facts.append(("status", escape(step.status_message or step.status_reason or "")))
    if step.workdir:
        facts.append(("kept working directory", f"<code>{escape(step.workdir)}</code>"))
    parts.append("<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts))
    parts.append("</table>")
    if step.error:
        parts.append(f'<div class="error">{escape(step.error)}</div>')
    spec = data.step_spec(step.name)
    if spec is not None and spec.inputs:
        inputs = {name: show_value(value) for name, value in spec.inputs.items()}
        parts.append(
            "<h3>Inputs</h3><table>"
            + "".join(
                f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>"
                for k, v in inputs.items()
            )
            + "</table>"
        )
    if step.parameters:
        parts.append("<h3>Parameters (as the step received them)</h3>" + _mapping(step.parameters))
    for title, values in (
        ("Outputs", step.outputs),
        ("Artifacts", step.artifacts),
        ("Models", step.models),
    ):
        if values:
            parts.append(f"<h3>{title}</h3>" + _values(data, values))
    for attempt in step.attempts:
        parts.append(_attempt(data, step, attempt))
    reports = _reports(data, step.reports)
    if reports:
        parts.append("<h3>Reports</h3>" + reports)
    monitored = step.monitored
    if monitored.metrics or monitored.artifacts or monitored.models:
        parts.append(
            "<h3>Monitored (forwarded to the pipeline)</h3>"
            + _reports(data, monitored.metrics)
            + _values(data, {**monitored.artifacts, **monitored.models})
        )
    parts.append("</section>")
    return "".join(parts)


def _attempt(data: RunData, step: StepRecord, attempt: Attempt) -> str:
    """One attempt: its status and error, where it was raised, its traceback and console."""
    head = (
        f"attempt {attempt.number}: {escape(attempt.status)}, "
        f"{_took(attempt.started, attempt.ended)}"
    )
    if attempt.location:
        head += f" at <code>{escape(attempt.location)}</code>"
    parts = [f"<h3>{head}</h3>"]
    if attempt.error:
        parts.append(f'<div class="error">{escape(attempt.error)}</div>')
    if attempt.traceback:
        parts.append(f'<pre class="traceback">{escape(attempt.traceback)}</pre>')
    console = data.consoles.get((step.name, attempt.number))
    if console is not None:
        mark = " (truncated when recorded)" if attempt.truncated else ""
        parts.append(
            f"<details{' open' if attempt.status == 'failed' else ''}><summary>console"
            f"{mark}</summary><pre class='console'>{escape(console)}</pre></details>"
        )
    return "".join(parts)


def _values(data: RunData, values: dict[str, StoredValue]) -> str:
    if not values:
        return ""
    rows = ["<tr><th>name</th><th>value</th><th>type</th><th>size</th><th>uri</th></tr>"]
    for name, stored in values.items():
        rows.append(
            f'<tr class="value"><th>{escape(name)}</th><td>{_value_cell(data, stored)}</td>'
            f"<td>{escape(stored.type_name)} <span class='muted'>({escape(stored.serializer)})"
            f"</span></td><td>{_size(stored.size)}</td><td><code>{escape(stored.uri)}</code></td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _value_cell(data: RunData, stored: StoredValue) -> str:
    preview = data.preview(stored)
    if preview is None:
        return "<span class='muted'>not previewed</span>"
    return f"<pre class='preview'>{escape(preview)}</pre>"


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


def _reports(data: RunData, reports: list[Report]) -> str:
    """Scalars as one line plot per title (a line per series), then every other report
    in the order it was made."""
    scalars: dict[str, dict[str, list[tuple[float, float]]]] = {}
    others = []
    for report in reports:
        if report.kind == "scalar" and report.value is not None:
            series = scalars.setdefault(report.title or "", {}).setdefault(report.series or "", [])
            series.append((float(report.iteration or 0), report.value))
        else:
            others.append(report)
    parts = []
    if scalars:
        plots = "".join(line_plot(title, series) for title, series in scalars.items())
        parts.append(f'<div class="plots scalars">{plots}</div>')
    for report in others:
        parts.append(_report(data, report))
    return "".join(parts)


def _caption(report: Report) -> str:
    name = " / ".join(p for p in (report.title, report.series) if p)
    iteration = f" (iteration {report.iteration})" if report.iteration else ""
    return f"<figcaption>{escape(report.kind)}: {escape(name)}{iteration}</figcaption>"


def _report(data: RunData, report: Report) -> str:
    caption = _caption(report)
    if report.kind == "text":
        return f"<figure>{caption}<pre class='text'>{escape(report.text or '')}</pre></figure>"
    if report.kind == "table":
        return f"<figure class='table'>{caption}{_table(report)}</figure>"
    if report.kind == "image" or (report.kind in _PLOTS_WITH_IMAGE and report.file is not None):
        src = data.data_uri(report.file)
        if src is not None and src.startswith("data:image/"):
            alt = escape(" / ".join(p for p in (report.title, report.series) if p))
            image = f"<img class='report {report.kind}' alt='{alt}' src='{src}'>"
            return f"<figure>{caption}{image}</figure>"
        return f"<figure>{caption}{_not_embedded(report)}</figure>"
    if report.kind == "media":
        return f"<figure>{caption}{_media(data, report)}</figure>"
    if report.kind == "plotly" and isinstance(report.data, dict) and _plotly_js() is not None:
        figure = json.dumps(report.data).replace("</", "<\\/")
        div = f"plotly-{id(report):x}"
        return (
            f"<figure>{caption}<div id='{div}' class='plotly'></div><script>"
            f"(function(f){{Plotly.newPlot('{div}',f.data||[],f.layout||{{}})}})({figure})"
            "</script></figure>"
        )
    if report.kind in ("line_plot", "scatter2d") and isinstance(report.data, dict):
        return f"<figure>{caption}{line_plot(report.title or '', _lines(report))}</figure>"
    text = json.dumps(report.data, indent=1)[:4000]
    return f"<figure>{caption}<pre>{escape(text)}</pre></figure>"


def _lines(report: Report) -> dict[str, list[tuple[float, float]]]:
    """The (x, y) series a line plot or scatter report holds as data."""
    data: dict[str, Any] = report.data  # type: ignore[assignment]
    if report.kind == "scatter2d":
        return {report.series or "": [(float(x), float(y)) for x, y in data.get("scatter", [])]}
    return {
        s.get("name", ""): [(float(x), float(y)) for x, y in s.get("data", [])]
        for s in data.get("series", [])
    }


def _not_embedded(report: Report) -> str:
    where = report.uri or (report.file.uri if report.file else "")
    size = f", {_size(report.file.size)}" if report.file else ""
    return f"<p class='muted'>not embedded{size}: <code>{escape(where)}</code></p>"


def _media(data: RunData, report: Report) -> str:
    src = data.data_uri(report.file)
    if src is None:
        return _not_embedded(report)
    mime = mimetypes.guess_type(posixpath.basename(report.file.uri))[0] or ""  # type: ignore[union-attr]
    if mime.startswith("image/"):
        return f"<img class='report media' alt='{escape(report.title or '')}' src='{src}'>"
    if mime.startswith(("audio/", "video/")):
        tag = mime.split("/")[0]
        return f"<{tag} controls src='{src}'></{tag}>"
    return _not_embedded(report)


def _table(report: Report) -> str:
    table = report.table
    header: list[Any] = []
    rows: list[list[Any]] = []
    if isinstance(table, dict):  # a DataFrame, as to_dict(orient="split")
        header = ["", *table.get("columns", [])]  # type: ignore[misc]
        index = table.get("index", [])
        rows = [[i, *row] for i, row in zip(index, table.get("data", []), strict=False)]  # type: ignore[arg-type]
    elif isinstance(table, list):
        rows = [row if isinstance(row, list) else [row] for row in table]
    elif report.text:
        return f"<pre>{escape(report.text[:4000])}</pre>"
    more = len(rows) - TABLE_ROWS
    html = "<table>"
    if header:
        html += "<tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in header) + "</tr>"
    for row in rows[:TABLE_ROWS]:
        html += "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
    html += "</table>"
    if more > 0:
        html += f"<p class='muted'>{more} more rows not shown</p>"
    return html


def _uses_plotly(data: RunData) -> bool:
    steps = [r for s in data.steps for r in s.reports]
    return any(r.kind == "plotly" for r in [*data.record.metrics, *steps])


@cache
def _plotly_js() -> str | None:
    """plotly.js from the installed `plotly` package, to inline; None without it."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs().replace("</script", "<\\/script")
