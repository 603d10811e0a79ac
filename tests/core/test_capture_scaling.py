"""Capture does work in proportion to the pipeline, not to its square: each step's lookups
in its file are answered from one index of the file (`pipec.source.FileIndex`), and a
function's source is analysed once however many steps use it.

The work is counted (the calls made, Python's and builtins', as a profiler sees them), not
timed, so the test holds on a busy machine."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from pipec.capture.session import load_pipeline


def controller_file(folder: Path, n: int, *, shared: bool) -> Path:
    lines = ["import math", "from pipec import PipelineController", ""]
    for i in range(1 if shared else n):
        lines += [f"def work{i}(x):", f"    return x + int(math.sqrt({i}))", ""]
    lines.append(f"pipe = PipelineController(name='scaling-{n}', project='tests')")
    for i in range(n):
        x = repr(f"${{s{i - 1}.result}}") if i else "1"
        lines.append(
            f"pipe.add_function_step(name='s{i}', function=work{0 if shared else i}, "
            f"function_return=['result'], function_kwargs={{'x': {x}}})"
        )
    path = folder / f"scaling_{n}_{'shared' if shared else 'own'}.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def calls(path: Path) -> int:
    """The function calls (Python functions and builtins) made while the file is captured."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        pipeline = load_pipeline(str(path))
    finally:
        sys.setprofile(None)
    assert pipeline.steps
    return count


@pytest.mark.parametrize("shared", [False, True], ids=["a function per step", "one function"])
def test_capture_work_grows_linearly_with_the_steps(
    shared: bool, tmp_path: Path, in_repo_root: Path
) -> None:
    calls(controller_file(tmp_path, 10, shared=shared))  # what is done once per process
    small = calls(controller_file(tmp_path, 40, shared=shared))
    big = calls(controller_file(tmp_path, 160, shared=shared))
    assert big <= 4 * small * 1.1, (small, big)  # 4x the steps: about 4x the work, not 16x
