"""What conformance pipelines call to be observed, wherever a target runs them.

Step bodies and callbacks run in other processes on most targets (a local
subprocess, an Airflow worker, a Prefect task), so they report by appending
lines to the file named by `$PIPEC_TESTING_LOG`, which `pipec.testing.run_case`
sets and reads back. Without the variable they do nothing, so the pipelines also
run by hand.
"""

from __future__ import annotations

import os

LOG_ENV = "PIPEC_TESTING_LOG"


def _log_path() -> str | None:
    return os.environ.get(LOG_ENV) or None


def note(*words: object) -> None:
    """Append one line; a single `O_APPEND` write, so concurrent steps never mix lines."""
    path = _log_path()
    if path is None:
        return
    line = " ".join(str(w) for w in words).replace("\n", " ") + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def body(label: str, *details: object) -> None:
    """A step body ran: `body LABEL DETAILS...` (what `Expected.bodies` lists)."""
    note("body", label, *details)


def attempt(counter: str) -> int:
    """How many times this has been called for `counter` in this run (1, 2, ...).

    Kept in a file beside the log, so it counts attempts made in separate processes;
    a step's attempts run one after the other, so no lock is needed.
    """
    path = _log_path()
    if path is None:
        return 1
    where = os.path.join(os.path.dirname(path), f"counter-{counter}")
    count = 1
    if os.path.exists(where):
        with open(where, encoding="utf-8") as handle:
            count = int(handle.read() or 0) + 1
    with open(where, "w", encoding="utf-8") as handle:
        handle.write(str(count))
    return count
