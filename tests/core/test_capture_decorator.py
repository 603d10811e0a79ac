"""Capturing decorator pipelines: real ClearML-style files run through `load_pipeline`.

Fixture pipelines live in tests/core/pipelines/decorator/; the examples are the
shipped ones. Locations are compared by absolute path, because capture reports
paths relative to the working directory.
"""

from __future__ import annotations

import base64
import datetime
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipec import (
    Logger,
    PipelineController,
    PipelineDecorator,
    StorageManager,
    Task,
    TaskTypes,
)
from pipec.capture.code import code_hash, normalise
from pipec.capture.session import CHOICES, load_pipeline
from pipec.errors import CaptureError, UsageError
from pipec.ir import (
    Expr,
    LiteralValue,
    OutputRef,
    ParamRef,
    PickledValue,
    Pipeline,
    SourceLocation,
    Template,
    Value,
    iter_refs,
)
from pipec.validate import validate

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "pipelines" / "decorator"
EXAMPLES = TESTS.parent.parent / "examples"


@pytest.fixture(autouse=True)
def _restore_decorator_state() -> Iterator[None]:
    """Fixture scripts call run_locally() / set_default_execution_queue(): undo it."""
    saved = CHOICES.default_queue, CHOICES.execution_mode
    yield
    CHOICES.default_queue, CHOICES.execution_mode = saved


def capture(name: str) -> Pipeline:
    """Capture `FIXTURE[:NAME]` from the fixture folder."""
    return load_pipeline(str(FIXTURES / name))


def line_of(path: Path, text: str) -> int:
    """The line number of the only line of `path` containing `text`."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(hits) == 1, f"{text!r} found on lines {hits} of {path}"
    return hits[0]


def assert_at(location: SourceLocation | None, path: Path, line: int) -> None:
    assert location is not None
    assert os.path.abspath(location.file) == str(path), (location.file, path)
    assert location.line == line, f"{location} is not line {line}"


def lit(value: object) -> LiteralValue:
    return LiteralValue(value=value)  # type: ignore[arg-type]


def out(step: str, name: str) -> OutputRef:
    return OutputRef(step=step, name=name)


def expr(op: str, *args: Value, **kwargs: Value) -> Expr:
    return Expr(op=op, args=list(args), kwargs=kwargs)


def unpickle(value: Value) -> object:
    assert isinstance(value, PickledValue)
    return pickle.loads(base64.b64decode(value.data))


def literals_in(value: Value) -> list[object]:
    """Every literal value inside a value, through expressions and templates."""
    if isinstance(value, LiteralValue):
        return [value.value]
    if isinstance(value, Expr):
        return [x for arg in [*value.args, *value.kwargs.values()] for x in literals_in(arg)]
    if isinstance(value, Template):
        return [x for part in value.parts if not isinstance(part, str) for x in literals_in(part)]
    return []


# ---------------------------------------------------------------- 1. the iris example

IRIS = EXAMPLES / "iris_pipeline.py"


@pytest.fixture(scope="module")
def iris() -> Pipeline:
    return load_pipeline(str(IRIS))


def test_iris_steps_and_edges(iris: Pipeline) -> None:
    assert iris.name == "iris"
    assert iris.project == "examples"
    assert iris.version == "1.0.0"
    assert iris.style == "decorator"
    assert [s.name for s in iris.steps] == ["load_data", "split_data", "train_model", "score_model"]
    assert all(s.kind == "component" for s in iris.steps)
    assert iris.edges() == [
        ("load_data", "split_data"),
        ("split_data", "train_model"),
        ("train_model", "score_model"),
        ("split_data", "score_model"),
    ]
    assert iris.controller is not None
    assert iris.controller.entrypoint == "iris_pipeline"
    assert iris.controller.components == [
        "load_data",
        "split_data",
        "train_model",
        "score_model",
    ]


def test_iris_one_comma_separated_string_gives_four_outputs(iris: Pipeline) -> None:
    assert iris.step("split_data").outputs == ["X_train", "X_test", "y_train", "y_test"]
    assert iris.step("load_data").outputs == ["data_frame"]
    assert iris.step("train_model").outputs == ["model"]
    assert iris.step("score_model").outputs == ["accuracy"]


def test_iris_parameters_keep_types_and_defaults(iris: Pipeline) -> None:
    params = {p.name: p for p in iris.parameters}
    assert list(params) == ["csv_url", "test_size"]
    assert params["csv_url"].type == "str"
    assert params["csv_url"].default == lit(str(EXAMPLES / "data" / "iris.csv"))
    assert params["test_size"].type == "float"
    assert params["test_size"].default == lit(0.2)
    assert not any(p.required for p in params.values())


def test_iris_step_inputs(iris: Pipeline) -> None:
    assert iris.step("load_data").inputs == {"csv_url": ParamRef(name="csv_url")}
    assert iris.step("split_data").inputs == {
        "data_frame": out("load_data", "data_frame"),
        "test_size": ParamRef(name="test_size"),
        "random_state": lit(42),  # the component's default, filled in
    }
    assert iris.step("train_model").inputs == {
        "X_train": out("split_data", "X_train"),
        "y_train": out("split_data", "y_train"),
    }
    assert iris.step("score_model").inputs == {
        "model": out("train_model", "model"),
        "X_data": out("split_data", "X_test"),
        "Y_data": out("split_data", "y_test"),
    }


def test_iris_controller_return_value(iris: Pipeline) -> None:
    assert iris.controller is not None
    assert iris.controller.return_value == expr("mul", lit(100), out("score_model", "accuracy"))


def test_iris_locations_and_policies(iris: Pipeline) -> None:
    assert_at(iris.source, IRIS, line_of(IRIS, "@PipelineDecorator.pipeline("))
    score = iris.step("score_model")
    assert_at(score.location, IRIS, line_of(IRIS, "accuracy = 100 * score_model("))
    assert_at(score.definition, IRIS, line_of(IRIS, "def score_model("))
    assert score.policies.cache is True
    assert score.policies.task_type == "qc"
    assert iris.step("train_model").policies.task_type == "training"
    code = score.code
    assert code.kind == "function"
    assert code.entrypoint == "score_model"
    assert code.source.startswith("def score_model(model, X_data, Y_data):\n")
    assert "@PipelineDecorator" not in code.source
    assert code.helpers == []


# ---------------------------------------------------------------- 2. tracing

TRACING = FIXTURES / "tracing.py"


@pytest.fixture(scope="module")
def tracing() -> Pipeline:
    return load_pipeline(str(TRACING))


def test_tracing_step_names_follow_clearml_numbering(tracing: Pipeline) -> None:
    assert [s.name for s in tracing.steps] == [
        "load",
        "fit",
        "load_1",
        "fit_1",
        "report",
        "report_1",
        "report_2",
        "report_3",
        "report_4",
    ]
    assert_at(tracing.step("load_1").location, TRACING, line_of(TRACING, "_ = load()"))
    # both calls of one component share its code
    assert tracing.step("load").code == tracing.step("load_1").code
    assert tracing.controller is not None
    assert tracing.controller.components == ["load", "fit", "report"]


def test_tracing_call_values_become_parameter_defaults(tracing: Pipeline) -> None:
    params = {p.name: p for p in tracing.parameters}
    assert params["rows"].type == "int"
    assert params["rows"].default == lit(7)  # tracing(rows=7) in __main__
    assert params["tag"].type == "str"  # no annotation: the type of the default
    assert params["tag"].default == lit("base")


def test_tracing_positional_keyword_and_default_arguments(tracing: Pipeline) -> None:
    assert tracing.step("load").inputs == {"rows": ParamRef(name="rows"), "source": lit("disk")}
    # all defaults filled in when called without arguments
    assert tracing.step("load_1").inputs == {"rows": lit(10), "source": lit("memory")}
    fit = tracing.step("fit")
    assert fit.inputs["features"] == out("load", "features")  # unpacked, positional
    assert fit.inputs["labels"] == out("load", "labels")  # unpacked, keyword
    assert fit.inputs["alpha"] == lit(0.5)
    assert fit.inputs["options"] == lit(None)
    assert unpickle(fit.inputs["since"]) == datetime.date(2024, 1, 31)
    assert list(fit.inputs) == ["features", "labels", "alpha", "options", "since"]
    assert fit.parents == ["load"]
    assert tracing.step("load_1").parents == []


def test_tracing_literal_arguments(tracing: Pipeline) -> None:
    fit_1 = tracing.step("fit_1")
    assert fit_1.inputs["alpha"] == lit(3)
    assert fit_1.inputs["options"] == expr("tuple", lit(1), lit("two"))
    since = fit_1.inputs["since"]
    assert isinstance(since, PickledValue)
    assert since.type_name == "datetime"
    assert unpickle(since) == datetime.datetime(2024, 5, 6, 7, 8, 9)
    assert tracing.step("report_4").inputs["note"] == lit(["a", {"b": None}, 1.5, True])


def test_tracing_proxies_inside_containers(tracing: Pipeline) -> None:
    fit_1 = tracing.step("fit_1")
    assert fit_1.inputs["features"] == expr("list", out("load", "features"), lit(1))
    assert fit_1.inputs["labels"] == expr(
        "dict", lit("train"), out("load", "labels"), lit("k"), lit(2)
    )
    # the reference inside the containers is what makes `load` a parent
    assert fit_1.parents == ["load"]


def test_tracing_operators_on_proxies(tracing: Pipeline) -> None:
    model = out("fit", "model")
    report = tracing.step("report")
    assert report.inputs == {
        "value": expr("add", expr("mul", model, lit(2)), lit(1)),
        "note": expr("gt", model, lit(0.5)),
    }
    assert report.parents == ["fit"]
    assert tracing.step("report_1").inputs == {
        "value": expr("getattr", model, lit("coef_")),
        "note": expr("getitem", model, lit("alpha")),
    }
    report_2 = tracing.step("report_2")
    assert report_2.inputs == {
        "value": expr(
            "call",
            expr("getattr", model, lit("predict")),
            out("load", "features"),
            proba=lit(True),
        ),
        "note": lit("none"),
    }
    assert report_2.parents == ["fit", "load"]


def test_tracing_f_string_becomes_template(tracing: Pipeline) -> None:
    assert tracing.step("report_3").inputs["value"] == Template(
        parts=[
            "model ",
            expr("format", out("fit", "model"), lit(".3f")),
            " at ",
            expr("format", ParamRef(name="tag"), lit("")),
            "!",
        ]
    )


def test_tracing_mutation_before_passing_on(tracing: Pipeline) -> None:
    report_4 = tracing.step("report_4")
    assert report_4.inputs["value"] == expr("setitem", out("load", "labels"), lit(0), lit(1))
    assert report_4.parents == ["load"]
    # the mutation happened after `fit` took `labels`: fit still gets the plain output
    assert tracing.step("fit").inputs["labels"] == out("load", "labels")


def test_tracing_print_and_assert_after_last_step(tracing: Pipeline) -> None:
    # print(model), print(f"..."), and `assert last == "done"` after the last step
    assert tracing.controller is not None
    assert tracing.controller.return_value == out("report_4", "report")


# ---------------------------------------------------------------- 3. static-trace stops


@pytest.mark.parametrize(
    ("fixture", "decision", "call", "component", "what", "output"),
    [
        (
            "stop_truth_test.py",
            "if acc > 0.9:",
            "retrain(epochs=20)",
            "retrain",
            "truth test",
            "output 'accuracy' of step 'evaluate'",
        ),
        (
            "stop_loop.py",
            "for shard in list_shards():",
            "sizes.append(process(shard))",
            "process",
            "loop",
            "output 'shards' of step 'list_shards'",
        ),
        (
            "stop_index.py",
            "chosen = kinds[best]",
            "model = train(chosen)",
            "train",
            "use as an index",
            "output 'best' of step 'pick_best'",
        ),
    ],
)
def test_decision_then_component_call_stops_the_trace(
    fixture: str, decision: str, call: str, component: str, what: str, output: str
) -> None:
    path = FIXTURES / fixture
    with pytest.raises(CaptureError) as info:
        load_pipeline(str(path))
    err = info.value
    assert_at(err.location, path, line_of(path, decision))
    assert what in err.message
    assert output in err.message
    assert f"component {component!r}" in err.message
    assert f":{line_of(path, call)})" in err.message  # where the component was called
    assert "`pipec run --target local`" in err.message
    assert "`debug`" in err.message
    assert str(err).startswith(f"{err.location}: ")


def test_decisions_after_the_last_step_capture() -> None:
    p = capture("decisions_after_last_step.py")
    assert [s.name for s in p.steps] == ["evaluate"]
    assert p.step("evaluate").outputs == ["scores", "best"]
    assert p.controller is not None
    assert p.controller.return_value == out("evaluate", "best")


def test_decision_on_pipeline_parameter_names_the_parameter(tmp_path: Path) -> None:
    path = tmp_path / "branch_on_parameter.py"
    path.write_text(
        "from pipec import PipelineDecorator\n"
        "\n"
        "@PipelineDecorator.component(return_values=['x'])\n"
        "def step():\n"
        "    return 1\n"
        "\n"
        "@PipelineDecorator.pipeline(name='branch', project='tests')\n"
        "def branch(mode: str = 'fast'):\n"
        "    if mode == 'fast':\n"
        "        step()\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    branch()\n"
    )
    with pytest.raises(CaptureError) as info:
        load_pipeline(str(path))
    assert_at(info.value.location, path, 9)
    assert "pipeline parameter 'mode'" in info.value.message


def test_return_value_after_a_decision_is_not_guessed() -> None:
    path = FIXTURES / "return_after_decision.py"
    try:
        p = load_pipeline(str(path))
    except CaptureError as err:  # refusing is a correct answer too
        assert_at(err.location, path, line_of(path, 'return "good" if acc > 0.9'))
        return
    assert p.controller is not None
    # the trace took the `True` branch of `acc > 0.9`; the real value is unknown
    assert p.controller.return_value != lit("good")


# ---------------------------------------------------------------- 4. shipped code

DECORATED = EXAMPLES / "decorated_step.py"


def test_decorator_stacked_under_component_is_shipped() -> None:
    p = load_pipeline(str(DECORATED))
    assert p.name == "decorated step"
    step = p.step("step")
    code = step.code
    assert code.kind == "function"
    assert code.entrypoint == "step"
    assert code.source == "@our_decorator\ndef step():\n    return 1\n"
    assert code.decorators == ["our_decorator"]
    assert [h.name for h in code.helpers] == ["our_decorator"]
    helper = code.helpers[0]
    assert helper.source.startswith("def our_decorator(func):\n")
    assert "return func(*args, **kwargs) + 1" in helper.source
    assert_at(helper.location, DECORATED, line_of(DECORATED, "def our_decorator(func):"))
    assert_at(step.definition, DECORATED, line_of(DECORATED, "@our_decorator"))
    assert code.hash == code_hash("function", "step", code.source, code.helpers)
    assert code.hash != code_hash("function", "step", code.source, [])
    assert p.controller is not None
    # `assert result == 2` after the last step is a decision with nothing left to decide
    assert p.controller.return_value == out("step", "return_object")
    assert validate(p) == []


def test_helper_functions_are_shipped() -> None:
    path = FIXTURES / "helper_functions.py"
    p = capture("helper_functions.py")
    code = p.step("rank").code
    assert [h.name for h in code.helpers] == ["normalise", "largest"]
    sources = {h.name: h.source for h in code.helpers}
    assert sources["normalise"].startswith("def normalise(values):\n")
    assert sources["largest"] == (
        "def largest(values, k=1):\n    return sorted(values, reverse=True)[:k]\n"
    )
    for helper in code.helpers:
        assert_at(helper.location, path, line_of(path, f"def {helper.name}("))
    assert "unused" not in sources
    assert code.decorators == []
    assert code.source.startswith("def rank(values: list):\n")
    assert validate(p) == []


# ---------------------------------------------------------------- 5. ClearML import paths


def test_clearml_automation_import_paths() -> None:
    decorated = capture("automation_imports.py:automation paths")
    assert decorated.style == "decorator"
    assert [s.name for s in decorated.steps] == ["double"]
    assert decorated.step("double").inputs == {"x": ParamRef(name="x")}
    built = capture("automation_imports.py:automation controller")
    assert built.style == "controller"
    assert [s.name for s in built.steps] == ["triple"]
    assert built.step("triple").inputs == {"x": ParamRef(name="x")}
    assert built.step("triple").outputs == ["tripled"]
    assert validate(decorated) == [] and validate(built) == []


def test_top_level_imports_match_clearml() -> None:
    import pipec.automation as automation
    import pipec.automation.controller as controller

    assert automation.PipelineDecorator is controller.PipelineDecorator is PipelineDecorator
    assert automation.PipelineController is controller.PipelineController is PipelineController
    assert TaskTypes.training == "training"
    assert TaskTypes.data_processing == "data_processing"
    assert TaskTypes.training != "testing"
    assert Task.TaskTypes is TaskTypes
    logger = Logger()
    logger.report_scalar("loss", "train", 0.5, 3)
    assert [r.model_dump(exclude_none=True) for r in logger.reports] == [
        {"kind": "scalar", "title": "loss", "series": "train", "value": 0.5, "iteration": 3}
    ]
    assert StorageManager.get_local_copy(remote_url=str(IRIS)) == str(IRIS)
    p = capture("top_level_imports.py")
    assert p.step("train").policies.task_type == "training"
    assert p.parameters[0].type == "float"
    assert validate(p) == []


# ---------------------------------------------------------------- 6. validation


@pytest.mark.parametrize(
    ("fixture", "name", "used_on"),
    [("uses_module_constant.py", "SCALE", "return x * factor * SCALE")],
)
def test_module_level_name_used_in_component(fixture: str, name: str, used_on: str) -> None:
    path = FIXTURES / fixture
    errors = validate(capture(fixture))
    assert len(errors) == 1
    assert_at(errors[0].location, path, line_of(path, used_on))
    assert f"uses {name!r}" in errors[0].message
    assert "neither defines nor imports" in errors[0].message


def test_return_tuple_size_mismatch() -> None:
    path = FIXTURES / "wrong_return_arity.py"
    errors = validate(capture("wrong_return_arity.py"))
    assert len(errors) == 1  # `return [], []` has the declared size
    assert_at(errors[0].location, path, line_of(path, "return data[:half], data[half:], half"))
    assert "returns 3 values but declares 2" in errors[0].message


def test_annotations_and_builtins_are_not_errors() -> None:
    p = capture("annotations_and_builtins.py")
    assert validate(p) == []
    # the annotation is still in the shipped source; it is just never evaluated
    assert "frame: pd.DataFrame" in p.step("summarise").code.source


def test_helper_using_module_level_name_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad_helper.py"
    path.write_text(
        "from pipec import PipelineDecorator\n"
        "LIMIT = 3\n"
        "\n"
        "def clip(v):\n"
        "    return min(v, LIMIT)\n"
        "\n"
        "@PipelineDecorator.component(return_values=['y'], helper_functions=[clip])\n"
        "def step(v: int = 5):\n"
        "    return clip(v)\n"
        "\n"
        "@PipelineDecorator.pipeline(name='bad helper', project='tests')\n"
        "def bad_helper():\n"
        "    return step()\n"
    )
    errors = validate(load_pipeline(str(path)))
    assert len(errors) == 1
    assert_at(errors[0].location, path, 5)
    assert "helper 'clip'" in errors[0].message and "'LIMIT'" in errors[0].message


def test_component_named_top_is_self_contained() -> None:
    assert validate(capture("named_top.py")) == []


def test_undefined_name_is_reported_where_it_is_read_from_module_level() -> None:
    path = FIXTURES / "shadowed_global.py"
    errors = validate(capture("shadowed_global.py"))
    assert len(errors) == 1
    assert "'logger'" in errors[0].message
    assert_at(errors[0].location, path, line_of(path, 'log(logger, f"got {x}")'))


# ---------------------------------------------------------------- 7. code hash


def test_code_hash_ignores_layout_and_comments() -> None:
    original = capture("hash_original.py").step("add").code
    reformatted = capture("hash_reformatted.py").step("add").code
    changed = capture("hash_changed.py").step("add").code
    assert original.source != reformatted.source
    assert original.hash == reformatted.hash
    assert changed.hash != original.hash
    assert re.fullmatch("[0-9a-f]{64}", original.hash)


def test_normalise_and_code_hash() -> None:
    a = "def f(x):\n    # comment\n    return (x +\n            1)\n"
    b = "def f(x):  # other comment\n    return x + 1\n"
    c = "def f(x):\n    return x + 2\n"
    assert normalise(a) == normalise(b) == "def f(x):\n    return x + 1"
    assert normalise("    def f(x):\n        return x\n") == "def f(x):\n    return x"
    assert code_hash("function", "f", a, []) == code_hash("function", "f", b, [])
    assert code_hash("function", "f", a, []) != code_hash("function", "f", c, [])
    assert code_hash("function", "f", a, []) != code_hash("function", "g", a, [])
    assert code_hash("function", "f", a, []) != code_hash("script", "f", a, [])


# ---------------------------------------------------------------- 8. finding pipelines


def test_pipeline_defined_but_never_called_is_found() -> None:
    p = capture("module_level_only.py")
    assert p.name == "never called"
    assert [s.name for s in p.steps] == ["greet"]
    assert p.parameters[0].default == lit("world")
    assert p.step("greet").inputs == {"name": ParamRef(name="name")}


def test_two_pipelines_need_a_name() -> None:
    with pytest.raises(UsageError) as info:
        capture("two_pipelines.py")
    message = str(info.value)
    assert "first" in message and "second" in message
    assert "two_pipelines.py:NAME" in message
    first = capture("two_pipelines.py:first")
    assert first.name == "first"
    assert first.edges() == [("produce", "consume")]
    second = capture("two_pipelines.py:second")
    assert [s.name for s in second.steps] == ["produce", "produce_1", "consume"]
    assert second.step("consume").inputs == {"data": out("produce", "data")}
    # the variable the pipeline function is bound to works as a name too
    assert capture("two_pipelines.py:second_pipeline") == second
    with pytest.raises(UsageError, match="no pipeline named 'third'"):
        capture("two_pipelines.py:third")


# ---------------------------------------------------------------- edge cases


def test_default_execution_queue_is_recorded() -> None:
    assert capture("default_queue.py").policies.default_queue == "gpu"


def test_default_execution_queue_does_not_leak_between_captures() -> None:
    assert capture("default_queue.py").policies.default_queue == "gpu"
    assert capture("module_level_only.py").policies.default_queue is None


def test_namedtuple_holding_proxies() -> None:
    p = capture("namedtuple_argument.py")
    data = p.step("size").inputs["data"]
    assert isinstance(data, Expr)
    assert iter_refs(data) == [out("split", "train"), out("split", "test")]
    assert p.step("size").parents == ["split"]


def test_nested_mutation_reaches_the_next_step() -> None:
    p = capture("nested_mutation.py")
    config = p.step("train").inputs["config"]
    assert config != out("load_config", "config")
    assert 0.01 in literals_in(config)


def test_method_calls_on_a_step_output_reach_the_next_step() -> None:
    """`items.append(4)`: the object a method may change means itself after the call."""
    p = capture("method_mutation.py")
    use = p.step("use")
    assert use.inputs["items"] == expr(
        "method",
        expr(
            "method",
            expr("method", out("load", "items"), lit("append"), lit(4)),
            lit("pop"),
        ),
        lit("sort"),
    )
    # `last = items.pop()` is the pop's result, taken from the list as it was then
    assert use.inputs["last"] == expr(
        "call",
        expr("getattr", expr("method", out("load", "items"), lit("append"), lit(4)), lit("pop")),
    )
    config = use.inputs["config"]
    assert isinstance(config, Expr) and config.op == "method"
    assert config.kwargs == {"lr": lit(0.1)}
    assert use.parents == ["load", "settings"]


def test_component_applied_by_call() -> None:
    path = FIXTURES / "component_call_form.py"
    p = capture("component_call_form.py")
    step = p.step("prepare")
    assert step.code.entrypoint == "prepare"
    assert step.code.source.startswith("def prepare(n: int = 2):\n")
    assert step.inputs == {"n": lit(3)}
    assert_at(step.definition, path, line_of(path, "def prepare("))


def test_round_of_a_step_output() -> None:
    p = capture("round_output.py")
    value = p.step("publish").inputs["value"]
    assert isinstance(value, Expr)
    assert iter_refs(value) == [out("evaluate", "accuracy")]
    assert 2 in literals_in(value)


def test_parameter_used_as_dict_key_error_names_the_parameter() -> None:
    path = FIXTURES / "parameter_as_key.py"
    with pytest.raises(CaptureError) as info:
        capture("parameter_as_key.py")
    err = info.value
    assert_at(err.location, path, line_of(path, "return train(learning_rates[size])"))
    assert "\ue000" not in str(err)
    assert "'size'" in err.message
