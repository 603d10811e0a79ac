"""A step's console and traceback, kept by the Airflow task that watched it: `pipec runs
logs` and `runs show` read a run made on Airflow as they read a local one."""

from __future__ import annotations

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
