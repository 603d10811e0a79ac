"""The pipeline IR: plain, versioned data that every target compiles from.

Nothing here needs an engine or the user's module. A step carries its code as
source, its inputs as typed references, and every ClearML option under the name
ClearML uses, so a target can honour it or say that it cannot.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, JsonValue

IR_VERSION = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SourceLocation(_Model):
    """Where the user wrote something; every error points here."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# ---------------------------------------------------------------- values / references


def is_exact_json(value: Any) -> bool:
    """Whether `value` comes back from JSON as an equal value of the same types (a tuple
    does not: it returns as a list), so it can be a `LiteralValue` or a JSON file as is."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_exact_json(item) for item in value)
    if kind is dict:
        return all(type(k) is str and is_exact_json(v) for k, v in value.items())
    return False


class LiteralValue(_Model):
    """A JSON value passed as is (None, bool, int, float, str, lists, str-keyed dicts)."""

    kind: Literal["literal"] = "literal"
    value: JsonValue


class PickledValue(_Model):
    """A Python object that has no exact JSON form, kept as base64 cloudpickle."""

    kind: Literal["pickled"] = "pickled"
    data: str
    type_name: str


class ParamRef(_Model):
    """`${pipeline.NAME}`: the value of a pipeline parameter."""

    kind: Literal["param"] = "param"
    name: str


class PipelineIdRef(_Model):
    """`${pipeline.id}`: the id of the running pipeline."""

    kind: Literal["pipeline_id"] = "pipeline_id"


class OutputRef(_Model):
    """A step's return value: a component proxy, or `${step.NAME}` in function_kwargs."""

    kind: Literal["output"] = "output"
    step: str
    name: str


class StepIdRef(_Model):
    """`${step.id}`: the run-scoped id of a step (what `Task.get_task(task_id=...)` takes)."""

    kind: Literal["step_id"] = "step_id"
    step: str


class ArtifactRef(_Model):
    """`${step.artifacts.NAME.url}` (attr='url') or `${step.artifacts.NAME}` (attr=None)."""

    kind: Literal["artifact"] = "artifact"
    step: str
    name: str
    attr: str | None = None


class StepParamRef(_Model):
    """`${step.parameters.Section/name}`: a parameter value of another step."""

    kind: Literal["step_param"] = "step_param"
    step: str
    name: str


class ModelRef(_Model):
    """`${step.models.output.-1.url}`: a model registered by a step (index or name)."""

    kind: Literal["model"] = "model"
    step: str
    direction: Literal["input", "output"]
    index: int | str
    attr: str


class Expr(_Model):
    """A value computed from other values when they are known (deferred).

    `op` names an operation (`mul`, `getattr`, `format`, `tuple`, ...); the
    runtime evaluates it with real values, so controller arithmetic, formatting
    and containers holding step outputs survive static targets.
    """

    kind: Literal["expr"] = "expr"
    op: str
    args: list[Value] = Field(default_factory=list)
    kwargs: dict[str, Value] = Field(default_factory=dict)


class Template(_Model):
    """A string with `${...}` references inside, e.g. `'s3://b/${pipeline.run}/x'`."""

    kind: Literal["template"] = "template"
    parts: list[Union[str, Value]]  # noqa: UP007 (forward reference needs Union)


Value = Annotated[
    Union[  # noqa: UP007
        LiteralValue,
        PickledValue,
        ParamRef,
        PipelineIdRef,
        OutputRef,
        StepIdRef,
        ArtifactRef,
        StepParamRef,
        ModelRef,
        Expr,
        Template,
    ],
    Field(discriminator="kind"),
]

Expr.model_rebuild()
Template.model_rebuild()

STEP_REFS = (OutputRef, StepIdRef, ArtifactRef, StepParamRef, ModelRef)


def iter_refs(value: Value) -> list[Value]:
    """Every leaf reference inside a value (through expressions and templates)."""
    if isinstance(value, Expr):
        out: list[Value] = []
        for arg in [*value.args, *value.kwargs.values()]:
            out.extend(iter_refs(arg))
        return out
    if isinstance(value, Template):
        return [
            leaf for part in value.parts if not isinstance(part, str) for leaf in iter_refs(part)
        ]
    if isinstance(value, (LiteralValue, PickledValue)):
        return []
    return [value]


# ---------------------------------------------------------------- code


class Helper(_Model):
    """A helper function (or a decorator stacked under @component) shipped with a step."""

    name: str
    source: str
    location: SourceLocation | None = None


class StepCode(_Model):
    """How to run a step without the user's module.

    kind='function': `source` defines `entrypoint`; `imports` (module-level import
                     statements of its file that it uses) run first, guarded, then
                     `helpers` are defined.
    kind='script':   `source` is a task script run as `__main__` (pipelines from tasks).
    kind='importable': `entrypoint` is `module:qualname` of installed code.
    `hash` is the sha256 of the normalised sources (comments and layout do not count).
    """

    kind: Literal["function", "script", "importable"]
    source: str = ""
    entrypoint: str = ""
    helpers: list[Helper] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)
    """ClearML's global imports (`skip_global_imports=False`): each one statement's source;
    one that fails leaves its names raising its ImportError where the step uses them."""
    decorators: list[str] = Field(default_factory=list)
    path: str | None = None
    hash: str
    modules: dict[str, str] = Field(default_factory=dict)
    """sha256 of the source of each project-local module the step imports (directly or
    through another), found at capture time: editing one changes the step's cache key."""


class CallableSpec(_Model):
    """A user callable (callback, retry predicate, task factory) carried by value."""

    qualname: str
    location: SourceLocation | None = None
    source: str | None = None
    pickled: str


# ---------------------------------------------------------------- policies

ContinueKey = Literal[
    "continue_on_fail", "continue_on_abort", "skip_children_on_fail", "skip_children_on_abort"
]


class MetricSelector(_Model):
    """One `monitor_metrics` entry: (title, series) -> (target title, target series)."""

    title: str
    series: str
    target_title: str
    target_series: str


class RenamePair(_Model):
    """One `monitor_artifacts` / `monitor_models` entry: source name -> target name."""

    source: str
    target: str


class DockerSpec(_Model):
    image: str | None = None
    args: str | None = None
    bash_setup_script: str | None = None


class RepoSpec(_Model):
    url: str | None = None
    branch: str | None = None
    commit: str | None = None


class LoopSpec(_Model):
    """`loop_condition` / `loop_body` / `max_loop_iterations`: re-run body steps while true."""

    condition: CallableSpec
    body: list[str]
    max_iterations: int = 10


class StepPolicies(_Model):
    """Per-step options, ClearML names; each target honours them or rejects them."""

    cache: bool = False
    continue_on_fail: bool = False
    continue_behaviour: dict[ContinueKey, bool] | None = None
    retry_on_failure: int | CallableSpec | None = None
    time_limit: float | None = None
    execution_queue: str | None = None
    task_type: str | None = None
    packages: list[str] | str | bool | None = None
    docker: DockerSpec = Field(default_factory=DockerSpec)
    repo: RepoSpec = Field(default_factory=RepoSpec)
    monitor_metrics: list[MetricSelector] = Field(default_factory=list)
    monitor_artifacts: list[RenamePair] = Field(default_factory=list)
    monitor_models: list[RenamePair] = Field(default_factory=list)
    pre_execute_callback: CallableSpec | None = None
    post_execute_callback: CallableSpec | None = None
    status_change_callback: CallableSpec | None = None
    tags: list[str] = Field(default_factory=list)
    output_uri: str | bool | None = None
    draft: bool | None = False
    working_dir: str | None = None
    stage: str | None = None
    loop: LoopSpec | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)
    """Remaining ClearML options without run-time meaning in pipec, kept verbatim."""


class TaskTemplateSpec(_Model):
    """Where a task step's template came from (`add_step` with base_task_*)."""

    project: str | None = None
    name: str | None = None
    template_id: str | None = None
    factory: CallableSpec | None = None
    clone_base_task: bool = True
    task_overrides: dict[str, Value] = Field(default_factory=dict)
    configuration_overrides: dict[str, Value] = Field(default_factory=dict)


StepKind = Literal["component", "function", "task"]


class Step(_Model):
    """One node of the pipeline graph."""

    name: str
    kind: StepKind
    code: StepCode
    inputs: dict[str, Value] = Field(default_factory=dict)
    """Function arguments by name, or `Section/name` parameter overrides of a task."""
    outputs: list[str] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    policies: StepPolicies = Field(default_factory=StepPolicies)
    template: TaskTemplateSpec | None = None
    location: SourceLocation
    """Where the step was added: the component call or the add_*_step call."""
    definition: SourceLocation | None = None
    """Where its code is defined (function or script)."""


class Parameter(_Model):
    """A pipeline parameter; `type` keeps the annotation so values are not stringified."""

    name: str
    type: str | None = None
    default: Value | None = None
    required: bool = False
    description: str | None = None


class ControllerCode(_Model):
    """The decorator pipeline's own logic, for targets that replay it with real values."""

    source: str
    entrypoint: str
    hash: str
    imports: list[str] = Field(default_factory=list)
    """The module-level imports the logic uses (as `StepCode.imports`), for a replay."""
    location: SourceLocation | None = None
    """Where `source` starts in the user's file: a replay's errors point at the user's lines."""
    components: list[str] = Field(default_factory=list)
    component_names: dict[str, str] = Field(default_factory=dict)
    """Each component's step name before ClearML's `_1`, `_2` (by entrypoint), for a replay."""
    nested: list[Helper] = Field(default_factory=list)
    """Decorator pipelines the logic calls (nested pipelines), as plain functions: their
    component calls are steps of this pipeline, named `<function>.<component>`."""
    return_value: Value | None = None
    """The returned value as an expression of step outputs, when the trace could tell."""
    decisions: list[SourceLocation] = Field(default_factory=list)
    """Lines where the logic branches on run-time values after its last step: only a
    replay of the logic with real values gives its prints, asserts and return value."""
    cut: SourceLocation | None = None
    """Where the trace stopped because the logic decides from a run-time value which steps
    come next (`steps` holds only those before it). Only a target that runs the logic
    itself, with the user's module importable, can run such a pipeline."""


class PipelinePolicies(_Model):
    default_queue: str | None = None
    pipeline_execution_queue: str | None = "services"
    abort_on_failure: bool = False
    add_pipeline_tags: bool = False
    target_project: str | bool | None = None
    pool_frequency: float = 0.2
    retry_on_failure: int | CallableSpec | None = None
    docker: DockerSpec = Field(default_factory=DockerSpec)
    repo: RepoSpec = Field(default_factory=RepoSpec)
    packages: list[str] | str | bool | None = None
    output_uri: str | bool | None = None
    artifact_serialization_function: CallableSpec | None = None
    artifact_deserialization_function: CallableSpec | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)


class Pipeline(_Model):
    """A whole pipeline, the unit a target compiles."""

    ir_version: Literal["1"] = IR_VERSION
    name: str
    project: str | None = None
    version: str | None = None
    style: Literal["decorator", "controller"]
    source: SourceLocation
    parameters: list[Parameter] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    controller: ControllerCode | None = None
    policies: PipelinePolicies = Field(default_factory=PipelinePolicies)
    pipec_version: str

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def edges(self) -> list[tuple[str, str]]:
        """(parent, child) pairs in step order."""
        return [(parent, step.name) for step in self.steps for parent in step.parents]

    def in_dependency_order(self) -> list[Step]:
        """The steps with every step after its parents, otherwise in the order they were
        added: ClearML lets a step name a parent added after it. (A cycle is a validation
        error; its steps are left out here.)"""
        placed: set[str] = set()
        ordered: list[Step] = []
        pending = list(self.steps)
        while pending:
            ready = [s for s in pending if all(p in placed for p in s.parents)]
            if not ready:
                break
            for step in ready:
                placed.add(step.name)
                ordered.append(step)
            pending = [s for s in pending if s.name not in placed]
        return ordered


def json_schema() -> dict[str, Any]:
    """The published JSON schema of the IR."""
    return Pipeline.model_json_schema()
