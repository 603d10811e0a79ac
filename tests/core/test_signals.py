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


GONE = """
from pipec import PipelineController

def first(x):
    return x + 1

def second(y):
    import os, pathlib, time
    pathlib.Path(os.environ["PIPEC_TEST_FOLDER"], "started").write_text("")
    if os.environ.get("PIPEC_TEST_SLOW"):
        time.sleep(60)
    return y * 10

pipe = PipelineController(name="signalled", project="tests")
pipe.add_function_step(name="first", function=first, function_kwargs={"x": 1},
                       function_return=["y"])
pipe.add_function_step(name="second", function=second, function_kwargs={"y": "${first.y}"},
                       function_return=["z"])
pipe.start_locally(run_pipeline_steps_locally=True)
"""


def pipec(folder: Path, pipec_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(pipec_home, {"PIPEC_TEST_FOLDER": str(folder), "COLUMNS": "200"})
    argv = [pipec_executable(), *args, "--storage", "store"]
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)


def test_a_run_whose_owner_was_killed_is_shown_gone_and_resumes(
    tmp_path: Path, pipec_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL: nothing runs in pipec to record the end. Its heartbeat stops, so `runs
    list` and `runs show` say the run is gone (it stays `running` in its record), and
    `runs resume` continues it, reusing the step that completed."""
    monkeypatch.setenv("PIPEC_HEARTBEAT_SECONDS", "0.1")
    monkeypatch.setenv("PIPEC_TEST_SLOW", "1")
    proc = start_run(tmp_path, pipec_home, "local", GONE)
    when_started(proc, tmp_path)
    run_id = record(tmp_path, "run.json")["run_id"]
    shown = pipec(tmp_path, pipec_home, "runs", "show", run_id)
    assert "on local: running\n" in shown.stdout, shown.stdout  # still beating
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert record(tmp_path, "run.json")["status"] == "running"
    # the last beat before the kill, and when readers take the owner for gone: 4 beats on
    (beat_file,) = (tmp_path / "store" / "runs" / "signalled").glob("*/heartbeat")
    beat = json.loads(beat_file.read_text())
    assert beat["every"] == 0.1
    time.sleep(max(0.0, beat["at"] + 5 * beat["every"] - time.time()))
    listed = pipec(tmp_path, pipec_home, "runs", "list")
    assert "gone (last heard" in listed.stdout, listed.stdout + listed.stderr
    shown = pipec(tmp_path, pipec_home, "runs", "show", run_id)
    assert "gone (last heard" in shown.stdout, shown.stdout
    assert f"pipec runs resume {run_id}" in shown.stdout
    monkeypatch.delenv("PIPEC_TEST_SLOW")
    resumed = pipec(tmp_path, pipec_home, "runs", "resume", run_id, "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "completed"
    assert summary["steps"]["first"]["status"] == "cached", summary  # reused, not rerun


LEAVES_A_CHILD = """
from pipec import PipelineController

def work(x):
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    return x + 1

pipe = PipelineController(name="signalled", project="tests")
pipe.add_function_step(name="first", function=work, function_kwargs={"x": 1},
                       function_return=["y"])
pipe.start_locally(run_pipeline_steps_locally=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the group in /proc")
def test_a_child_the_step_leaves_running_is_ended_with_it(tmp_path: Path, pipec_home: Path) -> None:
    """The child holds the step's output open: before, the run waited the child's 600 s."""
    proc = start_run(tmp_path, pipec_home, "local", LEAVES_A_CHILD)
    output, _ = proc.communicate()
    assert proc.returncode == 0, output
    (attempt,) = record(tmp_path, "steps", "first", "step.json")["attempts"]
    assert attempt["note"].startswith("ended 1 process(es) the step started"), attempt
