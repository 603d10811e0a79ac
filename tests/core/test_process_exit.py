"""Every process `pipec run --target local` starts has ended, and been reaped, when it
exits, and dies with it when it is killed.

Real processes throughout: `pipec run` runs under a small supervisor that is a child
subreaper (Linux's `PR_SET_CHILD_SUBREAPER`), so any process pipec leaves behind, still
running or an unreaped zombie, becomes the supervisor's child instead of init's, where
it is seen. Processes pipec started are found by a marker in their environment
(`/proc/PID/environ`), which every process they start inherits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import cli_env, pipec_executable

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc and uses Linux's prctl"
)

SUPERVISOR = r'''
import ctypes, json, os, signal, subprocess, sys, time

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
mode, mark, started, done, *argv = sys.argv[1:]


def procs():
    """(pid, ppid, state, environ has the mark, cmdline) of every process."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        try:  # a zombie has neither
            with open(f"/proc/{name}/environ", "rb") as f:
                marked = mark.encode() in f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            marked, cmdline = False, ""
        found.append((int(name), int(stat[1]), stat[0], marked, cmdline))
    return found


def left_behind():
    me = os.getpid()
    return {
        "orphans": [p for p in procs() if p[1] == me],  # reparented to this supervisor
        "marked": [p for p in procs() if p[3] and p[0] != me],  # still running
    }


env = dict(os.environ, PIPEC_TEST_MARK=mark)
proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
if mode != "exit":
    while not os.path.exists(started) and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is not None:
        print(json.dumps({"error": proc.stdout.read().decode(errors="replace")}))
        sys.exit(0)
    if mode == "kill-pipec":
        proc.kill()
    else:  # kill-server: the fork server dies without a chance to end its step processes
        (server,) = [p[0] for p in procs() if p[1] == proc.pid and "forkserver" in p[4]]
        os.kill(server, signal.SIGKILL)
output = proc.stdout.read().decode(errors="replace")
code = proc.wait()
report = {"code": code, "output": output, **left_behind()}
if mode != "exit":  # until what pipec started is gone, or the step finished its work
    while left_behind()["marked"] and not os.path.exists(done):
        time.sleep(0.02)
    report.update(left_behind(), done=os.path.exists(done))
print(json.dumps(report))
'''


def step_pipeline(folder: Path, steps: int, body: str) -> Path:
    """A controller pipeline of `steps` independent steps running `body`."""
    path = folder / "pipeline.py"
    lines = [
        "from pipec import PipelineController",
        "",
        "def work(x):",
        textwrap.indent(textwrap.dedent(body), "    "),
        "    return x + 1",
        "",
        "pipe = PipelineController(name='reaped', project='tests')",
    ]
    lines += [
        f"pipe.add_function_step(name='s{i}', function=work, function_kwargs={{'x': {i}}}, "
        "function_return=['y'])"
        for i in range(steps)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def supervised(mode: str, pipeline: Path, folder: Path, pipec_home: Path) -> dict:
    store = folder / "store"
    started, done = folder / "started", folder / "done"
    argv = [pipec_executable(), "run", str(pipeline), "--target", "local", "--storage", str(store)]
    proc = subprocess.run(
        [sys.executable, "-c", SUPERVISOR, mode, uuid.uuid4().hex, str(started), str(done), *argv],
        cwd=folder,
        env=cli_env(pipec_home),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "error" not in report, report["error"]
    return report


def test_every_process_pipec_run_started_has_ended_and_been_reaped_when_it_exits(
    tmp_path: Path, pipec_home: Path
) -> None:
    pipeline = step_pipeline(tmp_path, 4, "pass")
    report = supervised("exit", pipeline, tmp_path, pipec_home)
    assert report["code"] == 0, report["output"]
    assert report["orphans"] == [], "left running or unreaped when pipec exited"
    assert report["marked"] == [], "still running when pipec exited"


SLOW_STEP = """
import os, pathlib, time
folder = pathlib.Path(os.environ["PIPEC_TEST_FOLDER"])
(folder / "started").write_text("")
time.sleep(30)
(folder / "done").write_text("")
"""


@pytest.mark.parametrize("mode", ["kill-pipec", "kill-server"])
def test_the_step_processes_die_with_pipec_and_with_the_fork_server(
    mode: str, tmp_path: Path, pipec_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed outright (SIGKILL: nothing runs in the killed process), pipec's fork server
    sees its socket close and ends its step processes; a fork server killed outright takes
    its step processes with it (the kernel kills them). The step would write `done` after
    30 s of sleep: it must not get there."""
    monkeypatch.setenv("PIPEC_TEST_FOLDER", str(tmp_path))
    pipeline = step_pipeline(tmp_path, 1, SLOW_STEP)
    report = supervised(mode, pipeline, tmp_path, pipec_home)
    assert report["code"] != 0, report["output"]
    assert not report["done"], "a step process outlived what was killed"
    assert report["marked"] == []
