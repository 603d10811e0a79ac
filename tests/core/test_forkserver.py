"""Attempts forked from the fork server behave like fresh `python -m pipec.runtime.shim`
processes: they see the caller's environment as it is when the attempt starts, not as it
was when the server started, and they end or are killed like any process."""

from __future__ import annotations

import contextlib
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
def test_a_spare_waits_for_the_next_attempt_and_its_loss_is_survived(tmp_path: Path) -> None:
    call = StepCall(
        store=str(tmp_path / "nothing"), pipeline="p", run_id="r", step="s", project_dir="."
    )
    forkserver.spawn(call, 1).wait(timeout=60)  # the server is up, with a spare
    server = forkserver._client().server.pid
    deadline = time.monotonic() + 30
    while len(waiting := _children(server)) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in waiting:  # every process waiting for an attempt is lost
        with contextlib.suppress(ProcessLookupError):  # or retired, and gone already
            os.kill(pid, 9)
    while any(Path(f"/proc/{pid}").exists() for pid in waiting) and time.monotonic() < deadline:
        time.sleep(0.05)  # reaped by the server
    proc = forkserver.spawn(call, 1)
    assert proc.pid not in waiting
    assert proc.stdout is not None
    assert "FileNotFoundError" in proc.stdout.read()
    assert proc.wait(timeout=60) == 1


REUSE = """
from pipec import PipelineController

def dirty():
    import os, sys
    os.environ["PIPEC_LEFT_BEHIND"] = "1"
    sys.path.insert(0, "/left/behind")
    sys.argv.append("left-behind")
    return os.getpid()

def clean(pid):
    import os, sys
    return [
        pid == os.getpid(),
        "PIPEC_LEFT_BEHIND" in os.environ,
        "/left/behind" in sys.path,
        "left-behind" in sys.argv,
    ]

def threads():
    import os, threading, time
    threading.Thread(target=time.sleep, args=(0.5,)).start()
    return os.getpid()

def after(pid):
    import os
    return pid == os.getpid()

def big():
    import os
    kept = b"x" * (600 << 20)
    return os.getpid() + 0 * len(kept)

def fails(log):
    import os
    with open(log, "a") as out:
        out.write(f"{os.getpid()}\\n")
    raise RuntimeError("planned")

pipe = PipelineController(name="reuse", project="tests")
pipe.add_parameter("log", "")
pipe.add_function_step(name="dirty", function=dirty, function_return=["pid"])
pipe.add_function_step(name="clean", function=clean, function_kwargs=dict(pid="${dirty.pid}"),
                       function_return=["seen"])
pipe.add_function_step(name="threads", function=threads, function_return=["pid"],
                       parents=["clean"])
pipe.add_function_step(name="after", function=after, function_kwargs=dict(pid="${threads.pid}"),
                       function_return=["same"])
pipe.add_function_step(name="big", function=big, function_return=["pid"], parents=["after"])
pipe.add_function_step(name="after_big", function=after,
                       function_kwargs=dict(pid="${big.pid}"), function_return=["same"])
pipe.add_function_step(name="fails", function=fails, function_kwargs=dict(log="${pipeline.log}"),
                       retry_on_failure=1, parents=["after_big"])
"""


def run_reuse(tmp_path: Path) -> tuple[dict[str, object], list[str]]:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "reuse.py"
    path.write_text(textwrap.dedent(REUSE))
    log = tmp_path / "pids.log"
    store = tmp_path / "store"
    options = RunOptions(target="local", storage=str(store), params={"log": str(log)}, quiet=True)
    result = get_target("local").run(load_pipeline(str(path)), options, Logic())
    run = scheduled.open_run(str(store), "reuse", result.summary["run_id"])
    values = {}
    for step, output in (
        ("dirty", "pid"), ("clean", "seen"), ("after", "same"), ("after_big", "same")
    ):  # fmt: skip
        values[step] = run.load(run.step_record(step).outputs[output])
    return values, log.read_text().split()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_step_process_takes_the_next_attempt_with_nothing_of_the_last(tmp_path: Path) -> None:
    """A completed attempt's process runs the next one (the chain's next step); the
    environment, `sys.path` and `sys.argv` the last step changed are the caller's again."""
    values, _ = run_reuse(tmp_path)
    assert values["clean"] == [True, False, False, False]


PID = """
from pipec import PipelineController

def pid():
    import os
    return os.getpid()

pipe = PipelineController(name="pid", project="tests")
pipe.add_function_step(name="pid", function=pid, function_return=["pid"])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_step_process_serves_one_run(tmp_path: Path) -> None:
    """A later run, perhaps of an edited pipeline, gets processes with fresh imports."""
    path = tmp_path / "pid.py"
    path.write_text(textwrap.dedent(PID))
    pids = []
    for _ in range(2):
        options = RunOptions(target="local", storage=str(tmp_path / "store"), quiet=True)
        result = get_target("local").run(load_pipeline(str(path)), options, Logic())
        run = scheduled.open_run(str(tmp_path / "store"), "pid", result.summary["run_id"])
        pids.append(run.load(run.step_record("pid").outputs["pid"]))
    assert pids[0] != pids[1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_process_left_with_a_thread_a_failure_or_much_memory_is_not_reused(
    tmp_path: Path,
) -> None:
    values, failed = run_reuse(tmp_path)
    assert values["after"] is False  # `threads` left one running: `after` got a new process
    assert values["after_big"] is False  # `big` grew its process past REUSE_MEMORY
    assert len(failed) == 2 and failed[0] != failed[1]  # the retry of a failure, likewise


LATE_KILL = """
from pipec import PipelineController

def first():
    import os
    return os.getpid()

def second(pid):
    import os, time
    time.sleep(1.5)
    return pid == os.getpid()

pipe = PipelineController(name="late-kill", project="tests")
pipe.add_function_step(name="first", function=first, function_return=["pid"])
pipe.add_function_step(name="second", function=second, function_kwargs=dict(pid="${first.pid}"),
                       function_return=["same"])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
def test_a_kill_reaches_its_own_attempt_only(tmp_path: Path) -> None:
    """A late kill of an attempt that has ended is not taken out on the next attempt its
    process runs."""
    path = tmp_path / "late_kill.py"
    path.write_text(textwrap.dedent(LATE_KILL))
    store = tmp_path / "store"
    killed: list[int] = []

    def kill_the_ended_attempts() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = list(store.glob("runs/*/*/steps/second/step.json"))
            if records and '"running"' in records[0].read_text():
                client = forkserver._client()
                running = next(client.attempts) - 1  # `second`'s; all before it ended
                killed.extend(range(running))
                for attempt in killed:
                    client.kill(attempt)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_ended_attempts)
    killer.start()
    options = RunOptions(target="local", storage=str(store), quiet=True)
    result = get_target("local").run(load_pipeline(str(path)), options, Logic())
    killer.join()
    assert killed  # `first`'s attempt among them
    assert result.succeeded, result.summary
    run = scheduled.open_run(str(store), "late-kill", result.summary["run_id"])
    assert run.load(run.step_record("second").outputs["same"]) is True


def test_the_warm_up_attempt_completes_and_leaves_nothing() -> None:
    """What a spare runs before its attempt: the shim's own path, on a throwaway run."""
    record = forkserver.warm_up_attempt()
    assert (record.status, record.error) == ("completed", None)
    assert Store("memory://pipec-warm-up").listdir("") == []
