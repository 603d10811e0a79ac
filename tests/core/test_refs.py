"""ClearML `${...}` reference strings: parsing, rendering and step dependencies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipec.ir import (
    ArtifactRef,
    Expr,
    LiteralValue,
    ModelRef,
    OutputRef,
    ParamRef,
    PickledValue,
    PipelineIdRef,
    StepIdRef,
    StepParamRef,
    Template,
)
from pipec.refs import RefSyntaxError, parse_string, render, step_dependencies

# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${pipeline.id}", PipelineIdRef()),
        ("${pipeline.lr}", ParamRef(name="lr")),
        ("${pipeline.a.b}", ParamRef(name="a.b")),
        ("${pipeline.parameters.lr}", ParamRef(name="lr")),
        ("${pipeline.parameters.id}", ParamRef(name="id")),
        ("${step_one.id}", StepIdRef(step="step_one")),
        ("${s.artifacts.data.url}", ArtifactRef(step="s", name="data", attr="url")),
        ("${s.artifacts.data}", ArtifactRef(step="s", name="data")),
        ("${s.artifacts.a.b.url}", ArtifactRef(step="s", name="a.b", attr="url")),
        ("${s.artifacts.a.b}", ArtifactRef(step="s", name="a.b")),
        ("${s.artifacts.url}", ArtifactRef(step="s", name="url")),
        ("${s.artifacts.url.url}", ArtifactRef(step="s", name="url", attr="url")),
        ("${s.parameters.Args/lr}", StepParamRef(step="s", name="Args/lr")),
        ("${s.parameters.General/a.b}", StepParamRef(step="s", name="General/a.b")),
        ("${s.parameters.lr}", StepParamRef(step="s", name="lr")),
        (
            "${s.models.output.-1.url}",
            ModelRef(step="s", direction="output", index=-1, attr="url"),
        ),
        ("${s.models.input.0.id}", ModelRef(step="s", direction="input", index=0, attr="id")),
        (
            "${s.models.output.best.url}",
            ModelRef(step="s", direction="output", index="best", attr="url"),
        ),
        (
            "${s.models.output.my.model.name}",
            ModelRef(step="s", direction="output", index="my.model", attr="name"),
        ),
        (
            "${s.models.output.+1.url}",
            ModelRef(step="s", direction="output", index="+1", attr="url"),
        ),
        ("${step_one.data_frame}", OutputRef(step="step_one", name="data_frame")),
        ("${s.identity}", OutputRef(step="s", name="identity")),
    ],
)
def test_single_reference(text: str, expected: object) -> None:
    assert parse_string(text) == expected


@pytest.mark.parametrize("text", ["", "plain", "costs $5", "a } b { c", "$", "{x}", "$ {a.b}"])
def test_literal(text: str) -> None:
    assert parse_string(text) == LiteralValue(value=text)


def test_template() -> None:
    assert parse_string("s3://b/${pipeline.run}/${s.artifacts.m.url}") == Template(
        parts=[
            "s3://b/",
            ParamRef(name="run"),
            "/",
            ArtifactRef(step="s", name="m", attr="url"),
        ]
    )


def test_template_without_empty_text_parts() -> None:
    assert parse_string("${a.id}${b.out}") == Template(
        parts=[StepIdRef(step="a"), OutputRef(step="b", name="out")]
    )
    assert parse_string("${a.id}!") == Template(parts=[StepIdRef(step="a"), "!"])


def test_dollar_before_reference_is_text() -> None:
    assert parse_string("$${a.id}") == Template(parts=["$", StepIdRef(step="a")])


@pytest.mark.parametrize(
    ("text", "bad", "why"),
    [
        ("x ${a.id", "${a.id", "unclosed"),
        ("${", "${", "unclosed"),
        ("${}", "${}", "empty reference"),
        ("${step}", "${step}", "missing attribute"),
        ("${step.}", "${step.}", "missing attribute"),
        ("${.id}", "${.id}", "missing step name"),
        ("${pipeline}", "${pipeline}", "missing attribute"),
        ("${pipeline.parameters}", "${pipeline.parameters}", "missing parameter name"),
        ("${x.artifacts}", "${x.artifacts}", "missing artifact name"),
        ("${x.artifacts.}", "${x.artifacts.}", "missing artifact name"),
        ("${x.parameters}", "${x.parameters}", "missing parameter name"),
        ("${x.models}", "${x.models}", "direction"),
        ("${x.models.output}", "${x.models.output}", "INDEX.ATTR"),
        ("${x.models.output.0}", "${x.models.output.0}", "INDEX.ATTR"),
        ("${x.models.output.0.}", "${x.models.output.0.}", "INDEX.ATTR"),
        ("${x.models.output..url}", "${x.models.output..url}", "INDEX.ATTR"),
        ("${x.models.outputs.0.url}", "${x.models.outputs.0.url}", "'outputs'"),
        ("${x.id.more}", "${x.id.more}", "unknown attribute 'id.more'"),
        ("${x.execution.queue}", "${x.execution.queue}", "unknown attribute"),
        ("a ${b ${c.id} d", "${b ${c.id}", "cannot contain"),
        ("${a{b.c}", "${a{b.c}", "cannot contain"),
    ],
)
def test_malformed_reference(text: str, bad: str, why: str) -> None:
    with pytest.raises(RefSyntaxError) as info:
        parse_string(text)
    assert bad in str(info.value)
    assert why in str(info.value)


def test_syntax_error_is_a_value_error() -> None:
    assert issubclass(RefSyntaxError, ValueError)


# ---------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (LiteralValue(value="plain"), "plain"),
        (PipelineIdRef(), "${pipeline.id}"),
        (ParamRef(name="lr"), "${pipeline.lr}"),
        (StepIdRef(step="s"), "${s.id}"),
        (ArtifactRef(step="s", name="m", attr="url"), "${s.artifacts.m.url}"),
        (ArtifactRef(step="s", name="m"), "${s.artifacts.m}"),
        (StepParamRef(step="s", name="Args/x"), "${s.parameters.Args/x}"),
        (ModelRef(step="s", direction="output", index=-1, attr="url"), "${s.models.output.-1.url}"),
        (
            ModelRef(step="s", direction="input", index="best", attr="id"),
            "${s.models.input.best.id}",
        ),
        (OutputRef(step="s", name="df"), "${s.df}"),
        (Template(parts=["a/", ParamRef(name="p"), "/b"]), "a/${pipeline.p}/b"),
        (Template(parts=["$", StepIdRef(step="s")]), "$${s.id}"),
    ],
)
def test_render(value: object, text: str) -> None:
    assert render(value) == text
    assert parse_string(text) == value


@pytest.mark.parametrize(
    "value",
    [
        LiteralValue(value="a ${b.id}"),
        LiteralValue(value="${"),
        LiteralValue(value=5),
        ParamRef(name="id"),
        ParamRef(name="parameters.x"),
        ParamRef(name="a}b"),
        OutputRef(step="s", name="artifacts"),
        OutputRef(step="s", name="a.b"),
        OutputRef(step="pipeline", name="x"),
        StepIdRef(step="a.b"),
        ArtifactRef(step="s", name="m.url"),
        ArtifactRef(step="s", name="m", attr="preview"),
        ModelRef(step="s", direction="output", index="0", attr="url"),
        ModelRef(step="s", direction="output", index=0, attr="a.b"),
        Template(parts=["$", "{pipeline.x}"]),
        Template(parts=["a ${", ParamRef(name="x")]),
        Expr(op="mul", args=[ParamRef(name="x"), LiteralValue(value=2)]),
        PickledValue(data="", type_name="object"),
    ],
)
def test_render_rejects_values_without_a_string_form(value: object) -> None:
    with pytest.raises(ValueError):
        render(value)


def test_render_literal_with_reference_syntax_explains_why() -> None:
    with pytest.raises(ValueError, match="no escape"):
        render(LiteralValue(value="a ${b.id}"))


# ---------------------------------------------------------------- dependencies


def test_step_dependencies() -> None:
    value = parse_string("${b.id}/${pipeline.x}/${a.out}/${b.artifacts.m.url}/${pipeline.id}")
    assert step_dependencies(value) == ["b", "a"]


def test_step_dependencies_of_every_step_kind() -> None:
    for text in [
        "${s.id}",
        "${s.out}",
        "${s.artifacts.m}",
        "${s.parameters.Args/x}",
        "${s.models.output.-1.url}",
    ]:
        assert step_dependencies(parse_string(text)) == ["s"]


def test_step_dependencies_without_steps() -> None:
    assert step_dependencies(parse_string("plain")) == []
    assert step_dependencies(parse_string("${pipeline.x}-${pipeline.id}")) == []


def test_step_dependencies_inside_expressions() -> None:
    value = Expr(
        op="format",
        args=[LiteralValue(value="{}{}"), OutputRef(step="b", name="x")],
        kwargs={"k": parse_string("${a.id}${b.id}")},
    )
    assert step_dependencies(value) == ["b", "a"]


# ---------------------------------------------------------------- properties

_KINDS = {"id", "artifacts", "parameters", "models"}


def _chars(exclude: str) -> st.SearchStrategy[str]:
    return st.characters(exclude_characters=exclude, exclude_categories=["Cs"])


names = st.text(_chars("${}"), min_size=1, max_size=12)
"""Names of artifacts, parameters and models: anything but `$`, `{`, `}`; dots allowed."""
words = st.text(_chars("${}."), min_size=1, max_size=12)
steps = words.filter(lambda s: s != "pipeline")

references = st.one_of(
    st.just(PipelineIdRef()),
    names.filter(lambda n: n not in ("id", "parameters") and not n.startswith("parameters.")).map(
        lambda n: ParamRef(name=n)
    ),
    st.builds(StepIdRef, step=steps),
    st.builds(ArtifactRef, step=steps, name=names, attr=st.just("url")),
    st.builds(ArtifactRef, step=steps, name=names.filter(lambda n: not n.endswith(".url"))),
    st.builds(StepParamRef, step=steps, name=names),
    st.builds(
        ModelRef,
        step=steps,
        direction=st.sampled_from(["input", "output"]),
        index=st.integers() | names.filter(lambda n: not re.fullmatch(r"-?[0-9]+", n)),
        attr=words,
    ),
    st.builds(OutputRef, step=steps, name=words.filter(lambda n: n not in _KINDS)),
)
texts = names
"""Template text: no `$`, so it cannot start a reference."""


@st.composite
def templates(draw: st.DrawFn) -> Template:
    """Text and references, never two texts in a row nor empty text: what parsing yields."""
    parts: list[object] = []
    for ref in draw(st.lists(references, min_size=1, max_size=4)):
        parts += draw(st.lists(texts, max_size=1))
        parts.append(ref)
    parts += draw(st.lists(texts, min_size=1 if len(parts) == 1 else 0, max_size=1))
    return Template(parts=parts)


@given(references | templates())
def test_parse_inverts_render(value: object) -> None:
    assert parse_string(render(value)) == value


@given(st.text(_chars("$")))
def test_text_without_dollar_is_literal(text: str) -> None:
    assert parse_string(text) == LiteralValue(value=text)
    assert render(parse_string(text)) == text


@given(st.text() | st.text("${}.ab-0/", max_size=30))
def test_parse_raises_only_syntax_errors(text: str) -> None:
    try:
        value = parse_string(text)
    except RefSyntaxError:
        return
    try:
        rendered = render(value)
    except ValueError:
        return  # e.g. `${pipeline.parameters.id}`: no canonical form
    assert parse_string(rendered) == value
