"""Output names (`return_values`, `function_return`): each names one value of the step, so
a name given twice is an error at the line that gave it, not a value silently lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec.errors import CaptureError

DECORATOR = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values={names})  # the names
def split():
    return 1, 2


@PipelineDecorator.pipeline(name="twice", project="tests")
def twice():
    return split()


if __name__ == "__main__":
    twice()
"""

CONTROLLER = """\
from pipec import PipelineController


def split():
    return 1, 2


if __name__ == "__main__":
    pipe = PipelineController(name="twice", project="tests")
    pipe.add_function_step(name="split", function=split, function_return={names})  # the names
    pipe.start()
"""


def _line(text: str, needle: str) -> int:
    (line,) = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return line


@pytest.mark.parametrize("template", [DECORATOR, CONTROLLER], ids=["decorator", "controller"])
@pytest.mark.parametrize(
    ("names", "twice"), [('["a", "a"]', "a"), ('["a, b", "b"]', "b"), ('"a, a"', "a")]
)
def test_an_output_name_given_twice_is_an_error_at_its_line(
    template: str, names: str, twice: str, tmp_path: Path
) -> None:
    path = tmp_path / "twice.py"
    path.write_text(template.format(names=names))

    with pytest.raises(CaptureError) as raised:
        load_pipeline(str(path))

    error = raised.value
    assert error.location is not None
    assert os.path.abspath(error.location.file) == str(path)
    assert error.location.line == _line(path.read_text(), "# the names")
    option = "return_values" if template is DECORATOR else "function_return"
    assert error.message == f"{option} names the output {twice!r} twice: each name is one value"


@pytest.mark.parametrize("template", [DECORATOR, CONTROLLER], ids=["decorator", "controller"])
def test_distinct_output_names_are_kept_in_order(template: str, tmp_path: Path) -> None:
    path = tmp_path / "distinct.py"
    path.write_text(template.format(names='["b, a"]'))

    assert load_pipeline(str(path)).step("split").outputs == ["b", "a"]
