"""Which decorator pipelines an engine target can replay: the logic runs without its module."""

from __future__ import annotations

from pathlib import Path

from pipec.capture.session import load_pipeline
from pipec.runtime.replay import missing_globals

ROOT = Path(__file__).resolve().parents[2]

PIPELINE = """
from pipec import PipelineDecorator

THRESHOLD = 0.5
DEFAULT_N = 3


@PipelineDecorator.component(return_values=["x"])
def make(n):
    return n


@PipelineDecorator.pipeline(name="globals", project="tests")
def main(n: int = DEFAULT_N):
    x = make(n)
    print(f"x={x}", THRESHOLD)
    return x
"""


def test_components_builtins_and_parameter_defaults_need_no_module() -> None:
    pipeline = load_pipeline(str(ROOT / "examples" / "iris_pipeline.py"))  # default DEFAULT_CSV
    assert pipeline.controller is not None
    assert missing_globals(pipeline.controller) == []


def test_module_globals_the_logic_reads_are_named(tmp_path: Path) -> None:
    path = tmp_path / "uses_globals.py"
    path.write_text(PIPELINE)
    pipeline = load_pipeline(str(path))
    assert pipeline.controller is not None
    assert missing_globals(pipeline.controller) == ["THRESHOLD"]
    assert pipeline.controller.location is not None
    assert pipeline.controller.location.line == 14  # the def, below the pipeline decorator
