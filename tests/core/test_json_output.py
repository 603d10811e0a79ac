"""`--json` keeps stdout to the JSON, whatever the pipeline file prints: at module level,
in its logic while it is traced (capture), and in its logic and steps while it runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Result, run_pipec

CHATTY = """\
from pipec import PipelineDecorator

print("the module says hi")


@PipelineDecorator.component(return_values=["value"])
def step(x):
    print("the step says hi")
    return x + 1


@PipelineDecorator.pipeline(name="chatty", project="tests")
def chatty(x: int = 1):
    print("the logic says hi")
    value = step(x)
    print(f"the logic got {value}")
    return value
"""

CALLS = "\n\nif __name__ == '__main__':\n    chatty()\n"

FILES = {"started": CHATTY + CALLS, "only defined": CHATTY}
"""A file that starts its pipeline, and one that only defines it (`pipec` starts it)."""


def _json(result: Result) -> dict:
    try:
        parsed = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")
    assert isinstance(parsed, dict), result
    return parsed


@pytest.mark.parametrize("file", FILES)
@pytest.mark.parametrize("target", ["debug", "local"])
def test_run_json_prints_only_json(
    file: str, target: str, tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "chatty.py"
    path.write_text(FILES[file])

    result = run_pipec(
        "run", path, "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 0, result
    summary = _json(result)
    assert (summary["status"], summary["return_value"]) == ("completed", 2), result
    printed = result.stderr.splitlines()
    for line in ("the logic says hi", "the logic got 2"):
        assert line in printed, result  # the run's own prints, on stderr


@pytest.mark.parametrize("file", FILES)
def test_inspect_json_prints_only_json(file: str, tmp_path: Path, pipec_home: Path) -> None:
    path = tmp_path / "chatty.py"
    path.write_text(FILES[file])

    result = run_pipec("inspect", path, "--json", pipec_home=pipec_home)

    assert result.returncode == 0, result
    assert _json(result)["name"] == "chatty"
