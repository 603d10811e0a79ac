"""`pipec run --target airflow` in the user's own $AIRFLOW_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_database_never_migrated_is_one_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    env = {
        **os.environ,  # this session's Airflow settings, pointed at a fresh home
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    pipeline, store = "tests/airflow/pipelines/replay.py", str(tmp_path / "store")
    cli = [sys.executable, "-c", "from pipec.cli import main; main()"]
    run = subprocess.run(
        [*cli, "run", pipeline, "--target", "airflow", "--storage", store],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [
        f"error: Airflow's metadata database of AIRFLOW_HOME={home} has no tables yet:"
        " run `airflow db migrate` first"
    ]
    assert not (tmp_path / "store").exists()
