"""Showing a pipeline to people: readable values, and graphs in Mermaid or DOT.

Internal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from pipec.exprs import OPERATORS
from pipec.ir import (
    Expr,
    LiteralValue,
    OutputRef,
    PickledValue,
    Pipeline,
    Template,
    Value,
    iter_refs,
)
from pipec.refs import render

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
            "pow": "**", "matmul": "@", "lt": "<", "le": "<=", "eq": "==", "ne": "!=",
            "gt": ">", "ge": ">="}  # fmt: skip


def show_value(value: Value) -> str:
    """A value as the user would write it: literals as Python, references as `${...}`."""
    if isinstance(value, LiteralValue):
        return json.dumps(value.value)
    if isinstance(value, PickledValue):
        return f"<{value.type_name} object>"
    if isinstance(value, Template):
        return (
            '"'
            + "".join(p if isinstance(p, str) else "{" + show_value(p) + "}" for p in value.parts)
            + '"'
        )
    if isinstance(value, Expr):
        args = [show_value(a) for a in value.args]
        if value.op in _SYMBOLS and len(args) >= 2:
            return "(" + f" {_SYMBOLS[value.op]} ".join(args) + ")"
        if value.op in ("list", "tuple", "set"):
            inner = ", ".join(args)
            return {"list": f"[{inner}]", "tuple": f"({inner},)", "set": f"{{{inner}}}"}[value.op]
        if value.op == "dict":
            return (
                "{"
                + ", ".join(f"{k}: {v}" for k, v in zip(args[::2], args[1::2], strict=True))
                + "}"
            )
        if value.op == "getattr":
            return f"{args[0]}.{value.args[1].value}"  # type: ignore[union-attr]
        if value.op == "getitem":
            return f"{args[0]}[{args[1]}]"
        if value.op in OPERATORS and len(args) == 1:
            return f"{value.op}({args[0]})"
        kwargs = [f"{k}={show_value(v)}" for k, v in value.kwargs.items()]
        return f"{value.op}({', '.join(args + kwargs)})"
    return render(value)


def _edge_labels(pipeline: Pipeline) -> dict[tuple[str, str], list[str]]:
    """For each edge, the outputs that flow along it (empty for order-only parents)."""
    labels: dict[tuple[str, str], list[str]] = {edge: [] for edge in pipeline.edges()}
    for step in pipeline.steps:
        for value in step.inputs.values():
            for ref in iter_refs(value):
                if isinstance(ref, OutputRef) and (ref.step, step.name) in labels:
                    names = labels[(ref.step, step.name)]
                    if ref.name not in names:
                        names.append(ref.name)
    return labels


def _node_ids(pipeline: Pipeline) -> dict[str, str]:
    ids: dict[str, str] = {}
    for step in pipeline.steps:
        base = "s_" + re.sub(r"\W", "_", step.name)  # prefixed: never a Mermaid keyword
        candidate, n = base, 1
        while candidate in ids.values():
            candidate, n = f"{base}_{n}", n + 1
        ids[step.name] = candidate
    return ids


COLOURS: dict[str, str] = {
    "completed": "#b7e4c7", "cached": "#a9d6e5", "failed": "#f4a3a3", "aborted": "#f8c291",
    "skipped": "#e9e9e9", "running": "#ffe08a", "pending": "#ffffff", "queued": "#ffffff",
}  # fmt: skip
"""Fill colours of a step's node by its status in a run (`pipec graph --run`)."""

_MERMAID_SHAPES = {"task": ("[[", "]]"), "function": ("(", ")"), "component": ("(", ")")}


def mermaid(pipeline: Pipeline, statuses: Mapping[str, str] | None = None) -> str:
    """The graph in Mermaid; with `statuses`, each step's node coloured by its status
    (a class per status, named after it)."""
    ids = _node_ids(pipeline)

    def text(s: str) -> str:
        return s.replace('"', "#quot;")

    lines = ["flowchart TD"]
    for step in pipeline.steps:
        opening, closing = _MERMAID_SHAPES[step.kind]
        lines.append(f'    {ids[step.name]}{opening}"{text(step.name)}"{closing}')
    for (parent, child), names in _edge_labels(pipeline).items():
        if parent not in ids or child not in ids:
            continue
        label = f'|"{text(", ".join(names))}"|' if names else ""
        lines.append(f"    {ids[parent]} -->{label} {ids[child]}")
    if statuses is not None:
        used = {statuses[s.name] for s in pipeline.steps if s.name in statuses}
        for status in sorted(used):
            lines.append(f"    classDef {status} fill:{COLOURS.get(status, '#ffffff')}")
        for step in pipeline.steps:
            if step.name in statuses:
                lines.append(f"    class {ids[step.name]} {statuses[step.name]}")
    return "\n".join(lines) + "\n"


def dot(pipeline: Pipeline, statuses: Mapping[str, str] | None = None) -> str:
    """The graph in Graphviz DOT; with `statuses`, each step's node filled with its
    status's colour, the status under its name."""

    def quote(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)

    lines = [
        f"digraph {quote(pipeline.name)} {{",
        "    rankdir=TB;",
        "    node [shape=box, style=rounded];",
    ]
    for step in pipeline.steps:
        shape = ", shape=box3d" if step.kind == "task" else ""
        label = step.name
        if statuses is not None and step.name in statuses:
            status = statuses[step.name]
            label = f"{step.name}\n{status}"
            shape += f', style="rounded,filled", fillcolor="{COLOURS.get(status, "#ffffff")}"'
        lines.append(f"    {quote(step.name)} [label={quote(label)}{shape}];")
    names = {s.name for s in pipeline.steps}
    for (parent, child), outputs in _edge_labels(pipeline).items():
        if parent in names:
            label = f" [label={quote(', '.join(outputs))}]" if outputs else ""
            lines.append(f"    {quote(parent)} -> {quote(child)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
