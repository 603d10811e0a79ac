"""ClearML's `${...}` reference strings, as typed IR values and back.

ClearML resolves strings such as `'${step_one.artifacts.data.url}'` in
`parameter_override` and `function_kwargs` only when a step starts. Parsing them
up front lets every target see the data flow (and the parents it implies) and
lets the user hear about a typo before anything runs.

Grammar (names are non-empty and contain no `{`, `}` or `$`; step names no `.`):

    ${pipeline.id}                      PipelineIdRef
    ${pipeline.NAME}                    ParamRef(NAME)
    ${pipeline.parameters.NAME}         ParamRef(NAME)
    ${STEP.id}                          StepIdRef
    ${STEP.artifacts.NAME[.url]}        ArtifactRef (only a trailing `.url` is the attr)
    ${STEP.parameters.SECTION/NAME}     StepParamRef (the whole remainder)
    ${STEP.models.DIRECTION.INDEX.ATTR} ModelRef (DIRECTION input|output; INDEX int or name)
    ${STEP.NAME}                        OutputRef (a function step's return value)

A pipeline parameter named `id`, or starting with `parameters.`, has no reference
form: the grammar reads those as the other kinds.

Internal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipec.ir import (
    STEP_REFS,
    ArtifactRef,
    LiteralValue,
    ModelRef,
    OutputRef,
    ParamRef,
    PipelineIdRef,
    StepIdRef,
    StepParamRef,
    Template,
    Value,
    iter_refs,
)

Ref = ParamRef | PipelineIdRef | OutputRef | StepIdRef | ArtifactRef | StepParamRef | ModelRef

# `close` is empty when the string ends before a `}`: an unclosed reference.
_REF = re.compile(r"\$\{(?P<body>[^}]*)(?P<close>\}?)")
_INDEX = re.compile(r"-?[0-9]+")
_EXPECTED = (
    "expected pipeline.NAME, pipeline.id, STEP.id, STEP.artifacts.NAME[.url], "
    "STEP.parameters.NAME, STEP.models.input|output.INDEX.ATTR or STEP.OUTPUT"
)


class RefSyntaxError(ValueError):
    """A malformed `${...}` reference; the message quotes it."""


def parse_string(text: str) -> Value:
    """A literal, a single reference, or a Template mixing text and references."""
    if "${" not in text:
        return LiteralValue(value=text)
    parts: list[str | Value] = []
    pos = 0
    for match in _REF.finditer(text):
        if not match["close"]:
            raise RefSyntaxError(f"unclosed reference {text[match.start() :]!r}: missing '}}'")
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(_parse_ref(match["body"]))
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    if len(parts) == 1:
        return parts[0]  # the one reference (text has `${`)
    return Template(parts=parts)


def _parse_ref(body: str) -> Ref:
    """One reference; grammar errors get the reference text prepended."""
    try:
        return _parse_body(body)
    except RefSyntaxError as error:
        raise RefSyntaxError(f"invalid reference '${{{body}}}': {error}") from None


def _parse_body(body: str) -> Ref:
    if not body:
        raise RefSyntaxError("empty reference")
    if "$" in body or "{" in body:
        raise RefSyntaxError("names cannot contain '$' or '{' (is a '}' missing?)")
    step, _, attr = body.partition(".")
    if not step:
        raise RefSyntaxError("missing step name before '.'")
    if not attr:
        raise RefSyntaxError(f"missing attribute after {step!r}; {_EXPECTED}")
    if step == "pipeline":
        return _pipeline_ref(attr)
    kind, _, rest = attr.partition(".")
    if kind == "id" and not rest:
        return StepIdRef(step=step)
    if kind == "artifacts":
        return _artifact_ref(step, rest)
    if kind == "parameters":
        return StepParamRef(step=step, name=_name(rest, "parameter"))
    if kind == "models":
        return _model_ref(step, rest)
    if "." not in attr:
        return OutputRef(step=step, name=attr)
    raise RefSyntaxError(f"unknown attribute {attr!r}; {_EXPECTED}")


def _pipeline_ref(attr: str) -> ParamRef | PipelineIdRef:
    if attr == "id":
        return PipelineIdRef()
    kind, _, rest = attr.partition(".")
    if kind == "parameters":
        return ParamRef(name=_name(rest, "parameter"))
    return ParamRef(name=attr)


def _artifact_ref(step: str, rest: str) -> ArtifactRef:
    name = rest.removesuffix(".url")
    if name and name != rest:
        return ArtifactRef(step=step, name=name, attr="url")
    return ArtifactRef(step=step, name=_name(rest, "artifact"))


def _model_ref(step: str, rest: str) -> ModelRef:
    direction, _, rest = rest.partition(".")
    if direction not in ("input", "output"):
        raise RefSyntaxError(f"model direction must be 'input' or 'output', not {direction!r}")
    index, _, attr = rest.rpartition(".")
    if not index or not attr:
        raise RefSyntaxError(
            f"expected models.{direction}.INDEX.ATTR, e.g. models.{direction}.-1.url"
        )
    return ModelRef(
        step=step,
        direction=direction,
        index=int(index) if _INDEX.fullmatch(index) else index,
        attr=attr,
    )


def _name(text: str, what: str) -> str:
    if not text:
        raise RefSyntaxError(f"missing {what} name")
    return text


def render(value: Value) -> str:
    """The ClearML string for a value; ValueError if it would not read back the same.

    ClearML has no escape for `${`, so literal text containing it cannot be
    written, and neither can names the grammar reads differently (ParamRef 'id').
    """
    text = _text(value)
    try:
        back = iter_refs(parse_string(text))
    except RefSyntaxError:
        back = None
    if back != iter_refs(value):
        if not iter_refs(value):
            raise ValueError(f"literal {text!r} contains '${{' and ClearML has no escape for it")
        raise ValueError(f"{value!r} has no ClearML form: {text!r} would read back differently")
    return text


def _text(value: Value) -> str:
    match value:
        case LiteralValue(value=str() as text):
            return text
        case Template(parts=parts):
            return "".join(part if isinstance(part, str) else _text(part) for part in parts)
        case PipelineIdRef():
            return "${pipeline.id}"
        case ParamRef(name=name):
            return f"${{pipeline.{name}}}"
        case StepIdRef(step=step):
            return f"${{{step}.id}}"
        case ArtifactRef(step=step, name=name, attr=attr):
            return f"${{{step}.artifacts.{name}{'' if attr is None else '.' + attr}}}"
        case StepParamRef(step=step, name=name):
            return f"${{{step}.parameters.{name}}}"
        case ModelRef(step=step, direction=direction, index=index, attr=attr):
            return f"${{{step}.models.{direction}.{index}.{attr}}}"
        case OutputRef(step=step, name=name):
            return f"${{{step}.{name}}}"
    raise ValueError(f"a {value.kind!r} value has no ClearML string form")


def step_dependencies(value: Value) -> list[str]:
    """Steps a value reads from, in order: ClearML makes them parents of its step."""
    return list(dict.fromkeys(r.step for r in iter_refs(value) if isinstance(r, STEP_REFS)))


def parents_of(inputs: Mapping[str, Value], explicit: Iterable[str] = ()) -> list[str]:
    """Explicit parents first, then every step an input refers to (as ClearML adds them)."""
    found = list(explicit)
    for value in inputs.values():
        found.extend(step_dependencies(value))
    return list(dict.fromkeys(found))
