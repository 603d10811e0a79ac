"""A step's console and traceback, kept by the Airflow task that watched it: `pipec runs
logs` and `runs show` read a run made on Airflow as they read a local one."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pipec.cli import app
from typer.testing import CliRunner

CONSOLE = "tests/core/pipelines/run/console.py"


def test_runs_logs_and_show_of_a_failed_airflow_run(pipec_run: Callable, tmp_path: Path) -> None:
    code, summary = pipec_run(CONSOLE, "--target", "airflow", "--storage", str(tmp_path))
    assert (code, summary["status"]) == (1, "failed"), summary
    run_id, cli = summary["run_id"], CliRunner()

    logs = cli.invoke(app, ["runs", "logs", run_id, "second", "--storage", str(tmp_path)])
    shown = cli.invoke(app, ["runs", "show", run_id, "--storage", str(tmp_path)])

    assert logs.exit_code == 0, logs.output
    lines = [line for line in logs.stdout.splitlines() if line.strip(" ^~")]
    assert lines[:4] == [
        "==> second, attempt 1: failed <==",
        "MARKER-second-step",
        "a warning on stderr",
        "Traceback (most recent call last):",
    ], logs.stdout
    assert lines[-2:] == [
        '    raise ValueError("second is broken")  # expected-error',
        "ValueError: second is broken",
    ], logs.stdout
    assert "pipec/runtime" not in logs.stdout
    error = summary["steps"]["second"]["error"]
    assert f"  error         step 'second': {error}" in shown.stdout.splitlines(), shown.stdout


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
