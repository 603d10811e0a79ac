"""Runs that end under signals: SIGTERM and Ctrl-C (SIGINT) of `pipec run` end the run
recorded `aborted`, the running step `aborted` and the rest skipped, with no traceback,
and pipec exits as a shell reports a command a signal ended (128 + the signal).

Real processes and real signals: `pipec run` is started with `subprocess.Popen`, the
signal sent with `os.kill` once the step has written a file saying it is running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, pipec_executable

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PIPELINE = """
from pipec import PipelineController

def work(x):
    import os, pathlib, time
    pathlib.Path(os.environ["PIPEC_TEST_FOLDER"], "started").write_text("")
    time.sleep(60)
    return x + 1

pipe = PipelineController(name="signalled", project="tests")
pipe.add_function_step(name="first", function=work, function_kwargs={"x": 1},
                       function_return=["y"])
pipe.add_function_step(name="second", function=work, function_kwargs={"x": "${first.y}"},
                       function_return=["y"])
pipe.start_locally(run_pipeline_steps_locally=True)
"""


def start_run(folder: Path, pipec_home: Path, target: str, body: str) -> subprocess.Popen[str]:
    (folder / "pipeline.py").write_text(body)
    argv = [pipec_executable(), "run", "pipeline.py", "--target", target, "--storage", "store"]
    env = cli_env(pipec_home, {"PIPEC_TEST_FOLDER": str(folder)})
    return subprocess.Popen(
        argv, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def when_started(proc: subprocess.Popen[str], folder: Path) -> None:
    while not (folder / "started").exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.02)


def record(folder: Path, *parts: str) -> dict:
    (run,) = (folder / "store" / "runs" / "signalled").iterdir()
    return json.loads(run.joinpath(*parts).read_text())


@pytest.mark.parametrize("target", ["local", "debug"])
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_run_recorded_aborted(
    target: str, number: signal.Signals, tmp_path: Path, pipec_home: Path
) -> None:
    proc = start_run(tmp_path, pipec_home, target, PIPELINE)
    when_started(proc, tmp_path)
    os.kill(proc.pid, number)
    output, _ = proc.communicate()
    assert proc.returncode == 128 + number, output
    assert "Traceback" not in output
    assert "KeyboardInterrupt" not in output
    run = record(tmp_path, "run.json")
    assert run["status"] == "aborted"
    assert run["error"] == f"the run was interrupted by {number.name}"
    first = record(tmp_path, "steps", "first", "step.json")
    assert first["status"] == "aborted", first
    assert record(tmp_path, "steps", "second", "step.json")["status"] == "skipped"


RAISES = """
from pipec import PipelineController

def work(x):
    raise KeyboardInterrupt

pipe = PipelineController(name="signalled", project="tests")
pipe.add_function_step(name="first", function=work, function_kwargs={"x": 1},
                       function_return=["y"])
pipe.start_locally(run_pipeline_steps_locally=True)
"""


def test_a_keyboard_interrupt_a_debug_step_raises_fails_it_at_its_line(
    tmp_path: Path, pipec_home: Path
) -> None:
    """No signal arrived: the step's own KeyboardInterrupt is a failure at the user's line."""
    proc = start_run(tmp_path, pipec_home, "debug", RAISES)
    output, _ = proc.communicate()
    assert proc.returncode == 1, output
    first = record(tmp_path, "steps", "first", "step.json")
    assert first["status"] == "failed"
    assert first["attempts"][-1]["location"].endswith("pipeline.py:5"), first
    assert record(tmp_path, "run.json")["status"] == "failed"
