"""Invalid pipelines are rejected with one `file:line: error:` per problem, and nothing is written.

Each fixture in pipelines/bad/ is a real user script with one mistake; the line pipec
must point at carries an `# expected-error` comment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import (
    PIPELINES,
    Result,
    error_lines,
    marked_line,
    rel,
    run_many,
    run_pipec,
)
from pipec.capture.session import load_pipeline
from pipec.errors import CaptureError
from pipec.ir import Pipeline
from pipec.validate import validate

BAD = PIPELINES / "bad"

# fixture -> words the single error message must contain
CASES: dict[str, tuple[str, ...]] = {
    "cycle": ("cycle", "make_features", "score_features"),
    "unknown_parent": ("unknown step 'prepare_dta'", "did you mean 'prepare_data'"),
    "typo_step_artifact": ("unknown step 'typo_step'",),
    "unknown_output": ("unknown output 'no_such_output'", "step_one"),
    "unknown_parameter": ("${pipeline.missing}",),
    "duplicate_step": ("duplicate step name 'train'",),
    "return_arity": ("returns 3 values", "2 return values"),
    "module_import": ("'json'", "import it inside the function"),
    "malformed_ref": ("${step_one}",),
    "missing_template": ("no task template", "a task nobody registered"),
    "cycle_behind_step": ("cycle", "make_features", "score_features"),
    "unknown_kwarg": ("'scael'",),
    "missing_argument": ("'url'",),
}

# Errors found while capturing (the script cannot be recorded), not by validate().
CAPTURE_ERRORS = {"malformed_ref", "missing_template", "unknown_kwarg", "missing_argument"}


def case_params() -> list[object]:
    return [pytest.param(name) for name in CASES]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Result, Path]]:
    """`pipec compile BAD --target json --out DIR` for every fixture, run concurrently."""
    root = tmp_path_factory.mktemp("bad")
    home = root / "pipec_home"
    home.mkdir()

    def call(name: str) -> tuple[Result, Path]:
        out_dir = root / name / "out"
        args = ("compile", rel(BAD / f"{name}.py"), "--target", "json", "--out", out_dir)
        result = run_pipec(*args, pipec_home=home)
        return result, out_dir

    names = list(CASES)
    results = run_many([lambda n=n: call(n) for n in names])  # type: ignore[misc]
    return dict(zip(names, results, strict=True))


def test_every_bad_fixture_is_covered() -> None:
    assert sorted(p.stem for p in BAD.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("name", case_params())
def test_bad_pipeline_exit_code_and_nothing_written(
    name: str, compiled: dict[str, tuple[Result, Path]]
) -> None:
    result, out_dir = compiled[name]
    assert result.returncode == 1, result
    assert result.stdout == "", result
    assert not out_dir.exists() or not any(out_dir.iterdir()), list(out_dir.iterdir())


@pytest.mark.parametrize("name", case_params())
def test_bad_pipeline_one_error_at_the_right_line(
    name: str, compiled: dict[str, tuple[Result, Path]]
) -> None:
    result, _ = compiled[name]
    path = BAD / f"{name}.py"
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result
    prefix = f"{rel(path)}:{marked_line(path)}: error: "
    assert errors[0].startswith(prefix), f"expected {prefix!r}\n{result}"
    for words in CASES[name]:
        assert words in errors[0], result


def test_cycle_message_names_the_cycle(compiled: dict[str, tuple[Result, Path]]) -> None:
    (line,) = error_lines(compiled["cycle"][0].stderr)
    match = re.search(r"cycle: (\w+) -> (\w+) -> (\w+)\b", line)
    assert match, line
    first, second, back = match.groups()
    assert {first, second} == {"make_features", "score_features"}
    assert back == first


def test_duplicate_points_back_at_the_first_step(
    compiled: dict[str, tuple[Result, Path]],
) -> None:
    (line,) = error_lines(compiled["duplicate_step"][0].stderr)
    path = BAD / "duplicate_step.py"
    first = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if 'name="train"' in text
    )
    assert f"first added at {rel(path)}:{first}" in line


# ---------------------------------------------------------------- the same, in process


@pytest.mark.parametrize("name", [n for n in CASES if n not in CAPTURE_ERRORS])
def test_validate_finds_the_problem_in_the_ir_and_in_its_json(
    name: str, in_repo_root: Path
) -> None:
    path = BAD / f"{name}.py"
    pipeline = load_pipeline(rel(path))
    errors = validate(pipeline)
    assert [(e.location.file, e.location.line) for e in errors if e.location] == [
        (rel(path), marked_line(path))
    ]
    assert len(errors) == 1
    again = validate(Pipeline.model_validate_json(pipeline.model_dump_json()))
    assert [str(e) for e in again] == [str(e) for e in errors]


@pytest.mark.parametrize("name", sorted(CAPTURE_ERRORS))
def test_capture_errors_point_at_the_add_call(name: str, in_repo_root: Path) -> None:
    path = BAD / f"{name}.py"
    with pytest.raises(CaptureError) as info:
        load_pipeline(rel(path))
    assert info.value.location is not None
    assert (info.value.location.file, info.value.location.line) == (
        rel(path),
        marked_line(path),
    )


def test_fixed_pipeline_is_valid(in_repo_root: Path) -> None:
    """The checks are not trigger-happy: the examples validate cleanly."""
    for example in ("examples/iris_functions.py", "examples/iris_pipeline.py"):
        assert validate(load_pipeline(example)) == []


def test_errors_are_reported_once_and_in_step_order(tmp_path: Path, in_repo_root: Path) -> None:
    """Several independent problems: each once, in the order of the steps."""
    script = tmp_path / "two_problems.py"
    script.write_text(
        "from pipec import PipelineController\n"
        "\n"
        "\n"
        "def step(x=1):\n"
        "    return x\n"
        "\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    pipe = PipelineController(name='two', project='p')\n"
        "    pipe.add_function_step(name='a', function=step, parents=['nope'])\n"
        "    pipe.add_function_step(\n"
        "        name='b', function=step, function_kwargs=dict(x='${pipeline.none}')\n"
        "    )\n"
        "    pipe.start()\n"
    )
    errors = validate(load_pipeline(str(script)))
    assert [e.location.line for e in errors if e.location] == [10, 11]
    assert "'nope'" in errors[0].message
    assert "${pipeline.none}" in errors[1].message
