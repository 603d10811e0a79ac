"""Same work once on Airflow: concurrent DAG runs of the same parameters (separate
`pipec run` processes, one store, each in a throwaway AIRFLOW_HOME of its own, as a user
runs them) run a cached step's body once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAME_WORK = "tests/core/pipelines/run/same_work.py"


def test_concurrent_dag_runs_run_the_cached_step_once(tmp_path: Path) -> None:
    store, ledger = tmp_path / "store", tmp_path / "ledger.txt"
    pipec = str(Path(sys.executable).parent / "pipec")
    argv = [pipec, "run", SAME_WORK, "--target", "airflow", "--storage", str(store),
            "--param", f"ledger={ledger}", "--json"]  # fmt: skip
    # not the session's Airflow: one SQLite database is no place for concurrent DAG runs
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["SAME_WORK_SECONDS"] = "5"
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [run.communicate() for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
    summaries = [json.loads(stdout) for stdout, _ in outputs]
    assert [s["return_value"] for s in summaries] == [6 * 7 + 1] * 3
    assert len(ledger.read_text().splitlines()) == 1
    assert sorted(s["steps"]["work"]["status"] for s in summaries) == ["cached"] * 2 + ["completed"]
