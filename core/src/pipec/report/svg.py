"""The pictures of a run page, drawn as inline SVG: the DAG coloured by status, and
line plots of scalars.

Drawn here rather than by a plotting library so that a page needs no script at all and
stays one small file; the DAG is laid out in layers (a step one row below its deepest
parent), which is all a pipeline graph of tens of steps needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from pipec.ir import Pipeline

STATUS_COLOURS = {
    "completed": "#2e7d32",
    "cached": "#00838f",
    "failed": "#c62828",
    "aborted": "#ef6c00",
    "skipped": "#9e9e9e",
    "running": "#f9a825",
    "queued": "#6d8196",
    "pending": "#bdbdbd",
}

_NODE_W, _NODE_H, _GAP_X, _GAP_Y, _MARGIN = 170, 40, 30, 50, 10
_SERIES_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")


def layers(pipeline: Pipeline) -> list[list[str]]:
    """Steps by depth (a step is one row below its deepest parent), each row ordered by
    where its parents sit, so that edges cross less."""
    depth: dict[str, int] = {}
    for step in pipeline.in_dependency_order():
        depth[step.name] = 1 + max((depth.get(p, -1) for p in step.parents), default=-1)
    for step in pipeline.steps:  # steps of a cycle, which the order leaves out
        depth.setdefault(step.name, 0)
    rows = [
        [name for name, d in depth.items() if d == i]
        for i in range(max(depth.values(), default=-1) + 1)
    ]
    parents = {step.name: step.parents for step in pipeline.steps}
    position: dict[str, float] = {}
    for row in rows:

        def where(i: int, row: list[str] = row) -> float:
            known = [position[p] for p in parents[row[i]] if p in position]
            return sum(known) / len(known) if known else i - (len(row) - 1) / 2

        row[:] = [row[i] for i in sorted(range(len(row)), key=where)]
        for i, name in enumerate(row):
            position[name] = i - (len(row) - 1) / 2
    return rows


def dag(pipeline: Pipeline, statuses: dict[str, str], link: str = "#step-{}") -> str:
    """The pipeline's graph, each node coloured by its step's status and linking to the
    step's section (`link` formatted with the step's anchor)."""
    rows = layers(pipeline)
    width = max((len(row) for row in rows), default=1) * (_NODE_W + _GAP_X) - _GAP_X
    centre: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        offset = (width - (len(row) * (_NODE_W + _GAP_X) - _GAP_X)) / 2
        for i, name in enumerate(row):
            x = _MARGIN + offset + i * (_NODE_W + _GAP_X) + _NODE_W / 2
            centre[name] = (x, _MARGIN + r * (_NODE_H + _GAP_Y) + _NODE_H / 2)
    height = len(rows) * (_NODE_H + _GAP_Y) - _GAP_Y + 2 * _MARGIN
    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{width + 2 * _MARGIN:.0f}" '
        f'height="{max(height, 0):.0f}" role="img" aria-label="pipeline graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#666"/>'
        "</marker></defs>",
    ]
    for parent, child in pipeline.edges():
        if parent in centre and child in centre:
            (x1, y1), (x2, y2) = centre[parent], centre[child]
            y1, y2 = y1 + _NODE_H / 2, y2 - _NODE_H / 2
            mid = (y1 + y2) / 2
            parts.append(
                f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} '
                f'{x2:.1f},{y2:.1f}" fill="none" stroke="#666" marker-end="url(#arrow)"/>'
            )
    for step in pipeline.steps:
        x, y = centre[step.name]
        status = statuses.get(step.name, "pending")
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["pending"])
        label = step.name if len(step.name) <= 20 else step.name[:19] + "…"
        parts.append(
            f'<a href="{escape(link.format(anchor(step.name)))}">'
            f'<g class="node" data-step="{escape(step.name)}" data-status="{status}">'
            f"<title>{escape(step.name)}: {status}</title>"
            f'<rect x="{x - _NODE_W / 2:.1f}" y="{y - _NODE_H / 2:.1f}" width="{_NODE_W}" '
            f'height="{_NODE_H}" rx="8" fill="{colour}"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" fill="#fff" '
            f'font-size="13">{escape(label)}</text></g></a>'
        )
    parts.append("</svg>")
    return "".join(parts)


def anchor(step: str) -> str:
    """An id for a step's section that any step name makes safe."""
    return "".join(c if c.isalnum() or c in "-_" else f"-{ord(c):x}" for c in step)


def line_plot(title: str, series: dict[str, Sequence[tuple[float, float]]]) -> str:
    """One plot of a title's series (x: iteration, y: value), with points marked so a
    series of one value still shows."""
    w, h, left, right, top, bottom = 460, 240, 56, 12, 28, 36
    points = [p for values in series.values() for p in values if math.isfinite(p[1])]
    xs = [p[0] for p in points] or [0.0]
    ys = [p[1] for p in points] or [0.0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x0 == x1:
        x0, x1 = x0 - 1, x1 + 1
    if y0 == y1:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (w - left - right)

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (h - top - bottom)

    parts = [
        f'<svg class="plot" data-title="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{w}" height="{h}" role="img" aria-label="{escape(title)}">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#999"/>',
    ]
    for value, y in ((y0, h - bottom), (y1, top)):
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{value:.4g}</text>"
        )
    for value, anchor_ in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{sx(value):.1f}" y="{h - bottom + 14}" text-anchor="{anchor_}" '
            f'font-size="11">{value:.4g}</text>'
        )
    parts.append(
        f'<text x="{(left + w - right) / 2}" y="{h - 4}" text-anchor="middle" font-size="11">'
        "iteration</text>"
    )
    for i, (name, values) in enumerate(series.items()):
        colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
        shown = sorted(p for p in values if math.isfinite(p[1]))
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in shown)
        parts.append(
            f'<g class="series" data-series="{escape(name)}"><title>{escape(name)}</title>'
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}">'
            f"<title>{escape(name)} @ {x:g}: {y:g}</title></circle>"
            for x, y in shown
        )
        parts.append(
            f'<text x="{left + 8}" y="{top + 14 + 14 * i}" font-size="11" fill="{colour}">'
            f"{escape(name)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
