"""What every implementation of step processes gives a scheduler, and an attempt's
environment."""

from __future__ import annotations

import os
from typing import IO, Protocol


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
