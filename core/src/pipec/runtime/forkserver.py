"""Step processes forked from a warm server, so an attempt does not pay for Python's start.

`python -m pipec.runtime.shim` costs ~0.3 s per attempt (interpreter start and pipec's
imports) before the step does anything, which dwarfs small steps. Here one server
process per pipec process (`python -m pipec.runtime.forkserver`) imports the shim once;
each attempt is a fork of it. The attempt is still its own process, as ClearML's steps
are: its own working directory and environment, killable on `time_limit` or a pipeline
stop, a crash confined to it, and independent steps truly in parallel. The server is
single-threaded and forks before anything starts threads, so forking it is safe (forking
the engine's process, full of threads, would not be).

`spawn` is what schedulers call; it gives a `StepProcess` with the part of
`subprocess.Popen` they use, and falls back to a plain subprocess where there is no
`fork` (Windows).

The server keeps one child forked ahead of need (a spare, waiting for its attempt on a
socket of its own), so an attempt starts without waiting for a fork (~5 ms for the
server's size on a small VM), and forks the next spare while the attempt runs.

Protocol, over a Unix socket pair: a message is a 4-byte length and JSON, optionally with
file descriptors. `start` (with the attempt's stdout and status pipes) is answered with
the child's pid; `kill` has no answer. The server writes each child's exit code (negative:
the signal that ended it, as `Popen.returncode`) to its status pipe when it reaps it, so
a kill can never reach a recycled pid.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import json
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

import fsspec.config
from pipec.records import StepRecord
from pipec.runtime.context import RunFiles, StepCall

_LENGTH = struct.Struct("!I")
_CODE = struct.Struct("!i")


class StepProcess(Protocol):
    """What schedulers use of an attempt's process (a subset of `subprocess.Popen`)."""

    pid: int
    stdout: IO[str] | None
    returncode: int | None

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def step_env() -> dict[str, str]:
    """An attempt's environment: this process's, headless (no plot windows), unbuffered."""
    return {"MPLBACKEND": "Agg", **os.environ, "PYTHONUNBUFFERED": "1"}


def spawn(call: StepCall, attempt: int) -> StepProcess:
    """Start attempt `attempt` of `call`'s step in its own process; its stdout and stderr
    are the process's `stdout` (text)."""
    args = [call.model_dump_json(), str(attempt)]
    if not hasattr(os, "fork"):  # Windows
        return subprocess.Popen(
            [sys.executable, "-m", "pipec.runtime.shim", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=step_env(),
        )
    return _client().start(args, step_env(), os.getcwd())


def forward(proc: StepProcess, echo: Callable[[str], None]) -> None:
    """Hand each line the attempt prints to `echo`, until it closes its output."""
    assert proc.stdout is not None
    for line in proc.stdout:
        echo(line.rstrip())


# ------------------------------------------------------------------ framing


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [_LENGTH.pack(len(data))], fds)
        sock.sendall(data)
    else:
        sock.sendall(_LENGTH.pack(len(data)) + data)


def _exactly(sock: socket.socket, n: int, head: bytes = b"") -> bytes:
    data = head
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the other end of the pipec fork server closed")
        data += chunk
    return data


def _recv(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    head, fds, _, _ = socket.recv_fds(sock, _LENGTH.size, 2)
    (length,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size, head))
    return json.loads(_exactly(sock, length)), fds


# ------------------------------------------------------------------ the client side


class ForkedProcess:
    """An attempt forked by the server: waited on through its status pipe."""

    def __init__(self, client: _Client, pid: int, stdout: IO[str], status: int) -> None:
        self._client = client
        self.pid = pid
        self.stdout: IO[str] | None = stdout
        self.returncode: int | None = None
        self._status = status

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            poller = select.poll()  # not select(): many steps at once use fds above 1024
            poller.register(self._status, select.POLLIN)
            if not poller.poll(None if timeout is None else timeout * 1000):
                raise subprocess.TimeoutExpired(f"pipec step process {self.pid}", timeout or 0)
            data = os.read(self._status, _CODE.size)
            os.close(self._status)
            # no code: the server went away, and it kills its children when it does
            self.returncode = _CODE.unpack(data)[0] if data else -signal.SIGKILL
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            self._client.kill(self.pid)


class _Client:
    """This process's connection to its fork server."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "pipec.runtime.forkserver", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self.sock = mine
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.server.poll() is None

    def start(self, args: list[str], env: dict[str, str], cwd: str) -> ForkedProcess:
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            with self.lock:
                _send(self.sock, {"start": args, "env": env, "cwd": cwd}, [out_w, status_w])
                reply, _ = _recv(self.sock)
        except BaseException:
            os.close(out_r)
            os.close(status_r)
            raise
        finally:
            os.close(out_w)
            os.close(status_w)
        if "error" in reply:
            os.close(out_r)
            os.close(status_r)
            raise OSError(f"pipec fork server: {reply['error']}")
        stdout = open(out_r, encoding="utf-8", errors="replace")  # noqa: SIM115 (the caller's)
        return ForkedProcess(self, reply["pid"], stdout, status_r)

    def kill(self, pid: int) -> None:
        with self.lock, contextlib.suppress(OSError):
            _send(self.sock, {"kill": pid})

    def close(self) -> None:
        self.sock.close()  # the server kills what still runs and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.server.wait(timeout=5)


_CLIENT: _Client | None = None
_CLIENT_LOCK = threading.Lock()


def _client() -> _Client:
    """The fork server of this process, started on first use (again if it died)."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None or not _CLIENT.alive():
            _CLIENT = _Client()
            atexit.register(_CLIENT.close)
        return _CLIENT


# ------------------------------------------------------------------ the server side


def _child(message: dict[str, Any], out: int, start_dir: str) -> int:
    """In the forked child: become `python -m pipec.runtime.shim ARGS` started in `cwd`."""
    from pipec.runtime import shim

    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, write_through=True)  # type: ignore[union-attr]
    os.environ.clear()
    os.environ.update(message["env"])
    # fsspec reads its `FSSPEC_<PROTOCOL>...` settings (storage credentials, endpoints)
    # from the environment when imported: read them from this attempt's, as a new
    # interpreter would
    fsspec.config.set_conf_env(fsspec.config.conf)
    os.chdir(message["cwd"])
    # `python -m` puts the directory it starts in first on sys.path
    sys.path[:] = [message["cwd"] if p == start_dir else p for p in sys.path]
    sys.argv[:] = ["-m", *message["start"]]
    try:
        return shim.main(message["start"])
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1


def serve(sock: socket.socket) -> None:
    """Fork one child per `start`; report each one's exit code when it ends."""
    import pipec.runtime.shim  # noqa: F401 (the point of the server: imported once)
    from pipec import plugins

    plugins.plugin_manager()  # the plugins' entry points (serializers), loaded once too
    _warm_up()  # what an attempt imports or caches on first use, loaded once too
    # what is loaded now is shared with every child: keep the collector from walking it
    # there (which would copy each page it touches into the child)
    gc.collect()
    gc.freeze()

    start_dir = os.getcwd()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so SIGCHLD wakes the loop
    children: dict[int, int] = {}  # pid -> status pipe

    def fork_spare() -> _Spare | None:
        return _fork_spare([sock.fileno(), wake_r, wake_w, *children.values()], start_dir)

    spare = fork_spare()
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                os.read(wake_r, 512)
                ended = _reap(children)
                if spare is not None and spare.pid in ended:  # killed while it waited
                    spare.sock.close()
                    spare = None
                continue
            try:
                message, fds = _recv(sock)
            except (EOFError, ConnectionError):  # the pipec process is gone: so are its steps
                for pid in [*children, *([spare.pid] if spare else [])]:
                    os.kill(pid, signal.SIGKILL)
                return
            if "kill" in message:
                if message["kill"] in children:  # not reaped yet: the pid is still the child's
                    os.kill(message["kill"], signal.SIGKILL)
                continue
            out, status = fds
            child, spare = spare or fork_spare(), None
            while child is not None and not _hand_over(child, message, out):
                child = fork_spare()  # it was killed while it waited (not reaped yet)
            if child is None:
                os.close(out)
                os.close(status)
                _send(sock, {"error": "cannot fork a step process"})
                continue
            os.close(out)
            children[child.pid] = status
            _send(sock, {"pid": child.pid})
            spare = fork_spare()  # the next attempt's, forked while this one runs


@dataclass
class _Spare:
    """A child forked ahead of need, waiting on a socket of its own for its attempt."""

    pid: int
    sock: socket.socket


def _hand_over(child: _Spare, message: dict[str, Any], out: int) -> bool:
    """Give `child` its attempt, which starts at once; False if the child is gone."""
    try:
        _send(child.sock, message, [out])
        return True
    except OSError:
        return False
    finally:
        child.sock.close()


def _fork_spare(server_fds: list[int], start_dir: str) -> _Spare | None:
    """Fork a child that waits for one `start` message (and its stdout) and then becomes
    that attempt; `server_fds` are closed in it. None if the fork fails."""
    mine, its = socket.socketpair()
    try:
        pid = os.fork()
    except OSError:
        mine.close()
        its.close()
        return None
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            mine.close()
            for fd in server_fds:
                os.close(fd)
            if not select.select([its], [], [], 0)[0]:  # no attempt waiting for it yet
                _warm_up()
            try:
                message, (out,) = _recv(its)
            except (EOFError, ConnectionError):  # the server ended before it had an attempt
                code = 0
            else:
                its.close()
                code = _child(message, out, start_dir)
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    its.close()
    return _Spare(pid, mine)


def _warm_up() -> None:
    """Run one attempt of a throwaway step in memory, before any real attempt.

    In the server it loads what an attempt loads on first use. In a spare it copies the
    pages an attempt writes to (reference counts, caches; a forked child copies each page
    of the server it writes to): ~1000 pages, ~5 ms, in an attempt's first run through the
    shim, paid while the spare waits, which leaves the real attempt ~100. A failure here
    does not matter: the attempt then pays for it."""
    quiet = io.StringIO()
    with (
        contextlib.suppress(Exception),
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
    ):
        warm_up_attempt()


def warm_up_attempt() -> StepRecord:
    """The throwaway attempt `_warm_up` runs: a one-step run in `memory://`, written by
    hand (plugins see no run) and removed after."""
    from pipec.ir import LiteralValue, Pipeline, SourceLocation, Step, StepCode
    from pipec.runtime import shim
    from pipec.store import Store

    here = SourceLocation(file="<pipec warm-up>", line=1)
    code = StepCode(kind="function", source="def warm(x):\n    return x + 1\n", entrypoint="warm",
                    hash="warm-up")  # fmt: skip
    step = Step(name="warm", kind="function", code=code, inputs={"x": LiteralValue(value=1)},
                outputs=["y"], location=here)  # fmt: skip
    pipeline = Pipeline(name="pipec-warm-up", style="controller", source=here, steps=[step],
                        pipec_version="warm-up")  # fmt: skip
    store = Store("memory://pipec-warm-up")
    files = RunFiles(pipeline.name, "warm-up")
    try:
        store.write_model(files.head, pipeline)
        store.write_model(files.step_spec(step.name), step)
        record = StepRecord(name=step.name, id="warm-up", status="running")
        store.write_model(files.step_record(step.name), record)
        call = StepCall(store=store.url, pipeline=pipeline.name, run_id="warm-up", step="warm",
                        project_dir=os.getcwd())  # fmt: skip
        return shim.execute(call, 1)
    finally:
        store.remove("")


def _reap(children: dict[int, int]) -> list[int]:
    """Report the exit code of every child that ended; returns the pids reaped."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)
        fd = children.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, _CODE.pack(os.waitstatus_to_exitcode(status)))
            os.close(fd)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
