"""Logic that hands a run-time value to a call needing the real one (`open(path)`,
`range(n)`, `Path(folder)`): the trace never passes a stand-in for it (an int is a file
descriptor to `open`), and the targets that run or replay the logic make the real call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_pipec
from pipec.capture.session import load_pipeline
from pipec.errors import CaptureError

WRITES = """\
from pathlib import Path

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["result"])
def compute(x):
    return x * 2


@PipelineDecorator.pipeline(name="writes", project="tests")
def writes(x: int = 3, out_path: str = "result.txt", folder: str = "."):
    result = compute(x)
    with open(out_path, "w") as f:  # the write to the value
        f.write(str(result))
    (Path(folder) / "copy.txt").write_text(str(result))
    return result


@PipelineDecorator.pipeline(name="writes by name", project="tests")
def writes_by_name(x: int = 3, folder: str = ".", tag: str = "a"):
    result = compute(x)
    with open(f"{folder}/out_{tag}.txt", "w") as f:  # the write by name
        f.write(f"{result}")
    return result


"""

COMPONENT_AFTER = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["result"])
def compute(x):
    return x * 2


@PipelineDecorator.pipeline(name="writes then computes", project="tests")
def writes_then_computes(x: int = 3, n: int = 2):
    result = compute(x)
    for i in range(n):  # the call
        compute(i)  # the component
    return result


if __name__ == "__main__":
    writes_then_computes()
"""


def _line(path: Path, needle: str) -> int:
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return line


WRITERS = {"writes": "# the write to the value", "writes by name": "# the write by name"}
"""Each pipeline of `WRITES`, and the line of its write: the value itself is the path,
or the path is text made from it."""


@pytest.mark.parametrize("name", WRITERS)
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_a_write_after_the_last_step_captures(
    dynamic: bool, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "writes.py"
    path.write_text(WRITES)
    monkeypatch.chdir(tmp_path)
    before = os.fstat(0)

    pipeline = load_pipeline(f"{path}:{name}", dynamic=dynamic)

    assert [step.name for step in pipeline.steps] == ["compute"]
    assert pipeline.controller is not None
    assert pipeline.controller.cut is None  # every step is known: any target runs it
    assert [d.line for d in pipeline.controller.decisions] == [_line(path, WRITERS[name])]
    assert pipeline.controller.return_value is None  # only the real logic knows it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writes.py"]  # nothing written
    assert os.fstat(0) == before  # and stdin is still open


@pytest.mark.parametrize("target", ["debug", "local"])
def test_a_write_after_the_last_step_writes_the_real_value(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "writes.py"
    path.write_text(WRITES)
    out = tmp_path / "out.txt"
    store = tmp_path / "store"

    results = [
        run_pipec(
            "run", f"{path}:writes", "--target", target, "--storage", store, "--json",
            "--param", "x=5", "--param", f"out_path={out}", "--param", f"folder={tmp_path}",
            pipec_home=pipec_home,
        ),
        run_pipec(
            "run", f"{path}:writes by name", "--target", target, "--storage", store, "--json",
            "--param", "x=6", "--param", f"folder={tmp_path}", "--param", "tag=b",
            pipec_home=pipec_home,
        ),
    ]  # fmt: skip

    for result, value in zip(results, (10, 12), strict=True):
        assert result.returncode == 0, result
        assert json.loads(result.stdout)["return_value"] == value, result
    assert out.read_text() == "10"
    assert (tmp_path / "copy.txt").read_text() == "10"
    assert (tmp_path / "out_b.txt").read_text() == "12"


def test_a_component_the_logic_can_call_after_such_a_call_is_an_error_for_a_static_graph(
    tmp_path: Path,
) -> None:
    path = tmp_path / "writes_then_computes.py"
    path.write_text(COMPONENT_AFTER)

    with pytest.raises(CaptureError) as raised:
        load_pipeline(str(path))

    error = raised.value
    assert error.location is not None
    assert (os.path.abspath(error.location.file), error.location.line) == (
        str(path),
        _line(path, "# the call"),
    )
    assert "pipeline parameter 'n'" in error.message
    assert f"component 'compute' (at {error.location.file}:{_line(path, '# the component')})" in (
        error.message
    )
    assert "`pipec run --target local`" in error.message


def test_a_component_the_logic_can_call_after_such_a_call_cuts_a_dynamic_trace(
    tmp_path: Path,
) -> None:
    path = tmp_path / "writes_then_computes.py"
    path.write_text(COMPONENT_AFTER)

    pipeline = load_pipeline(str(path), dynamic=True)

    assert [step.name for step in pipeline.steps] == ["compute"]
    assert pipeline.controller is not None
    assert pipeline.controller.cut is not None
    assert pipeline.controller.cut.line == _line(path, "# the call")


@pytest.mark.parametrize("target", ["debug", "local"])
def test_a_component_called_after_such_a_call_runs_where_the_logic_runs(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "writes_then_computes.py"
    path.write_text(COMPONENT_AFTER)

    result = run_pipec(
        "run", path, "--target", target, "--storage", tmp_path / "store", "--json",
        "--param", "n=3", pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 0, result
    assert sorted(json.loads(result.stdout)["steps"]) == [
        "compute",
        "compute_1",
        "compute_2",
        "compute_3",
    ]
