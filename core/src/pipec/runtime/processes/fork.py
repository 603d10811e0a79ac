"""Step processes forked directly from the caller's own process: one per attempt.

The simple choice where the caller is itself a process made for one step, as an Airflow
task is: a fork costs milliseconds where a new interpreter costs ~0.3 s, and there are
no later attempts in the process for a fork server's warm, reused processes to pay off
on. A step process starts as a copy of the caller, so its environment, working
directory, `sys.path` and imported modules are the caller's as they are when the
attempt starts (a module edited since the caller imported it is not imported afresh).

Only the forking thread lives on in the child, and a lock another thread held stays held
there. So the child writes through output streams of its own, on its pipe, rather than
the caller's (which another thread may be writing to, or an engine may have redirected
into its log), drops the caller's signal handlers (an engine's timeout, an event loop's
wake-up descriptor), and leaves with `os._exit`, running none of the caller's exit
handlers and flushing none of its buffers. Forks, and the pipes they inherit, are made
one at a time: a step process must not hold another attempt's pipe open, or that
attempt's reader would not see the end of its output until both ended.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import IO, NoReturn

import fsspec.config

from pipec.runtime.processes import prologue
from pipec.runtime.processes.step_process import step_env
from pipec.runtime.runstore import StepCall

_FORKING = threading.Lock()

POLL_MIN, POLL_MAX = 0.0001, 0.02
"""Shortest and longest pause, in seconds, between looks at whether an attempt's process
has ended; a tenth of its age in between, so waiting adds a small fraction to a short
attempt's time and few wake-ups to a long one's."""


def spawn(call: StepCall, attempt: int) -> ForkedAttempt:
    """Start attempt `attempt` of `call`'s step in a process forked from this one."""
    args = [call.model_dump_json(), str(attempt)]
    # what an attempt's environment adds to this one, found here, where it is cheap: in
    # the child each page first written to is copied
    env = {name: value for name, value in step_env().items() if os.environ.get(name) != value}
    with _FORKING:
        read, write = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(read)
            os.close(write)
            raise
        if pid == 0:
            os.close(read)
            _attempt(args, env, write)
        os.close(write)
    stdout = open(read, encoding="utf-8", errors="replace")  # noqa: SIM115 (the caller's)
    return ForkedAttempt(pid, stdout)


def _attempt(args: list[str], env: dict[str, str], out: int) -> NoReturn:
    """In the child: run the attempt with `env` added to the environment and its output
    on `out`, and exit with its status."""
    code = 1
    try:
        # the caller's streams stay referenced until the exit: freed, one would flush what
        # the caller had buffered in it (or wait for its lock, held by a thread not here)
        callers = sys.stdout, sys.stderr  # noqa: F841
        sys.stdout, sys.stderr = _stream(1), _stream(2)
        _default_signals()
        prologue.output_to(out)
        os.environ.update(env)
        prologue.read_fsspec_env(fsspec.config.conf)
        code = prologue.run(args)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _stream(fd: int) -> io.TextIOWrapper:
    """A text stream on `fd` as `PYTHONUNBUFFERED` makes a new interpreter's stdout: each
    write goes straight to the descriptor."""
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        raw, encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True
    )


def _default_signals() -> None:
    """The signal handling a new interpreter starts with: signals the caller catches get
    their default action again (SIGINT raises `KeyboardInterrupt`), those it ignores stay
    ignored, as across `exec`."""
    signal.set_wakeup_fd(-1)
    for number in signal.valid_signals():
        handler = signal.getsignal(number)
        if number == signal.SIGINT and handler is not signal.SIG_IGN:
            signal.signal(number, signal.default_int_handler)
        elif callable(handler):
            signal.signal(number, signal.SIG_DFL)


class ForkedAttempt:
    """An attempt's process forked from this one, waited on and killed as `Popen`'s is."""

    def __init__(self, pid: int, stdout: IO[str]) -> None:
        self.pid = pid
        self.stdout: IO[str] | None = stdout
        self.returncode: int | None = None
        self._started = time.monotonic()

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code (negative: the signal that ended it), once it has ended; raises
        `subprocess.TimeoutExpired` if it has not within `timeout` seconds."""
        if timeout is None:
            self._reap(0)
        else:
            deadline = time.monotonic() + timeout
            while not self._reap(os.WNOHANG):
                now = time.monotonic()
                if now >= deadline:
                    raise subprocess.TimeoutExpired(f"pipec step process {self.pid}", timeout)
                pause = max(POLL_MIN, min(POLL_MAX, (now - self._started) / 10))
                time.sleep(min(pause, deadline - now))
        assert self.returncode is not None
        return self.returncode

    def _reap(self, options: int) -> bool:
        """Whether the process has ended, collecting its exit status if it just has."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, options)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode is not None

    def kill(self) -> None:
        """SIGKILL, unless it has been reaped: its pid may be another process's by now."""
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)
