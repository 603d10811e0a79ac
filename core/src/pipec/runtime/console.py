"""An attempt's console: what its step printed, kept in the store beside the step's record.

The console is one text file per attempt, `steps/<step>/console/<number>.log`
(`RunFiles.console`; read back with `runstore.console_text`), holding stdout and stderr
interleaved as the step wrote them. It is written by the process that watches the
attempt, never by the step itself, so a step that is killed (time limit, stop, a crash)
keeps every line it printed before it died:

- a step process's output arrives as one text pipe (`pipec.runtime.watch`); each line is
  written to the console as it comes;
- the `debug` target runs steps in its own process: what the attempt's thread writes to
  `sys.stdout` / `sys.stderr` is copied there (`capturing`), while it still reaches the
  terminal. Output of threads the step starts, of its subprocesses, and of C code writing
  to the file descriptors themselves is not seen there.

On a local folder store each line is appended to the file at once (the console is the
one file in a run that grows in place instead of appearing whole). On an object store,
which cannot append, the file is uploaded whole every `UPLOAD_BYTES` or `UPLOAD_SECONDS`
and when the attempt ends: if the process watching the attempt dies (an engine worker
lost), what came after the last upload is lost.

Each attempt's console is capped at `$PIPEC_CONSOLE_LIMIT` bytes (default `LIMIT`); the
rest is dropped, after a line saying so, and the attempt is recorded `truncated`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipec.errors import UsageError
from pipec.records import StepRecord
from pipec.runtime.runstore import StoredRun

ENV = "PIPEC_CONSOLE_LIMIT"
"""Bytes of console kept per attempt."""

LIMIT = 1024 * 1024
"""The default cap: 1 MiB per attempt."""

UPLOAD_BYTES = 64 * 1024
UPLOAD_SECONDS = 5.0
"""How often a console on an object store is uploaded while the attempt runs."""


def limit() -> int:
    """The cap in bytes, from `$PIPEC_CONSOLE_LIMIT`; a value that is no byte count is a
    usage error."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return LIMIT
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"{ENV}={text!r}: give the bytes of console to keep per attempt")
    return value


def truncation_mark(cap: int) -> str:
    return (
        f"\n[pipec: console truncated: only the first {cap} bytes of this attempt's output "
        f"are kept ({ENV})]\n"
    )


class ConsoleLog:
    """The console file of one attempt, written as the output comes."""

    def __init__(self, run: StoredRun, step: str, number: int) -> None:
        self.number = number
        self.path = run.files.console(step, number)
        self.relative = self.path.removeprefix(run.files.root + "/")
        self.truncated = False
        self._store = run.store
        self._cap = limit()
        self._kept = 0
        self._lock = threading.Lock()
        fs, path = fsspec.core.url_to_fs(run.store.uri(self.path))
        self._file: IO[str] | None = None
        self._buffer: list[str] = []
        self._pending = 0
        self._uploaded = time.monotonic()
        self._closed = False
        if isinstance(fs, LocalFileSystem):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._file = open(path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        else:
            self._upload()

    def write(self, text: str) -> None:
        """Keep `text` (up to the cap)."""
        with self._lock:
            if self.truncated or self._closed or not text:
                return
            data = text.encode("utf-8", errors="replace")
            if self._kept + len(data) > self._cap:
                text = data[: self._cap - self._kept].decode("utf-8", errors="ignore")
                text += truncation_mark(self._cap)
                self.truncated = True
            self._kept += len(data)
            self._keep(text)

    def _keep(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            self._file.flush()
            return
        self._buffer.append(text)
        self._pending += len(text)
        if self._pending >= UPLOAD_BYTES or time.monotonic() - self._uploaded >= UPLOAD_SECONDS:
            self._upload()

    def _upload(self) -> None:
        self._store.write_bytes(self.path, "".join(self._buffer).encode("utf-8"))
        self._pending, self._uploaded = 0, time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._file is not None:
                self._file.close()
            else:
                self._upload()

    def stamp(self, run: StoredRun, record: StepRecord) -> StepRecord:
        """`record` with this console named in its attempt, written back."""
        for attempt in record.attempts:
            if attempt.number == self.number:
                attempt.console, attempt.truncated = self.relative, self.truncated
                run.write_step(record)
        return record


class _Dispatch:
    """`sys.stdout` / `sys.stderr` while in-process attempts run: everything still goes
    to the stream it replaced, and what an attempt's thread writes goes to its console
    too."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def write(self, text: str) -> int:
        log = _CAPTURING.get(threading.get_ident())
        if log is not None:
            log.write(text)
        return self.wrapped.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, ...
        return getattr(self.wrapped, name)


_CAPTURING: dict[int, ConsoleLog] = {}
_INSTALL = threading.Lock()


@contextlib.contextmanager
def capturing(log: ConsoleLog) -> Iterator[None]:
    """What this thread writes to `sys.stdout` / `sys.stderr` meanwhile is kept in `log`
    too (the `debug` target's attempts run in pipec's own process)."""
    with _INSTALL:
        if not _CAPTURING:
            sys.stdout, sys.stderr = _Dispatch(sys.stdout), _Dispatch(sys.stderr)  # type: ignore[assignment]
        _CAPTURING[threading.get_ident()] = log
    try:
        yield
    finally:
        with _INSTALL:
            del _CAPTURING[threading.get_ident()]
            if not _CAPTURING:
                for name in ("stdout", "stderr"):
                    stream = getattr(sys, name)
                    if isinstance(stream, _Dispatch):
                        setattr(sys, name, stream.wrapped)
