"""The IR as JSON: exact round trips for captured examples and random IR, and its schema."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pipec.capture.session import load_pipeline
from pipec.ir import (
    IR_VERSION,
    ArtifactRef,
    CallableSpec,
    ControllerCode,
    DockerSpec,
    Expr,
    Helper,
    LiteralValue,
    LoopSpec,
    MetricSelector,
    ModelRef,
    OutputRef,
    Parameter,
    ParamRef,
    PickledValue,
    Pipeline,
    PipelineIdRef,
    PipelinePolicies,
    RenamePair,
    RepoSpec,
    SourceLocation,
    Step,
    StepCode,
    StepIdRef,
    StepParamRef,
    StepPolicies,
    TaskTemplateSpec,
    Template,
    Value,
    json_schema,
)
from pydantic import TypeAdapter

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
EXAMPLE_FILES = [
    "iris_pipeline.py",
    "iris_functions.py",
    "iris_tasks/pipeline_from_tasks.py",
    "decorated_step.py",
]

VALUE = TypeAdapter(Value)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pipeline]:
    with pytest.MonkeyPatch.context() as patch:  # no task templates registered by hand
        patch.setenv("PIPEC_HOME", str(tmp_path_factory.mktemp("pipec_home")))
        return {name: load_pipeline(str(EXAMPLES / name)) for name in EXAMPLE_FILES}


def assert_exact_round_trip(pipeline: Pipeline) -> None:
    dumped = pipeline.model_dump_json()
    again = Pipeline.model_validate_json(dumped)
    assert again == pipeline
    assert again.model_dump_json() == dumped
    assert Pipeline.model_validate_json(again.model_dump_json()).model_dump_json() == dumped


# ---------------------------------------------------------------- captured examples


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_round_trip(examples: dict[str, Pipeline], name: str) -> None:
    pipeline = examples[name]
    assert pipeline.steps, "an example without steps would make this test vacuous"
    assert_exact_round_trip(pipeline)
    # python-mode dumps round trip too (what in-process tools hand each other)
    assert Pipeline.model_validate(pipeline.model_dump()) == pipeline


def test_examples_cover_both_styles_and_all_step_kinds(examples: dict[str, Pipeline]) -> None:
    assert {p.style for p in examples.values()} == {"decorator", "controller"}
    assert {s.kind for p in examples.values() for s in p.steps} == {
        "component",
        "function",
        "task",
    }
    kinds = {
        type(v).__name__ for p in examples.values() for s in p.steps for v in s.inputs.values()
    }
    assert {"ParamRef", "OutputRef", "LiteralValue"} <= kinds


def test_round_trip_notices_a_change(examples: dict[str, Pipeline]) -> None:
    pipeline = examples["iris_pipeline.py"]
    data = json.loads(pipeline.model_dump_json())
    data["steps"][1]["inputs"]["random_state"]["value"] = 43
    assert Pipeline.model_validate(data) != pipeline
    data["steps"][1]["inputs"]["random_state"] = {"kind": "literal", "value": 42, "x": 1}
    with pytest.raises(ValueError, match="extra"):
        Pipeline.model_validate(data)


def test_ir_version_is_fixed(examples: dict[str, Pipeline]) -> None:
    data = json.loads(examples["decorated_step.py"].model_dump_json())
    assert data["ir_version"] == IR_VERSION == "1"
    data["ir_version"] = "2"
    with pytest.raises(ValueError, match="ir_version"):
        Pipeline.model_validate(data)


# ---------------------------------------------------------------- random IR

names = st.text(min_size=1, max_size=8)
texts = st.text(max_size=12)
locations = st.builds(SourceLocation, file=texts, line=st.integers(min_value=1, max_value=10**6))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

leaf_values = st.one_of(
    st.builds(LiteralValue, value=json_values),
    st.builds(
        PickledValue,
        data=st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
        type_name=names,
    ),
    st.builds(ParamRef, name=names),
    st.just(PipelineIdRef()),
    st.builds(OutputRef, step=names, name=names),
    st.builds(StepIdRef, step=names),
    st.builds(ArtifactRef, step=names, name=names, attr=st.none() | st.just("url") | names),
    st.builds(StepParamRef, step=names, name=names),
    st.builds(
        ModelRef,
        step=names,
        direction=st.sampled_from(["input", "output"]),
        index=st.integers(min_value=-5, max_value=5) | names,
        attr=names,
    ),
)

values: st.SearchStrategy[Any] = st.recursive(
    leaf_values,
    lambda inner: (
        st.builds(
            Expr,
            op=st.sampled_from(["mul", "add", "getattr", "getitem", "call", "format", "tuple"])
            | names,
            args=st.lists(inner, max_size=3),
            kwargs=st.dictionaries(names, inner, max_size=2),
        )
        | st.builds(Template, parts=st.lists(texts | inner, max_size=4))
    ),
    max_leaves=10,
)

callables = st.builds(
    CallableSpec,
    qualname=names,
    location=st.none() | locations,
    source=st.none() | texts,
    pickled=texts,
)

helpers = st.builds(Helper, name=names, source=texts, location=st.none() | locations)

step_codes = st.builds(
    StepCode,
    kind=st.sampled_from(["function", "script", "importable"]),
    source=texts,
    entrypoint=names,
    helpers=st.lists(helpers, max_size=2),
    decorators=st.lists(texts, max_size=2),
    path=st.none() | texts,
    hash=st.text("0123456789abcdef", min_size=64, max_size=64),
)

step_policies = st.builds(
    StepPolicies,
    cache=st.booleans(),
    continue_on_fail=st.booleans(),
    continue_behaviour=st.none()
    | st.dictionaries(
        st.sampled_from(
            [
                "continue_on_fail",
                "continue_on_abort",
                "skip_children_on_fail",
                "skip_children_on_abort",
            ]
        ),
        st.booleans(),
    ),
    retry_on_failure=st.none() | st.integers(min_value=0, max_value=5) | callables,
    time_limit=st.none() | st.floats(min_value=0, max_value=1e6),
    execution_queue=st.none() | names,
    task_type=st.none() | st.sampled_from(["training", "qc"]),
    packages=st.none() | st.booleans() | texts | st.lists(names, max_size=3),
    docker=st.builds(DockerSpec, image=st.none() | names, args=st.none() | texts),
    repo=st.builds(RepoSpec, url=st.none() | names, branch=st.none() | names),
    monitor_metrics=st.lists(
        st.builds(
            MetricSelector, title=names, series=names, target_title=names, target_series=names
        ),
        max_size=2,
    ),
    monitor_artifacts=st.lists(st.builds(RenamePair, source=names, target=names), max_size=2),
    pre_execute_callback=st.none() | callables,
    tags=st.lists(names, max_size=3),
    output_uri=st.none() | st.booleans() | names,
    draft=st.none() | st.booleans(),
    loop=st.none()
    | st.builds(
        LoopSpec,
        condition=callables,
        body=st.lists(names, max_size=2),
        max_iterations=st.integers(min_value=1, max_value=100),
    ),
    options=st.dictionaries(names, json_values, max_size=3),
)

templates = st.builds(
    TaskTemplateSpec,
    project=st.none() | names,
    name=st.none() | names,
    template_id=st.none() | names,
    factory=st.none() | callables,
    clone_base_task=st.booleans(),
    task_overrides=st.dictionaries(names, values, max_size=2),
    configuration_overrides=st.dictionaries(names, values, max_size=2),
)

steps = st.builds(
    Step,
    name=names,
    kind=st.sampled_from(["component", "function", "task"]),
    code=step_codes,
    inputs=st.dictionaries(names, values, max_size=4),
    outputs=st.lists(names, max_size=3),
    parents=st.lists(names, max_size=3),
    policies=step_policies,
    template=st.none() | templates,
    location=locations,
    definition=st.none() | locations,
)

parameters = st.builds(
    Parameter,
    name=names,
    type=st.none() | st.sampled_from(["str", "int", "float", "list[int]"]),
    default=st.none() | values,
    required=st.booleans(),
    description=st.none() | texts,
)

controllers = st.builds(
    ControllerCode,
    source=texts,
    entrypoint=names,
    hash=texts,
    components=st.lists(names, max_size=3),
    return_value=st.none() | values,
)

pipeline_policies = st.builds(
    PipelinePolicies,
    default_queue=st.none() | names,
    pipeline_execution_queue=st.none() | names,
    pool_frequency=st.floats(min_value=0, max_value=60),
    retry_on_failure=st.none() | st.integers(min_value=0, max_value=5) | callables,
    packages=st.none() | st.booleans() | texts | st.lists(names, max_size=2),
    output_uri=st.none() | st.booleans() | names,
    artifact_serialization_function=st.none() | callables,
    options=st.dictionaries(names, json_values, max_size=3),
)

pipelines = st.builds(
    Pipeline,
    name=names,
    project=st.none() | names,
    version=st.none() | names,
    style=st.sampled_from(["decorator", "controller"]),
    source=locations,
    parameters=st.lists(parameters, max_size=3),
    steps=st.lists(steps, max_size=3),
    controller=st.none() | controllers,
    policies=pipeline_policies,
    pipec_version=names,
)


@settings(max_examples=150, deadline=None)
@given(values)
def test_value_json_round_trip(value: Value) -> None:
    dumped = VALUE.dump_json(value)
    again = VALUE.validate_json(dumped)
    assert type(again) is type(value)
    assert again == value
    assert VALUE.dump_json(again) == dumped


@settings(max_examples=40, deadline=None)
@given(steps)
def test_step_json_round_trip(step: Step) -> None:
    dumped = step.model_dump_json()
    again = Step.model_validate_json(dumped)
    assert again == step
    assert again.model_dump_json() == dumped


@settings(max_examples=30, deadline=None)
@given(pipelines)
def test_pipeline_json_round_trip(pipeline: Pipeline) -> None:
    assert_exact_round_trip(pipeline)


def test_value_kinds_are_told_apart_by_kind() -> None:
    # same fields, different kinds: the discriminator, not the field names, decides
    a = VALUE.validate_json('{"kind": "step_id", "step": "s"}')
    b = VALUE.validate_json('{"kind": "output", "step": "s", "name": "n"}')
    c = VALUE.validate_json('{"kind": "step_param", "step": "s", "name": "n"}')
    assert (type(a), type(b), type(c)) == (StepIdRef, OutputRef, StepParamRef)
    # a literal whose value looks like a reference stays a literal
    lit = VALUE.validate_json('{"kind": "literal", "value": {"kind": "param", "name": "x"}}')
    assert lit == LiteralValue(value={"kind": "param", "name": "x"})
    # a ModelRef index keeps its type: "3" is a name, 3 a position
    named = ModelRef(step="s", direction="output", index="3", attr="url")
    assert VALUE.validate_json(VALUE.dump_json(named)) == named
    assert VALUE.validate_json(VALUE.dump_json(named.model_copy(update={"index": 3}))) != named
    with pytest.raises(ValueError):
        VALUE.validate_json('{"kind": "nope"}')


# ---------------------------------------------------------------- JSON schema

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(
    schema: dict[str, Any], data: Any, root: dict[str, Any], at: str = "$"
) -> list[str]:
    """A small JSON-schema checker for the keywords pydantic emits (no jsonschema here)."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(target, data, root, at)
    errors: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(data, _TYPES[k])
            and not (k in ("integer", "number") and isinstance(data, bool))
            for k in kinds
        )
        if not ok:
            return [f"{at}: {data!r} is not of type {kinds}"]
    if "const" in schema and data != schema["const"]:
        errors.append(f"{at}: {data!r} is not {schema['const']!r}")
    if "enum" in schema and data not in schema["enum"]:
        errors.append(f"{at}: {data!r} not in {schema['enum']}")
    if "anyOf" in schema and all(schema_errors(s, data, root, at) for s in schema["anyOf"]):
        errors.append(f"{at}: matches none of anyOf")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not schema_errors(s, data, root, at)]
        if len(matching) != 1:
            errors.append(f"{at}: matches {len(matching)} of oneOf")
    if isinstance(data, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in data:
                errors.append(f"{at}: missing {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in data.items():
            if key in props:
                errors += schema_errors(props[key], item, root, f"{at}.{key}")
            elif extra is False:
                errors.append(f"{at}: unexpected {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(extra, item, root, f"{at}.{key}")
    if isinstance(data, list) and "items" in schema:
        for i, item in enumerate(data):
            errors += schema_errors(schema["items"], item, root, f"{at}[{i}]")
    return errors


def test_schema_top_level() -> None:
    schema = json_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(Pipeline.model_fields)
    assert set(schema["required"]) == {"name", "style", "source", "pipec_version"}
    assert schema["additionalProperties"] is False
    value_kinds = {
        "LiteralValue",
        "PickledValue",
        "ParamRef",
        "PipelineIdRef",
        "OutputRef",
        "StepIdRef",
        "ArtifactRef",
        "StepParamRef",
        "ModelRef",
        "Expr",
        "Template",
    }
    assert value_kinds <= set(schema["$defs"])
    inputs = schema["$defs"]["Step"]["properties"]["inputs"]["additionalProperties"]
    assert inputs["discriminator"]["propertyName"] == "kind"
    assert {ref.rsplit("/", 1)[-1] for ref in inputs["discriminator"]["mapping"].values()} == (
        value_kinds
    )
    json.dumps(schema)  # the published schema is itself JSON


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_schema_accepts_dumped_examples(examples: dict[str, Pipeline], name: str) -> None:
    schema = json_schema()
    data = json.loads(examples[name].model_dump_json())
    assert schema_errors(schema, data, schema) == []


@settings(max_examples=15, deadline=None)
@given(pipelines)
def test_schema_accepts_random_pipelines(pipeline: Pipeline) -> None:
    schema = json_schema()
    assert schema_errors(schema, json.loads(pipeline.model_dump_json()), schema) == []


def test_schema_rejects_broken_pipelines(examples: dict[str, Pipeline]) -> None:
    schema = json_schema()
    good = json.loads(examples["iris_pipeline.py"].model_dump_json())
    broken = [
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "name"},
        {**good, "style": "yaml"},
        {**good, "steps": [{**good["steps"][0], "inputs": {"x": {"kind": "nope"}}}]},
        {**good, "steps": [{**good["steps"][0], "inputs": {"x": {"kind": "param"}}}]},
        {**good, "source": {"file": "f.py", "line": "1"}},
    ]
    for data in broken:
        assert schema_errors(schema, data, schema), data


def test_schema_with_jsonschema_if_installed(examples: dict[str, Pipeline]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for pipeline in examples.values():
        jsonschema.validate(json.loads(pipeline.model_dump_json()), json_schema())
