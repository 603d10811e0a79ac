"""A step fails and the logic then trips over what it left (the failed step's own value, a
skipped child's None): the run's error is the failing step's, at its line of the user's
code, not what the logic raised because of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Result, run_pipec, run_python

PIPELINE = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def load():
    raise ValueError("no data")  # the step fails here


@PipelineDecorator.component(return_values=["scores"])
def train(data):
    return {{"best": 0.5}}


@PipelineDecorator.pipeline(name="trips", project="tests")
def trips():
    data = load()
    scores = train(data)
    return {uses}


if __name__ == "__main__":
    trips()
"""

USES = {
    "arithmetic on a skipped step's None": "scores * 100",
    "indexing a skipped step's None": 'scores["best"]',
    "the failed step's own value": "data + 1",
}


def _file(tmp_path: Path, uses: str) -> tuple[Path, str]:
    """The pipeline file, and the error its failing step records."""
    path = tmp_path / "trips.py"
    path.write_text(PIPELINE.format(uses=uses))
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "fails here" in text]
    return path, f"{path}:{line}: ValueError: no data (in step 'load')"


def _summary(result: Result) -> dict:
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")


@pytest.mark.parametrize("uses", USES.values(), ids=USES)
@pytest.mark.parametrize("target", ["debug", "local"])
def test_the_run_error_is_the_failing_steps(
    target: str, uses: str, tmp_path: Path, pipec_home: Path
) -> None:
    path, step_error = _file(tmp_path, uses)

    result = run_pipec(
        "run", path, "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 1, result
    summary = _summary(result)
    assert summary["steps"]["load"]["error"] == step_error
    assert summary["steps"]["train"]["status"] == "skipped"
    assert (summary["status"], summary["error"]) == ("failed", step_error)
    for consequence in ("TypeError", "StepFailedError", "in the pipeline logic"):
        assert consequence not in result.stderr, result


@pytest.mark.parametrize("uses", USES.values(), ids=USES)
def test_a_script_run_reports_the_failing_step_not_the_logic(
    uses: str, tmp_path: Path, pipec_home: Path
) -> None:
    path, step_error = _file(tmp_path, uses)

    result = run_python(path, pipec_home=pipec_home, cwd=tmp_path)

    # a failed run, as when the logic does not touch the failed step's values
    assert result.returncode == 0, result
    # the step's error once, on its step's line; the closing line names that step
    assert result.stderr.count(step_error.replace(f"{tmp_path}/", "")) == 1, result
    assert "step 'load' failed first" in result.stderr.splitlines()[-1], result
    for consequence in ("Traceback", "TypeError", "StepFailedError", "in the pipeline logic"):
        assert consequence not in result.stderr, result
