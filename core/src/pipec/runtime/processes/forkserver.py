"""Step processes forked from a warm server, so an attempt does not pay for Python's start.

`python -m pipec.runtime.attempt` costs ~0.3 s per attempt (interpreter start and pipec's
imports) before the step does anything, which dwarfs small steps. Here one server
process per pipec process (`python -m pipec.runtime.processes.forkserver`) imports the shim once
and forks step processes from itself. An attempt runs in a step process, never in the
caller, as ClearML's steps do: in the caller's working directory and environment as they
are when the attempt starts, killable on `time_limit` or a pipeline stop, a crash
confined to it, independent steps truly in parallel. The server is single-threaded and
forks before anything starts threads, so forking it is safe (forking the engine's
process, full of threads, would not be).

A step process runs one attempt at a time, and takes another of the same run when its
attempt completed and left no (non-daemon) thread running: a fork, the pages a new process
copies on its first run through the shim, and its exit cost ~8 ms of CPU on a small VM,
more than the whole of pipec's own work for a step. Each attempt gets the caller's
environment, working directory, `sys.path` and `sys.argv` afresh; what a step's code
leaves in the modules it imported stays in that process, as in one of Prefect's or
Celery's pool workers. A process is not reused after a failed attempt, nor once it grew
past `REUSE_MEMORY`, nor for another run (a pipeline edited and run again in one Python
session gets fresh imports). Up to `IDLE` processes wait for attempts; one is always
forked and warmed ahead of need.

`spawn` is what schedulers call; it gives a `StepProcess` with the part of
`subprocess.Popen` they use, and falls back to a plain subprocess where there is no
`fork` (Windows).

Protocol, over Unix socket pairs: a message is a 4-byte length and JSON, optionally with
file descriptors. The caller's `start` (with the attempt's stdout and status pipes and an
attempt id) is answered with the step process's pid; `kill` (an attempt id) has no answer.
The server hands the attempt, its stdout and its status pipe to a step process on that
process's own socket. The process tells the server whether it can take another attempt,
then writes the attempt's exit status to the status pipe itself (so the server, before
it hands out the caller's next attempt, knows the process is free); when it dies during
the attempt, the server writes its exit code there instead (negative: the signal that
ended it, as `Popen.returncode`). A kill names the attempt, so it never reaches a
process's next attempt, nor a recycled pid.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import gc
import io
import itertools
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
from dataclasses import dataclass
from typing import IO, Any

import fsspec.config

from pipec.records import StepRecord
from pipec.runtime.processes import prologue
from pipec.runtime.processes.step_process import step_env
from pipec.runtime.runstore import RunFiles, StepCall

_LENGTH = struct.Struct("!I")
_CODE = struct.Struct("!i")


def spawn(call: StepCall, attempt: int) -> ForkedProcess:
    """Start attempt `attempt` of `call`'s step in a step process of this process's server."""
    args = [call.model_dump_json(), str(attempt)]
    return _client().start(args, step_env(), os.getcwd(), call.run_id)


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

    def __init__(
        self, client: _Client, attempt: int, pid: int, stdout: IO[str], status: int
    ) -> None:
        self._client = client
        self._attempt = attempt
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
            self._client.kill(self._attempt)


class _Client:
    """This process's connection to its fork server."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "pipec.runtime.processes.forkserver", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # out of the terminal's process group: a Ctrl-C reaches pipec only, which
            # stops the run and kills the attempts (none dies half-way on its own)
            start_new_session=True,
        )
        theirs.close()
        self.sock = mine
        self.lock = threading.Lock()
        self.attempts = itertools.count()

    def alive(self) -> bool:
        return self.server.poll() is None

    def start(self, args: list[str], env: dict[str, str], cwd: str, run: str) -> ForkedProcess:
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        attempt = next(self.attempts)
        message = {"start": args, "env": env, "cwd": cwd, "id": attempt, "run": run}
        try:
            with self.lock:
                _send(self.sock, message, [out_w, status_w])
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
        return ForkedProcess(self, attempt, reply["pid"], stdout, status_r)

    def kill(self, attempt: int) -> None:
        with self.lock, contextlib.suppress(OSError):
            _send(self.sock, {"kill": attempt})

    def close(self) -> None:
        """End the server and, through it, every step process: none outlives the caller."""
        self.sock.close()  # the server kills what still runs, reaps it, and exits
        try:
            self.server.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stuck: its step processes die with it
            self.server.kill()
            self.server.wait()


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


def _attempt(
    message: dict[str, Any],
    out: int,
    start_dir: str,
    base_path: list[str],
    base_conf: dict[str, Any],
) -> int:
    """In a step process: run one attempt as `python -m pipec.runtime.attempt ARGS` started in
    the caller's directory with the caller's environment would; its exit status."""
    prologue.output_to(out)
    os.environ.clear()
    os.environ.update(message["env"])
    prologue.read_fsspec_env(base_conf)
    os.chdir(message["cwd"])
    # `python -m` puts the directory it starts in first on sys.path
    sys.path[:] = [message["cwd"] if p == start_dir else p for p in base_path]
    return prologue.run(message["start"])


def _leaves_threads() -> bool:
    """Whether the attempt left a thread running that would outlive it in a new process
    too (a non-daemon one): such a process is not given another attempt."""
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


REUSE_MEMORY = 512 << 20
"""A process that grew past this (in bytes, at its peak) is not given another attempt: what
a big step leaves allocated (Python keeps much of it) would burden the next."""


def _grew() -> bool:
    import resource  # POSIX, as fork is

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
    return peak * (1 if sys.platform == "darwin" else 1024) > REUSE_MEMORY


def _work(sock: socket.socket, start_dir: str, warm: bool) -> int:
    """A step process: run the attempts the server hands over, one at a time, reporting
    each one's exit status, until the server closes the socket or an attempt leaves the
    process unfit for another (it failed, left a thread running, or grew past
    `REUSE_MEMORY`)."""
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, write_through=True)  # type: ignore[union-attr]
    if warm and not select.select([sock], [], [], 0)[0]:  # no attempt waiting for it yet
        _warm_up()
    base_path, base_conf = list(sys.path), copy.deepcopy(fsspec.config.conf)
    null = os.open(os.devnull, os.O_WRONLY)
    while True:
        try:
            message, (out, status) = _recv(sock)
        except (EOFError, ConnectionError):  # the server retired it, or is gone
            return 0
        code = _attempt(message, out, start_dir, base_path, base_conf)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(null, 1)  # the attempt's output ends here: its reader sees the end
        os.dup2(null, 2)
        fit = code == 0 and not _leaves_threads() and not _grew()
        try:  # the server first: it has this before the caller can ask for another attempt
            _send(sock, {"again": fit})
        except OSError:
            fit = False
        _report(status, code)  # to the caller directly, not through the server
        if not fit:
            return code


@dataclass
class _Worker:
    """A step process as the server sees it: its pid, the socket it is reached on, and the
    run its attempts were of (None: it has had none)."""

    pid: int
    sock: socket.socket
    run: str | None = None


@dataclass
class _Busy:
    """A step process running an attempt: where that attempt's exit status goes."""

    worker: _Worker
    status: int
    attempt: int


def _fork_worker(start_dir: str, *, warm: bool) -> _Worker | None:
    """Fork a step process (`_work`); with `warm` it runs the warm-up attempt while it
    waits for its first. None if the fork fails."""
    mine, its = socket.socketpair()
    server = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        mine.close()
        its.close()
        return None
    if pid == 0:
        code = 1
        try:
            _die_with(server)
            os.setpgid(0, 0)  # its group is the step's: what the step leaves in it is ended
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # none of the server's descriptors: its client socket, the other step
            # processes' sockets, the attempts' status pipes
            keep = its.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
            code = _work(its, start_dir, warm)
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    its.close()
    return _Worker(pid, mine)


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this step process when the server that forked it dies, however
    it dies (a server killed outright cannot kill its children itself). Linux only
    (`prctl(PR_SET_PDEATHSIG)`); elsewhere a killed server's step processes end with their
    attempt. The server is single-threaded, so the thread that forked it is the server."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def _report(status: int, code: int) -> None:
    """An attempt's exit status, to the caller waiting on `status`."""
    with contextlib.suppress(OSError):
        os.write(status, _CODE.pack(code))
    os.close(status)


IDLE = max(2, os.cpu_count() or 1)
"""How many step processes wait for attempts at most; more are retired as they finish."""


def serve(sock: socket.socket) -> None:
    """Give each `start` to an idle step process (forking one when none is idle), report
    each attempt's exit status, and keep one warmed process ready for the next."""
    import pipec.runtime.attempt  # noqa: F401 (the point of the server: imported once)
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
    idle: list[_Worker] = []
    busy: dict[int, _Busy] = {}
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)

    def spare() -> None:
        if not idle and (worker := _fork_worker(start_dir, warm=True)) is not None:
            idle.append(worker)

    def finish(pid: int, code: int | None, again: bool) -> None:
        """The attempt on `pid` ended. `code` is the process's exit code when it died: it goes
        to the attempt's status pipe, after the status the process wrote itself, if it did.
        The process waits for another attempt if it is fit for one (`again`) and fewer
        than `IDLE` wait; else it goes."""
        done = busy.pop(pid)
        with contextlib.suppress(KeyError):
            selector.unregister(done.worker.sock)
        if code is None:
            os.close(done.status)
        else:
            _report(done.status, code)
        if again and len(idle) < IDLE:
            idle.append(done.worker)
        else:
            done.worker.sock.close()  # it sees the end of its socket and exits

    def take(run: str) -> _Worker | None:
        """An idle process that has run only this run's attempts, or none yet: a later run
        (the pipeline edited and run again in one Python session) must not find the
        modules an earlier one imported. The others go."""
        for worker in [w for w in idle if w.run not in (None, run)]:
            idle.remove(worker)
            worker.sock.close()
        return idle.pop() if idle else _fork_worker(start_dir, warm=False)

    def collect(pid: int) -> None:
        """The report of the process on `pid`, if it has sent one (an event of this round
        may be stale: collected at a `start`, the process may be on its next attempt)."""
        sock = busy[pid].worker.sock
        if not select.select([sock], [], [], 0)[0]:
            return
        try:
            report, _ = _recv(sock)
        except (EOFError, OSError):  # it died: its reaping reports the status
            with contextlib.suppress(KeyError):
                selector.unregister(sock)
        else:
            finish(pid, None, report["again"])

    def start(message: dict[str, Any], out: int, status: int) -> None:
        # the reports sent before the caller learnt its attempts ended: the processes that
        # sent them are free for this one
        ready = select.select([b.worker.sock for b in busy.values()], [], [], 0)[0]
        for pid in [p for p, b in busy.items() if b.worker.sock in ready]:
            collect(pid)
        worker = take(message["run"])
        while worker is not None and not _hand_over(worker, message, out, status):
            worker = _fork_worker(start_dir, warm=False)  # the idle one was gone
        os.close(out)
        if worker is None:
            os.close(status)
            _send(sock, {"error": "cannot fork a step process"})
            return
        worker.run = message["run"]
        busy[worker.pid] = _Busy(worker, status, message["id"])
        selector.register(worker.sock, selectors.EVENT_READ, worker.pid)
        _send(sock, {"pid": worker.pid})
        spare()  # the next attempt's, forked and warmed while this one runs

    def kill(attempt: int) -> None:
        for pid, running in list(busy.items()):
            if running.attempt == attempt:
                collect(pid)  # it may have ended: a late kill reaches nothing
                if pid in busy:  # still running: the kill reaches this attempt only
                    os.kill(pid, signal.SIGKILL)

    spare()
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                os.read(wake_r, 512)
                for pid, code in _reaped():
                    if pid in busy:  # gone during its attempt, or right after it
                        # its exit code; the status it wrote itself, if it did, comes first
                        finish(pid, code, again=False)
                    for worker in [w for w in idle if w.pid == pid]:  # killed while idle
                        idle.remove(worker)
                        worker.sock.close()
            elif key.data is not None:  # a step process reports on its attempt
                if key.data in busy:  # not collected at a `start` in this round
                    collect(key.data)
            else:
                try:
                    message, fds = _recv(sock)
                except (EOFError, ConnectionError):  # the pipec process is gone: so are its steps
                    for pid in [*busy, *(w.pid for w in idle)]:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    _reap_all()
                    return
                if "kill" in message:
                    kill(message["kill"])
                else:
                    start(message, *fds)


def _hand_over(worker: _Worker, message: dict[str, Any], out: int, status: int) -> bool:
    """Give `worker` its attempt, which starts at once; False if the process is gone."""
    try:
        _send(worker.sock, message, [out, status])
        return True
    except OSError:
        worker.sock.close()
        return False


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
    from pipec.runtime import attempt as shim
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


def _reap_all() -> None:
    """Wait for every child to end, so the server exits with none left behind: a child
    the server does not reap is reparented, still running or a zombie, and outlives the
    pipec process that started it."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


def _reaped() -> list[tuple[int, int]]:
    """Every child that ended, with its exit status (negative: the signal that ended it,
    as `Popen.returncode`)."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
