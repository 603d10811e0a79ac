"""Step processes: an attempt always runs in a process of its own, behind one interface.

`spawn(call, attempt, how)` starts attempt `attempt` of `call`'s step and gives a
`StepProcess` (the part of `subprocess.Popen` a scheduler uses: `pid`, `stdout`,
`returncode`, `wait`, `kill`). However the process comes to be, the attempt in it sees
the caller's environment and working directory as they are when it starts, its output
(stdout and stderr) is the process's `stdout`, and a kill reaches that attempt only.
How the process comes to be is an implementation:

- `forkserver` (`pipec.runtime.processes.forkserver`): forked from a warm server that
  has pipec imported, reusing a step process for the next attempt of the same run; worth
  it where one process hosts many attempts (the local target, a Prefect flow run), and
  safe in a process full of threads, since the server forks, not the caller;
- `fork` (`pipec.runtime.processes.fork`): forked from the caller itself, one process per
  attempt; the simple choice where the caller is a process of its own for one step (an
  Airflow task), with nothing to reuse and no server to keep;
- `subprocess` (`pipec.runtime.processes.fresh`): a fresh interpreter,
  `python -m pipec.runtime.attempt`; no fork needed, ~0.3 s of start-up per attempt, and
  what the other two fall back to where there is no `fork` (Windows).

The caller's default is chosen by the scheduler; `$PIPEC_STEP_PROCESSES` overrides it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pipec.errors import UsageError
from pipec.runtime.processes import fork, fresh
from pipec.runtime.processes.step_process import StepProcess
from pipec.runtime.runstore import StepCall

ENV = "PIPEC_STEP_PROCESSES"
"""Overrides every scheduler's choice of implementation (e.g. to compare them)."""


def _forkserver(call: StepCall, attempt: int) -> StepProcess:
    # imported on first use: the server (`python -m pipec.runtime.processes.forkserver`)
    # imports this package before it runs that module as `__main__`, and would otherwise
    # find the module imported already (Python warns, and it is loaded twice)
    from pipec.runtime.processes import forkserver

    return forkserver.spawn(call, attempt)


IMPLEMENTATIONS: dict[str, Callable[[StepCall, int], StepProcess]] = {
    "forkserver": _forkserver if hasattr(os, "fork") else fresh.spawn,
    "fork": fork.spawn if hasattr(os, "fork") else fresh.spawn,
    "subprocess": fresh.spawn,
}


def spawn(call: StepCall, attempt: int, how: str = "forkserver") -> StepProcess:
    """Start attempt `attempt` of `call`'s step in its own process, the way `how` names
    (unless `$PIPEC_STEP_PROCESSES` names another); its stdout and stderr are the
    process's `stdout` (text)."""
    chosen = os.environ.get(ENV) or how
    if chosen not in IMPLEMENTATIONS:
        raise UsageError(
            f"{ENV}={chosen!r}: step processes are one of {', '.join(IMPLEMENTATIONS)}"
        )
    return IMPLEMENTATIONS[chosen](call, attempt)


def forward(
    proc: StepProcess, echo: Callable[[str], None], keep: Callable[[str], None] = lambda _: None
) -> None:
    """Hand each line the attempt prints to `keep` as it came (its console) and to `echo`
    without its line end, until it closes its output."""
    assert proc.stdout is not None
    for line in proc.stdout:
        keep(line)
        echo(line.rstrip())


__all__ = ["ENV", "IMPLEMENTATIONS", "StepProcess", "forward", "spawn"]
