"""Attempts forked from the fork server behave like fresh `python -m pipec.runtime.shim`
processes: they see the caller's environment as it is when the attempt starts, not as it
was when the server started, and they end or are killed like any process."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec.plugins import get_target
from pipec.runtime import forkserver, runs, scheduled
from pipec.runtime.context import StepCall
from pipec.runtime.lifecycle import Lifecycle, Node
from pipec.runtime.runner import RunOptions
from pipec.runtime.start import Logic
from pipec.store import Store

PIPELINE = """
from pipec import PipelineController

def read_env():
    import os
    return os.environ.get("PIPEC_FORK_TEST"), os.environ["MPLBACKEND"]

pipe = PipelineController(name="fork-env", project="tests")
pipe.add_function_step(name="read", function=read_env, function_return=["value", "backend"])
"""


def read_env(path: Path, store: Path) -> tuple[str, str]:
    """Run the pipeline on the local target in this process; what its step saw."""
    options = RunOptions(target="local", storage=str(store), quiet=True)
    result = get_target("local").run(load_pipeline(str(path)), options, Logic())
    assert result.succeeded, result.summary
    run = scheduled.open_run(str(store), "fork-env", result.summary["run_id"])
    outputs = run.step_record("read").outputs
    return run.load(outputs["value"]), run.load(outputs["backend"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_each_attempt_sees_the_environment_of_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fork_env.py"
    path.write_text(textwrap.dedent(PIPELINE))
    monkeypatch.setenv("PIPEC_FORK_TEST", "first")
    assert read_env(path, tmp_path / "store") == ("first", "Agg")
    monkeypatch.setenv("PIPEC_FORK_TEST", "second")  # the server has started by now
    assert read_env(path, tmp_path / "store") == ("second", "Agg")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_failing_attempt_reports_its_exit_code_and_output(tmp_path: Path) -> None:
    call = StepCall(
        store=str(tmp_path / "nothing"), pipeline="p", run_id="r", step="s", project_dir="."
    )
    proc = forkserver.spawn(call, 1)
    assert proc.stdout is not None
    output = proc.stdout.read()
    assert proc.wait(timeout=60) == 1
    assert "FileNotFoundError" in output


SLOW = """
from pipec import PipelineController

def slow():
    import time
    time.sleep(30)
    return 1

pipe = PipelineController(name="watched", project="tests")
pipe.add_function_step(name="slow", function=slow, function_return=["value"])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_watched_attempt_is_aborted_when_the_run_is_stopped(tmp_path: Path) -> None:
    """What an engine's step task relies on for `abort_on_failure`: another task's `stop`
    reaches an attempt already running."""
    path = tmp_path / "watched.py"
    path.write_text(textwrap.dedent(SLOW))
    store = Store.resolve(str(tmp_path / "store"))
    run, record = runs.begin(store, load_pipeline(str(path)), "r1", "local", {})
    scheduled.write_specs(run, record)
    step = run.step("slow")
    call = StepCall(
        store=store.url, pipeline="watched", run_id="r1", step="slow", project_dir=str(tmp_path)
    )
    lifecycle = Lifecycle(run=run, controller=None, target="local", engine_retries=True)
    stopper = threading.Timer(0.5, scheduled.stop, args=(run,))
    stopper.start()
    started = time.monotonic()
    record = lifecycle.run_node(
        Node.of(step),
        step,
        lambda number, _: scheduled.watch_attempt(
            run, call, number, echo=print, interrupts=(), interrupted=""
        ),
    )
    stopper.join()
    assert record.status == "aborted"
    assert "the pipeline was stopped" in (record.error or "")
    assert time.monotonic() - started < 10


def _children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_attempts_start_in_a_spare_forked_ahead_and_survive_its_loss(tmp_path: Path) -> None:
    call = StepCall(
        store=str(tmp_path / "nothing"), pipeline="p", run_id="r", step="s", project_dir="."
    )
    forkserver.spawn(call, 1).wait(timeout=60)  # the server is up, with its spare
    server = forkserver._client().server.pid
    deadline = time.monotonic() + 30
    while len(spares := _children(server)) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (spare,) = spares
    proc = forkserver.spawn(call, 1)
    assert proc.pid == spare  # the attempt went to the child waiting for it
    assert proc.wait(timeout=60) == 1
    while len(spares := _children(server)) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (next_spare,) = spares
    assert next_spare != spare
    os.kill(next_spare, 9)  # a spare lost while it waits: the next attempt gets a new one
    while Path(f"/proc/{next_spare}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # reaped by the server
    proc = forkserver.spawn(call, 1)
    assert proc.stdout is not None
    assert "FileNotFoundError" in proc.stdout.read()
    assert proc.wait(timeout=60) == 1


def test_the_warm_up_attempt_completes_and_leaves_nothing() -> None:
    """What a spare runs before its attempt: the shim's own path, on a throwaway run."""
    record = forkserver.warm_up_attempt()
    assert (record.status, record.error) == ("completed", None)
    assert Store("memory://pipec-warm-up").listdir("") == []
