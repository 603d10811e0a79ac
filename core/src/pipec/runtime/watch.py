"""One watched attempt: its process started, its output forwarded, stopped when it must be.

Every scheduler runs an attempt the same way: the local target's executor and an
engine's step task alike. The attempt runs in a step process (`pipec.runtime.processes`);
its output goes to `echo`, line by line (the terminal, the engine's task log), and to
the attempt's console in the store (`pipec.runtime.console`). The
watch kills it and records it `aborted` when the run is stopped (`stopped`, polled:
another step's `abort_on_failure`, a `PipelineController.stop()`), when its own
`time_limit` passes, or when the engine interrupts the waiting thread with one of
`interrupts` (Airflow's timeout, a Prefect cancel), with `interrupted` as the reason.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

from pipec.records import StepRecord
from pipec.runtime.console import ConsoleLog
from pipec.runtime.processes import StepProcess, forward, spawn
from pipec.runtime.runstore import StepCall, StoredRun, end_attempt, ended_process

POLL = 0.2
"""Seconds between looks at `stopped`; short, so an exception an engine sends to the
waiting thread is raised soon (only while Python code runs, never inside a long wait)."""


def watch(
    run: StoredRun,
    call: StepCall,
    number: int,
    *,
    echo: Callable[[str], None],
    time_limit: float | None = None,
    stopped: Callable[[], bool] = lambda: False,
    interrupts: tuple[type[BaseException], ...] = (),
    interrupted: str = "",
    processes: str = "forkserver",
) -> StepRecord:
    """Attempt `number` of `call`'s step, watched to its end; returns its record."""
    log = ConsoleLog(run, call.step, number)
    proc = spawn(call, number, processes)
    reader = threading.Thread(target=forward, args=(proc, echo, log.write), daemon=True)
    reader.start()
    why: str | None = None
    try:
        why = _wait(proc, time_limit, stopped)
    except interrupts:
        why = interrupted
    finally:
        if proc.returncode is None:  # stopped, interrupted, or the engine's task is ending
            proc.kill()
            proc.wait()
        reader.join()
        log.close()
    if why is not None:
        return log.stamp(run, end_attempt(run, call.step, number, "aborted", why))
    assert proc.returncode is not None
    record = ended_process(run, call.step, number, proc.returncode, stopped=stopped())
    return log.stamp(run, record)


def _wait(proc: StepProcess, time_limit: float | None, stopped: Callable[[], bool]) -> str | None:
    """Wait for the attempt's process; why it must be killed first, if it must."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        try:
            proc.wait(timeout=POLL if left is None else max(0.0, min(POLL, left)))
            return None
        except subprocess.TimeoutExpired:
            if stopped():
                return "the pipeline was stopped"
            if deadline is not None and time.monotonic() >= deadline:
                return f"time_limit {time_limit}s exceeded"
