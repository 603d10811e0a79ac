"""Every implementation of step processes gives attempts that behave like fresh
`python -m pipec.runtime.attempt` processes: they see the caller's environment as it is
when the attempt starts (not as it was when a fork server started), they end or are
killed like any process, a kill reaches its own attempt only, and nothing of them is left
behind. Then what the fork server does besides: it reuses a step process when fit, for
one run only, and keeps a warmed spare."""

from __future__ import annotations

import contextlib
import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from pipec.adapter import EngineRun
from pipec.capture.session import load_pipeline
from pipec.contract import Logic, RunOptions
from pipec.plugins import get_target
from pipec.runtime import watch
from pipec.runtime.node import Node
from pipec.runtime.processes import ENV, IMPLEMENTATIONS, StepProcess, forkserver, spawn
from pipec.runtime.runstore import StepCall, open_run
from pipec.runtime.step import Lifecycle
from pipec.store import Store

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: plain subprocesses")
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")


@pytest.fixture(params=list(IMPLEMENTATIONS))
def how(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """An implementation of step processes: the one every scheduler uses in the test."""
    monkeypatch.setenv(ENV, request.param)
    return request.param


@pytest.fixture
def on_forkserver(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork server as every scheduler's step processes, whatever the environment says."""
    monkeypatch.setenv(ENV, "forkserver")


def failing_call(tmp_path: Path) -> StepCall:
    """A step in a store that is not there: its attempt fails at once."""
    return StepCall(
        store=str(tmp_path / "nothing"), pipeline="p", run_id="r", step="s", project_dir="."
    )


def _children(pid: int, *, zombies: bool = False) -> list[int]:
    """The child processes of `pid` (Linux's /proc): the live ones, with `zombies` also
    those that ended and were not reaped."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and (zombies or fields[0] != "Z"):
            found.append(int(entry.name))
    return found


# ------------------------------------------------------------------ every implementation

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
    run = open_run(str(store), "fork-env", result.summary["run_id"])
    outputs = run.step_record("read").outputs
    return run.load(outputs["value"]), run.load(outputs["backend"])


@needs_fork
def test_each_attempt_sees_the_environment_of_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = tmp_path / "fork_env.py"
    path.write_text(textwrap.dedent(PIPELINE))
    monkeypatch.setenv("PIPEC_FORK_TEST", "first")
    assert read_env(path, tmp_path / "store") == ("first", "Agg")
    monkeypatch.setenv("PIPEC_FORK_TEST", "second")  # a fork server has started by now
    assert read_env(path, tmp_path / "store") == ("second", "Agg")


@needs_fork
def test_a_failing_attempt_reports_its_exit_code_and_output(tmp_path: Path, how: str) -> None:
    proc = spawn(failing_call(tmp_path), 1, how)
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


@needs_fork
def test_a_watched_attempt_is_aborted_when_the_run_is_stopped(tmp_path: Path, how: str) -> None:
    """What an engine's step task relies on for `abort_on_failure`: another task's `stop`
    reaches an attempt already running."""
    path = tmp_path / "watched.py"
    path.write_text(textwrap.dedent(SLOW))
    store = Store.resolve(str(tmp_path / "store"))
    engine_run = EngineRun.begin(store, load_pipeline(str(path)), "r1", "local", {})
    run = engine_run.state
    step = run.step("slow")
    lifecycle = Lifecycle(run=run, controller=None, target="local", engine_retries=True)
    stopper = threading.Timer(0.5, engine_run.stop)
    stopper.start()
    started = time.monotonic()
    record = lifecycle.run_node(
        Node.of(step),
        step,
        lambda number, _: engine_run.attempt(
            "slow", number, project_dir=str(tmp_path), echo=print, processes=how
        ),
    )
    stopper.join()
    assert record.status == "aborted"
    assert "the pipeline was stopped" in (record.error or "")
    assert time.monotonic() - started < 10


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


@needs_fork
def test_a_kill_reaches_its_own_attempt_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A late kill of an attempt that has ended is not taken out on the next attempt, not
    even when the fork server runs it in the same process."""
    path = tmp_path / "late_kill.py"
    path.write_text(textwrap.dedent(LATE_KILL))
    store = tmp_path / "store"
    started: list[StepProcess] = []
    killed: list[object] = []

    def spawn_and_keep(call: StepCall, attempt: int, processes: str) -> StepProcess:
        proc = spawn(call, attempt, processes)
        started.append(proc)
        return proc

    monkeypatch.setattr(watch, "spawn", spawn_and_keep)

    def kill_the_ended_attempts() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = list(store.glob("runs/*/*/steps/second/step.json"))
            if records and '"running"' in records[0].read_text():
                ended = [proc for proc in started if proc.returncode is not None]  # `first`'s
                for proc in ended:
                    proc.kill()
                killed.extend(ended)
                if how == "forkserver":  # by attempt, as the server knows them, too
                    client = forkserver._client()
                    running = next(client.attempts) - 1  # `second`'s; all before it ended
                    killed.extend(range(running))
                    for attempt in range(running):
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
    run = open_run(str(store), "late-kill", result.summary["run_id"])
    # the fork server runs `second` in `first`'s process; the others in a new one
    assert run.load(run.step_record("second").outputs["same"]) is (how == "forkserver")


@needs_proc
def test_nothing_is_left_over_after_an_attempt(tmp_path: Path, how: str) -> None:
    """Once an attempt has ended and its output been read, its process is reaped and none
    of its descriptors is left open here."""
    call = failing_call(tmp_path)
    spawn(call, 1, how).wait(timeout=60)  # whatever an implementation keeps is up by now
    children = set(_children(os.getpid(), zombies=True))
    fds = set(os.listdir("/proc/self/fd"))
    proc = spawn(call, 1, how)
    assert proc.stdout is not None
    with proc.stdout:
        assert "FileNotFoundError" in proc.stdout.read()
    assert proc.wait(timeout=60) == 1
    assert set(_children(os.getpid(), zombies=True)) <= children
    assert set(os.listdir("/proc/self/fd")) <= fds


# ------------------------------------------------------------------ the fork server's own


@needs_proc
def test_a_spare_waits_for_the_next_attempt_and_its_loss_is_survived(tmp_path: Path) -> None:
    call = failing_call(tmp_path)
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
    run = open_run(str(store), "reuse", result.summary["run_id"])
    values = {}
    for step, output in (
        ("dirty", "pid"), ("clean", "seen"), ("after", "same"), ("after_big", "same")
    ):  # fmt: skip
        values[step] = run.load(run.step_record(step).outputs[output])
    return values, log.read_text().split()


@needs_fork
@pytest.mark.usefixtures("on_forkserver")
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


@needs_fork
@pytest.mark.usefixtures("on_forkserver")
def test_a_step_process_serves_one_run(tmp_path: Path) -> None:
    """A later run, perhaps of an edited pipeline, gets processes with fresh imports."""
    path = tmp_path / "pid.py"
    path.write_text(textwrap.dedent(PID))
    pids = []
    for _ in range(2):
        options = RunOptions(target="local", storage=str(tmp_path / "store"), quiet=True)
        result = get_target("local").run(load_pipeline(str(path)), options, Logic())
        run = open_run(str(tmp_path / "store"), "pid", result.summary["run_id"])
        pids.append(run.load(run.step_record("pid").outputs["pid"]))
    assert pids[0] != pids[1]


@needs_fork
@pytest.mark.usefixtures("on_forkserver")
def test_a_process_left_with_a_thread_a_failure_or_much_memory_is_not_reused(
    tmp_path: Path,
) -> None:
    values, failed = run_reuse(tmp_path)
    assert values["after"] is False  # `threads` left one running: `after` got a new process
    assert values["after_big"] is False  # `big` grew its process past REUSE_MEMORY
    assert len(failed) == 2 and failed[0] != failed[1]  # the retry of a failure, likewise


def test_the_warm_up_attempt_completes_and_leaves_nothing() -> None:
    """What a spare runs before its attempt: the shim's own path, on a throwaway run."""
    record = forkserver.warm_up_attempt()
    assert (record.status, record.error) == ("completed", None)
    assert Store("memory://pipec-warm-up").listdir("") == []
