"""PipelineController scripts captured into the IR (in process, from the repo root)."""

from __future__ import annotations

import base64
from pathlib import Path

import cloudpickle
import pytest
from conftest import EXAMPLES, PIPELINES, line_of, rel
from pipec.capture.session import load_pipeline
from pipec.ir import (
    ArtifactRef,
    CallableSpec,
    Expr,
    LiteralValue,
    MetricSelector,
    OutputRef,
    ParamRef,
    Pipeline,
    RenamePair,
    SourceLocation,
    StepIdRef,
)
from pipec.templates import template_id
from pipec.validate import validate

IRIS_FUNCTIONS = EXAMPLES / "iris_functions.py"
IRIS_TASKS = EXAMPLES / "iris_tasks"
ALL_OPTIONS = PIPELINES / "controller" / "all_options.py"
OPTIONS_TASK = PIPELINES / "controller" / "options_task.py"


def where(path: Path, needle: str) -> SourceLocation:
    return SourceLocation(file=rel(path), line=line_of(path, needle))


def unpickle(spec: CallableSpec) -> object:
    return cloudpickle.loads(base64.b64decode(spec.pickled))


# ---------------------------------------------------------------- examples/iris_functions.py


@pytest.fixture
def iris_functions(in_repo_root: Path) -> Pipeline:
    return load_pipeline(rel(IRIS_FUNCTIONS))


def test_iris_functions_pipeline(iris_functions: Pipeline) -> None:
    p = iris_functions
    assert (p.name, p.project, p.version, p.style) == (
        "iris functions",
        "examples",
        "1.0.0",
        "controller",
    )
    assert p.source == where(IRIS_FUNCTIONS, "pipe = PipelineController(")
    assert [s.name for s in p.steps] == ["step_one", "step_two", "step_three", "step_four"]
    assert {s.kind for s in p.steps} == {"function"}
    assert [s.outputs for s in p.steps] == [
        ["data_frame"],
        ["processed_data"],
        ["model"],
        ["accuracy"],
    ]
    assert validate(p) == []


def test_iris_functions_parameter(iris_functions: Pipeline) -> None:
    (url,) = iris_functions.parameters
    assert url.name == "url"
    assert url.type == "str"
    assert url.description == "location of the iris CSV file"
    assert url.default == LiteralValue(value=str(EXAMPLES / "data" / "iris.csv"))
    assert not url.required


def test_iris_functions_references_and_edges(iris_functions: Pipeline) -> None:
    p = iris_functions
    assert p.step("step_one").inputs == {"pickle_data_url": ParamRef(name="url")}
    assert p.step("step_two").inputs["data_frame"] == OutputRef(step="step_one", name="data_frame")
    assert p.step("step_four").inputs == {
        "model": OutputRef(step="step_three", name="model"),
        "data": OutputRef(step="step_two", name="processed_data"),
    }
    # no parents=[...] in the script: every one comes from a reference
    assert [s.parents for s in p.steps] == [
        [],
        ["step_one"],
        ["step_two"],
        ["step_three", "step_two"],
    ]
    assert p.edges() == [
        ("step_one", "step_two"),
        ("step_two", "step_three"),
        ("step_three", "step_four"),
        ("step_two", "step_four"),
    ]


def test_iris_functions_defaults_merged_into_inputs(iris_functions: Pipeline) -> None:
    step_two = iris_functions.step("step_two")
    assert step_two.inputs == {
        "test_size": LiteralValue(value=0.2),
        "random_state": LiteralValue(value=42),
        "data_frame": OutputRef(step="step_one", name="data_frame"),
    }


def test_iris_functions_code_and_locations(iris_functions: Pipeline) -> None:
    lines = IRIS_FUNCTIONS.read_text().splitlines()
    for step in iris_functions.steps:
        assert step.code.kind == "function"
        assert step.code.entrypoint == step.name
        assert step.code.source.startswith(f"def {step.name}(")
        assert step.code.path == rel(IRIS_FUNCTIONS)
        assert step.definition == where(IRIS_FUNCTIONS, f"def {step.name}(")
        # the add_function_step( line, just above name="..."
        call_line = line_of(IRIS_FUNCTIONS, f'name="{step.name}"') - 1
        assert "pipe.add_function_step(" in lines[call_line - 1]
        assert step.location == SourceLocation(file=rel(IRIS_FUNCTIONS), line=call_line)
    # the imports inside the body travel with the code
    assert "import pandas as pd" in iris_functions.step("step_one").code.source


def test_iris_functions_policies(iris_functions: Pipeline) -> None:
    p = iris_functions
    assert [s.policies.cache for s in p.steps] == [True, True, True, False]
    assert p.step("step_four").policies.monitor_metrics == [
        MetricSelector(
            title="score", series="accuracy", target_title="score", target_series="accuracy"
        )
    ]
    # start_locally(run_pipeline_steps_locally=True): no controller queue
    assert p.policies.pipeline_execution_queue is None
    assert p.policies.options["run_pipeline_steps_locally"] is True


# ---------------------------------------------------------------- examples/iris_tasks


@pytest.fixture
def iris_tasks(in_repo_root: Path) -> Pipeline:
    return load_pipeline(rel(IRIS_TASKS / "pipeline_from_tasks.py"))


def test_pipeline_from_tasks_steps_carry_their_scripts(iris_tasks: Pipeline) -> None:
    scripts = {
        "stage_data": ("step1_dataset_artifact.py", "pipeline step 1 dataset artifact"),
        "stage_process": ("step2_data_processing.py", "pipeline step 2 process dataset"),
        "stage_train": ("step3_train_model.py", "pipeline step 3 train model"),
    }
    assert [s.name for s in iris_tasks.steps] == list(scripts)
    for step in iris_tasks.steps:
        file_name, task_name = scripts[step.name]
        script = IRIS_TASKS / file_name
        assert step.kind == "task"
        assert step.code.kind == "script"
        assert step.code.source == script.read_text()
        assert step.code.path == rel(script)
        assert step.outputs == []
        assert step.definition == where(script, "Task.init(")
        assert step.template is not None
        assert (step.template.project, step.template.name) == ("examples", task_name)
        assert step.template.template_id == template_id("examples", task_name)
        assert step.template.clone_base_task is True
    assert iris_tasks.policies.default_queue == "default"
    assert validate(iris_tasks) == []


def test_pipeline_from_tasks_references(iris_tasks: Pipeline) -> None:
    process = iris_tasks.step("stage_process")
    assert process.inputs == {
        "General/dataset_url": ArtifactRef(step="stage_data", name="dataset", attr="url"),
        "General/test_size": LiteralValue(value=0.25),
    }
    train = iris_tasks.step("stage_train")
    assert train.inputs == {"General/dataset_task_id": StepIdRef(step="stage_process")}
    assert iris_tasks.edges() == [("stage_data", "stage_process"), ("stage_process", "stage_train")]


# ---------------------------------------------------------------- every option


@pytest.fixture
def options(in_repo_root: Path) -> Pipeline:
    return load_pipeline(rel(ALL_OPTIONS))


def test_all_options_pipeline_is_valid_and_round_trips(options: Pipeline) -> None:
    assert [s.name for s in options.steps] == [
        "prepare",
        "train",
        "ingest",
        "ingest_plain",
        "from_factory",
    ]
    assert validate(options) == []
    assert Pipeline.model_validate_json(options.model_dump_json()) == options


def test_parameter_types(options: Pipeline) -> None:
    params = {p.name: p for p in options.parameters}
    assert {name: p.type for name, p in params.items()} == {
        "rows": "int",
        "ratio": "float",
        "image": "docker-image",
        "flags": "list",
        "verbose": "bool",
    }
    assert params["rows"].default == LiteralValue(value=100)
    assert params["rows"].description == "how many rows"
    assert params["flags"].default == LiteralValue(value=["fast"])


def test_function_step_options(options: Pipeline) -> None:
    step = options.step("prepare")
    p = step.policies
    assert step.location == where(ALL_OPTIONS, "# step: prepare #")
    assert step.inputs == {
        "ratio": LiteralValue(value=0.5),
        "seed": LiteralValue(value=7),
        "rows": ParamRef(name="rows"),
    }
    assert step.outputs == ["data", "ratio"]
    assert [h.name for h in step.code.helpers] == ["scale"]
    assert step.code.helpers[0].location == where(ALL_OPTIONS, "def scale(")
    assert p.cache is True
    assert p.retry_on_failure == 3
    assert p.time_limit == 600.0
    assert p.execution_queue == "cpu"
    assert p.task_type == "data_processing"
    assert p.packages == ["numpy>=1.24", "pandas"]
    assert p.docker.model_dump() == {
        "image": "python:3.11",
        "args": "--shm-size=1g",
        "bash_setup_script": "apt-get update && apt-get install -y git",
    }
    assert p.repo.model_dump() == {
        "url": "https://github.com/example/steps.git",
        "branch": "develop",
        "commit": "0123abcd",
    }
    assert p.monitor_metrics == [
        MetricSelector(title="loss", series="train", target_title="loss", target_series="train"),
        MetricSelector(
            title="score", series="acc", target_title="summary", target_series="accuracy"
        ),
    ]
    assert p.monitor_artifacts == [
        RenamePair(source="data", target="data"),
        RenamePair(source="raw", target="raw_copy"),
    ]
    assert p.monitor_models == [
        RenamePair(source="model", target="model"),
        RenamePair(source="best", target="best_model"),
    ]
    # keys left out of continue_behaviour default to True, as in ClearML
    assert p.continue_behaviour == {
        "continue_on_fail": False,
        "continue_on_abort": True,
        "skip_children_on_fail": False,
        "skip_children_on_abort": True,
    }
    assert p.tags == ["nightly", "iris"]
    assert p.stage == "prep"
    assert (p.output_uri, p.draft, p.working_dir) == ("s3://bucket/steps", True, "src")
    assert p.options == {
        "project_name": "pipec tests/steps",
        "task_name": "prepare data",
        "auto_connect_frameworks": {"pytorch": False},
        "auto_connect_arg_parser": {"verbose": False},
    }


@pytest.mark.parametrize(
    ("option", "function"),
    [
        ("pre_execute_callback", "before_step"),
        ("post_execute_callback", "after_step"),
        ("status_change_callback", "on_status"),
    ],
)
def test_callbacks_are_callable_specs(options: Pipeline, option: str, function: str) -> None:
    for step_name in ("prepare", "ingest"):
        spec = getattr(options.step(step_name).policies, option)
        assert isinstance(spec, CallableSpec)
        assert spec.qualname == function
        assert spec.location == where(ALL_OPTIONS, f"def {function}(")
        assert spec.source is not None and spec.source.startswith(f"def {function}(")
        assert callable(unpickle(spec))


def test_retry_callable_and_lambda_callback(options: Pipeline) -> None:
    p = options.step("train").policies
    assert isinstance(p.retry_on_failure, CallableSpec)
    assert p.retry_on_failure.qualname == "retry_twice"
    assert p.retry_on_failure.location == where(ALL_OPTIONS, "def retry_twice(")
    retry = unpickle(p.retry_on_failure)
    assert retry(None, None, 1) is True  # type: ignore[operator]
    assert retry(None, None, 2) is False  # type: ignore[operator]
    assert isinstance(p.post_execute_callback, CallableSpec)
    assert p.post_execute_callback.qualname == "<lambda>"
    assert p.post_execute_callback.location == where(ALL_OPTIONS, "lambda pipeline, node")
    # string forms of tags and packages
    assert p.tags == ["single"]
    assert p.packages == "requirements.txt"
    assert p.cache is False
    assert p.continue_behaviour is None


def test_loop_options(options: Pipeline) -> None:
    loop = options.step("train").policies.loop
    assert loop is not None
    assert loop.body == ["train"]
    assert loop.max_iterations == 5
    assert loop.condition.qualname == "keep_training"
    assert loop.condition.location == where(ALL_OPTIONS, "def keep_training(")


def test_add_step_options(options: Pipeline) -> None:
    step = options.step("ingest")
    p = step.policies
    assert step.kind == "task"
    assert step.location == where(ALL_OPTIONS, "# step: ingest #")
    assert step.code.kind == "script"
    assert step.code.source == OPTIONS_TASK.read_text()
    assert step.definition == where(OPTIONS_TASK, "Task.init(")
    assert p.cache is True
    assert p.continue_on_fail is True
    assert p.continue_behaviour == {
        "continue_on_fail": True,
        "continue_on_abort": True,
        "skip_children_on_fail": True,
        "skip_children_on_abort": False,
    }
    assert p.execution_queue == "gpu"
    assert p.time_limit == 60
    assert p.monitor_metrics == [
        MetricSelector(title="loss", series="val", target_title="loss", target_series="val")
    ]
    assert p.monitor_artifacts == [RenamePair(source="dataset", target="ingested")]
    assert p.monitor_models == [RenamePair(source="model", target="model")]
    assert isinstance(p.retry_on_failure, CallableSpec)
    assert p.retry_on_failure.qualname == "retry_twice"
    assert p.output_uri is True
    assert p.stage == "ingest"
    assert p.options == {"recursively_parse_parameters": True}
    template = step.template
    assert template is not None
    assert (template.project, template.name) == ("pipec tests", "options template")
    assert template.template_id == template_id("pipec tests", "options template")
    assert template.clone_base_task is False
    assert template.task_overrides == {"container.image": ParamRef(name="image")}
    assert template.configuration_overrides == {
        "model_config": ArtifactRef(step="train", name="config", attr="url")
    }


def test_recursively_parsed_references_make_parents(options: Pipeline) -> None:
    step = options.step("ingest")
    assert step.inputs == {
        "General/rows": ParamRef(name="rows"),
        "General/sources": Expr(
            op="list", args=[StepIdRef(step="prepare"), LiteralValue(value="static.csv")]
        ),
        "General/mapping": Expr(
            op="dict",
            args=[
                LiteralValue(value="train"),
                ArtifactRef(step="prepare", name="data", attr="url"),
            ],
        ),
    }
    # no parents=[...]: prepare from the nested references, train from configuration_overrides
    assert step.parents == ["prepare", "train"]


def test_without_recursive_parsing_nested_strings_stay_literal(options: Pipeline) -> None:
    step = options.step("ingest_plain")
    assert step.inputs == {"General/sources": LiteralValue(value=["${prepare.id}"])}
    assert step.parents == ["ingest"]
    # found by base_task_id
    assert step.template is not None
    assert step.template.template_id == template_id("pipec tests", "options template")
    assert step.code.source == OPTIONS_TASK.read_text()


def test_task_factory_step(options: Pipeline) -> None:
    step = options.step("from_factory")
    assert step.template is not None and step.template.factory is not None
    assert step.template.factory.qualname == "make_task"
    assert step.template.factory.location == where(ALL_OPTIONS, "def make_task(")
    assert step.definition == step.template.factory.location
    assert step.code.kind == "script"
    assert step.parents == ["ingest_plain"]
    assert step.policies.retry_on_failure == 1


def test_pipeline_level_options(options: Pipeline) -> None:
    p = options.policies
    assert options.source == where(ALL_OPTIONS, "pipe = PipelineController(")
    assert p.default_queue == "default"
    assert p.pipeline_execution_queue == "controllers"
    assert (p.abort_on_failure, p.add_pipeline_tags) == (True, True)
    assert p.target_project == "pipec tests/runs"
    assert p.pool_frequency == 0.5
    assert p.retry_on_failure == 2
    assert p.docker.image == "python:3.11-slim"
    assert p.repo.url == "https://github.com/example/pipelines.git"
    assert p.repo.branch == "main"
    assert p.packages == ["pandas>=2.0"]
    assert p.output_uri == "s3://bucket/pipelines"
    created = CallableSpec.model_validate(p.options["step_task_created_callback"])
    completed = CallableSpec.model_validate(p.options["step_task_completed_callback"])
    assert (created.qualname, completed.qualname) == ("before_step", "after_step")
    assert created.location == where(ALL_OPTIONS, "def before_step(")


# ---------------------------------------------------------------- picking a pipeline


@pytest.mark.parametrize("name", ["pipe", "iris functions"])
def test_pick_by_variable_or_pipeline_name(in_repo_root: Path, name: str) -> None:
    assert load_pipeline(f"{rel(IRIS_FUNCTIONS)}:{name}").name == "iris functions"


def test_controllers_never_started_are_found(in_repo_root: Path, tmp_path: Path) -> None:
    script = tmp_path / "two_controllers.py"
    script.write_text(
        "from pipec import PipelineController\n"
        "\n"
        "\n"
        "def step(x=1):\n"
        "    return x\n"
        "\n"
        "\n"
        "first = PipelineController(name='first', project='p')\n"
        "first.add_function_step(name='a', function=step)\n"
        "second = PipelineController(name='second', project='p')\n"
        "second.add_function_step(name='b', function=step)\n"
    )
    assert [s.name for s in load_pipeline(f"{script}:first").steps] == ["a"]
    assert [s.name for s in load_pipeline(f"{script}:second").steps] == ["b"]
    assert load_pipeline(f"{script}:second").policies.pipeline_execution_queue == "services"
