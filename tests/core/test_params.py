"""Parameters keep their types at run time: every value a run gets (`--param`, a script's
call, an engine's run form) is cast to its parameter's type, or refused before anything
runs, the same way on every target (`pipec.params`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, Result, line_of, rel, run_pipec, run_python
from pipec import adapter
from pipec.capture.session import load_pipeline
from pipec.errors import CaptureError, UsageError
from pipec.ir import LiteralValue, Parameter
from pipec.params import cast, from_text, kind_of

TYPED = PIPELINES / "run" / "typed.py"
TYPED_CALL = PIPELINES / "run" / "typed_call.py"


def param(type_name: str | None, name: str = "p") -> Parameter:
    return Parameter(name=name, type=type_name)


# ---------------------------------------------------------------- casting


@pytest.mark.parametrize(
    ("type_name", "given", "expected"),
    [
        *[("bool", text, False) for text in ("False", "false", "no", "0", "off", " NO ")],
        *[("bool", text, True) for text in ("True", "true", "yes", "1", "on")],
        ("bool", True, True),
        ("bool", 0, False),
        ("int", "7", 7),
        ("int", " -3 ", -3),
        ("int", 7, 7),
        ("float", "2", 2.0),
        ("float", "0.25", 0.25),
        ("float", 2, 2.0),
        ("float", 1.5, 1.5),
        ("str", "42", "42"),
        ("str", "false", "false"),
        ("list", '["a", 1]', ["a", 1]),
        ("list", ("a", 1), ["a", 1]),
        ("tuple", "[1, 2]", (1, 2)),
        ("dict", '{"k": [1]}', {"k": [1]}),
        ("dict", {"k": 1}, {"k": 1}),
        ("Optional[int]", "5", 5),
        ("int | None", "5", 5),
        ("list[str]", '["x"]', ["x"]),
        ("Dict[str, int]", '{"a": 1}', {"a": 1}),
        ("int", None, None),
    ],
)
def test_values_are_cast_to_their_parameters_type(
    type_name: str, given: Any, expected: Any
) -> None:
    value = cast(param(type_name), given)

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("type_name", "given", "what"),
    [
        ("int", "abc", "an integer"),
        ("int", "2.5", "an integer"),
        ("int", True, "an integer"),
        ("int", 2.5, "an integer"),
        ("float", "fast", "a number"),
        ("float", False, "a number"),
        ("bool", "maybe", "a bool (true/false, yes/no, on/off, 1/0)"),
        ("bool", 2, "a bool (true/false, yes/no, on/off, 1/0)"),
        ("str", 5, "text"),
        ("list", '{"k": 1}', "a list (a JSON array)"),
        ("list", "a,b", "a list (a JSON array)"),
        ("dict", "[1]", "a dict (a JSON object)"),
    ],
)
def test_a_value_not_of_the_type_names_the_parameter_and_the_type(
    type_name: str, given: Any, what: str
) -> None:
    with pytest.raises(UsageError) as raised:
        cast(param(type_name, name="count"), given)

    assert str(raised.value) == (
        f"parameter 'count' of type {type_name} takes {what}, got {given!r}"
    )


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("int", "int"),
        ("Optional[float]", "float"),
        ("None | bool", "bool"),
        ("list[int | None]", "list"),
        ("List[str]", "list"),
        ("dict[str, int] | None", "dict"),
        ("int | str", None),
        ("Path", None),
        ("pd.DataFrame", None),
        (None, None),
    ],
)
def test_the_types_pipec_casts_to(type_name: str | None, kind: str | None) -> None:
    assert kind_of(type_name) == kind


def test_a_value_of_a_type_pipec_does_not_know_is_taken_as_it_is() -> None:
    marker = object()

    assert cast(param("Path"), marker) is marker
    assert cast(param(None), "7") == "7"


def test_text_for_a_parameter_of_no_known_type_is_json_when_it_parses() -> None:
    assert from_text(param(None), "7") == 7
    assert from_text(param("Path"), '{"a": 1}') == {"a": 1}
    assert from_text(param(None), "word") == "word"
    assert from_text(None, "true") is True  # no such parameter: the run refuses it
    assert from_text(param("str"), "7") == "7"


# ---------------------------------------------------------------- capture: types and defaults


CONTROLLER = """\
from pipec import PipelineController


def step(n):
    return n


if __name__ == "__main__":
    pipe = PipelineController(name="typed controller", project="tests")
    pipe.add_parameter("count", default={count}, param_type={param_type})  # the parameter
    pipe.add_parameter("ratio", default=1, param_type="float")
    pipe.add_parameter("label", default="x")
    pipe.add_function_step("step", step, function_kwargs=dict(n="${{pipeline.count}}"))
    pipe.start()
"""


@pytest.mark.parametrize("param_type", ["int", '"int"'], ids=["a type", "a type's name"])
def test_add_parameter_takes_a_type_or_its_name(param_type: str, tmp_path: Path) -> None:
    path = tmp_path / "typed_controller.py"
    path.write_text(CONTROLLER.format(count='"7"', param_type=param_type))

    parameters = {p.name: p for p in load_pipeline(str(path)).parameters}

    assert (parameters["count"].type, parameters["count"].default) == (
        "int",
        LiteralValue(value=7),
    )
    assert (parameters["ratio"].type, parameters["ratio"].default) == (
        "float",
        LiteralValue(value=1.0),
    )
    assert parameters["label"].type == "str"


def test_an_add_parameter_default_not_of_its_type_is_an_error_at_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "typed_controller.py"
    path.write_text(CONTROLLER.format(count='"many"', param_type="int"))

    with pytest.raises(CaptureError) as raised:
        load_pipeline(str(path))

    error = raised.value
    assert error.location is not None
    assert (os.path.abspath(error.location.file), error.location.line) == (
        str(path),
        line_of(path, "# the parameter"),
    )
    assert error.message == "parameter 'count' of type int takes an integer, got 'many'"


DECORATOR = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def step(n):
    return n


@PipelineDecorator.pipeline(name="typed decorator", project="tests")
def typed(count=1, ratio: float = 0.5, label=None):
    return step(count)


if __name__ == "__main__":
    typed({call})  # the call
"""


def test_a_calls_values_are_cast_to_the_declared_types(tmp_path: Path) -> None:
    path = tmp_path / "typed_decorator.py"
    path.write_text(DECORATOR.format(call='count="7", ratio=2, label=5'))

    parameters = {p.name: p for p in load_pipeline(str(path)).parameters}

    # the default's type, the annotation, and the call's value where neither says
    assert [(p.type, p.default) for p in parameters.values()] == [
        ("int", LiteralValue(value=7)),
        ("float", LiteralValue(value=2.0)),
        ("int", LiteralValue(value=5)),
    ]


def test_a_calls_value_not_of_the_type_is_an_error_at_the_call(tmp_path: Path) -> None:
    path = tmp_path / "typed_decorator.py"
    path.write_text(DECORATOR.format(call='count="seven"'))

    with pytest.raises(CaptureError) as raised:
        load_pipeline(str(path))

    error = raised.value
    assert error.location is not None
    assert (os.path.abspath(error.location.file), error.location.line) == (
        str(path),
        line_of(path, "# the call"),
    )
    assert error.message == "parameter 'count' of type int takes an integer, got 'seven'"


# ---------------------------------------------------------------- engines: pipec checks first


def test_an_engine_gets_the_values_cast_and_refused_by_pipec() -> None:
    pipeline = load_pipeline(str(TYPED))

    cast_values = adapter.check_parameters(pipeline, {"flag": "no", "count": "7", "ratio": 2})

    assert cast_values == {"flag": False, "count": 7, "ratio": 2.0}
    assert type(cast_values["ratio"]) is float
    with pytest.raises(UsageError, match="parameter 'count' of type int takes an integer"):
        adapter.check_parameters(pipeline, {"count": "abc"})


# ---------------------------------------------------------------- the command line


def _got(result: Result) -> list[list[Any]]:
    assert result.returncode == 0, result
    try:
        return json.loads(result.stdout)["return_value"]
    except (ValueError, KeyError):
        pytest.fail(f"no return value in the --json summary:\n{result!r}")


@pytest.mark.parametrize("target", ["debug", "local"])
def test_param_text_reaches_the_step_as_the_parameters_type(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    result = run_pipec(
        "run", rel(TYPED), "--target", target, "--storage", tmp_path / "store", "--json",
        "--param", "flag=False", "--param", "count=7", "--param", "ratio=2",
        "--param", 'names=["b", "c"]', "--param", 'options={"k": 2}', "--param", "label=42",
        pipec_home=pipec_home,
    )  # fmt: skip

    assert _got(result) == [
        ["bool", False],
        ["int", 7],
        ["float", 2.0],
        ["list", ["b", "c"]],
        ["dict", {"k": 2}],
        ["str", "42"],
    ]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("count=abc", "parameter 'count' of type int takes an integer, got 'abc'"),
        ("flag=maybe", "parameter 'flag' of type bool takes a bool (true/false, yes/no, "
         "on/off, 1/0), got 'maybe'"),
        ("ratio=fast", "parameter 'ratio' of type float takes a number, got 'fast'"),
        ("names=a,b", "parameter 'names' of type list takes a list (a JSON array), got 'a,b'"),
    ],
)  # fmt: skip
def test_a_param_not_of_its_type_is_a_usage_error(
    pair: str, message: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"

    result = run_pipec(
        "run", rel(TYPED), "--storage", store, "--json", "--param", pair, pipec_home=pipec_home
    )

    assert (result.returncode, result.stdout) == (2, ""), result
    assert result.stderr.splitlines() == [f"error: --param: {message}"], result
    assert not store.exists()  # refused before anything ran


def test_a_scripts_call_values_reach_the_logic_and_the_step_as_their_types(
    tmp_path: Path, pipec_home: Path
) -> None:
    result = run_python(TYPED_CALL, pipec_home=pipec_home, cwd=tmp_path)

    assert result.returncode == 0, result
    printed = result.stdout.splitlines()
    assert "logic got bool:False int:3 float:2.0" in printed, result
    assert "step got bool:False int:3 float:2.0" in printed, result
