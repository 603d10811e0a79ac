"""What a forked step process does around an attempt, so that the attempt runs as in a
fresh `python -m pipec.runtime.attempt ARGS` started by the caller.

Shared by the implementations that fork (`fork`, `forkserver`): a forked process comes
with another process's state, and these are the parts of it an attempt can observe.
"""

from __future__ import annotations

import copy
import os
import sys
import traceback
from typing import Any

import fsspec.config


def output_to(out: int) -> None:
    """Make `out` this process's stdout and stderr (and close it)."""
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)


def read_fsspec_env(base: dict[str, Any]) -> None:
    """fsspec's settings as a new interpreter would have them: fsspec reads its
    `FSSPEC_<PROTOCOL>...` settings (storage credentials, endpoints) from the environment
    when imported, so read them from this attempt's, over `base` (what the process had
    before)."""
    base = copy.deepcopy(base)
    fsspec.config.conf.clear()
    fsspec.config.conf.update(base)
    fsspec.config.set_conf_env(fsspec.config.conf)


def run(args: list[str]) -> int:
    """`pipec.runtime.attempt.main(args)`, with `sys.argv` as `python -m` sets it; the exit
    status that process would have (a `SystemExit`'s code; 1, the traceback printed, for
    an exception that escapes)."""
    from pipec.runtime import attempt as shim

    sys.argv[:] = ["-m", *args]
    try:
        return shim.main(args)
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1
