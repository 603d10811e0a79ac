"""`pipec run --target airflow` on the terminal: the steps' output and progress as on the
local target, and a failure in a few lines. (That a failed step's console and traceback are
kept is the conformance kit's `failure_branch` case.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CONSOLE = "tests/core/pipelines/run/console.py"


def test_pipec_run_shows_progress_and_a_failure_in_a_few_lines(
    dags_folder: Path, tmp_path: Path
) -> None:
    """As on the local target: a line per finished step with its duration, a closing
    summary, the user's error first; none of Airflow's task tracebacks."""
    cli = [sys.executable, "-c", "from pipec.cli import main; main()"]
    run = subprocess.run(
        [*cli, "run", CONSOLE, "--target", "airflow", "--storage", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 5, run.stderr
    assert re.fullmatch(r"pipeline console run manual__\S+", lines[0]), lines
    assert re.fullmatch(r"  ✓ first completed: \d+\.\d\ds", lines[1]), lines
    assert lines[2:4] == [
        "  ✗ second failed: tests/core/pipelines/run/console.py:19: ValueError: second is broken"
        " (in step 'second')",
        "  - third skipped: parent 'second' failed",
    ]
    assert re.fullmatch(
        r"pipeline console failed in \d+\.\ds: 3 steps; step 'second' failed first"
        r" \(`pipec runs logs manual__\S+ second` shows its console\)",
        lines[4],
    ), lines
    assert "[first] first step says hello" in run.stdout.splitlines()  # the steps' output
    for airflow in ("AirflowFailException", "Task failed with exception", "task_runner.py"):
        assert airflow not in run.stdout
