"""Step processes that are fresh interpreters: `python -m pipec.runtime.attempt ARGS`.

Each attempt pays for Python's start and pipec's imports (~0.3 s), and in return shares
nothing with the caller but its environment and working directory. It needs no `fork`,
so it is also what the other implementations fall back to where there is none (Windows).
"""

from __future__ import annotations

import subprocess
import sys

from pipec.runtime.processes.step_process import step_env
from pipec.runtime.runstore import StepCall


def spawn(call: StepCall, attempt: int) -> subprocess.Popen[str]:
    """Start attempt `attempt` of `call`'s step in a new interpreter."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipec.runtime.attempt", call.model_dump_json(), str(attempt)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=step_env(),
    )
