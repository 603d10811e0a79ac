"""`pipec run --target ray` on the session's cluster: queues as Ray resources, the
environment steps get, and what the target refuses before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipec.adapter import EngineRun
from pipec.testing.run import pipec_command

QUEUES = "tests/ray/pipelines/queues.py"


def pipec(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pipec_command(), *args],
        env={**os.environ, "PIPEC_HOME": str(tmp_path / "home"), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def run_json(tmp_path: Path, *args: str, **env: str) -> dict[str, Any]:
    done = pipec(tmp_path, "run", *args, "--target", "ray", "--json",
                 "--storage", str(tmp_path / "store"), **env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # stdout is the JSON alone, step output on stderr


def output(summary: dict[str, Any], step: str) -> Any:
    run = EngineRun.open(summary["storage"], summary["pipeline"], summary["run_id"], "ray")
    return run.state.load(run.state.step_record(step).outputs["where"])


def test_a_step_in_a_queue_runs_on_a_node_serving_it(tmp_path: Path, on_cluster: Any) -> None:
    summary = run_json(tmp_path, QUEUES)
    assert summary["status"] == "completed"
    assert output(summary, "queued")["node"] == on_cluster.worker_node


def test_the_queues_option_maps_a_queue_onto_a_resource(tmp_path: Path, on_cluster: Any) -> None:
    summary = run_json(tmp_path, QUEUES, "--option", "queues=elsewhere=gpu_queue",
                       QUEUES_TEST_QUEUE="elsewhere")  # fmt: skip
    assert output(summary, "queued")["node"] == on_cluster.worker_node


def test_steps_get_pipec_variables_and_those_the_env_option_names(tmp_path: Path) -> None:
    plain = run_json(tmp_path / "plain", QUEUES, SHARED_VAR="from the driver")
    assert output(plain, "anywhere")["var"] is None  # the node's environment, not the driver's
    named = run_json(tmp_path / "named", QUEUES, "--option", "env=SHARED_VAR",
                     SHARED_VAR="from the driver")  # fmt: skip
    assert output(named, "anywhere")["var"] == "from the driver"


def test_a_queue_no_node_serves_is_refused_at_its_line_before_anything_runs(
    tmp_path: Path,
) -> None:
    done = pipec(tmp_path, "run", QUEUES, "--target", "ray", "--storage", str(tmp_path / "s"),
                 QUEUES_TEST_QUEUE="elsewhere")  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = Path(QUEUES).read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if 'name="queued"' in text)  # the call's line
    assert "add_function_step(" in lines[line - 1]
    assert f"queues.py:{line}: error: step 'queued': queue 'elsewhere' asks for Ray " \
        "resource 'elsewhere'" in done.stderr  # fmt: skip
    assert not (tmp_path / "s" / "runs").exists()


def test_a_malformed_queues_option_is_a_usage_error(tmp_path: Path) -> None:
    done = pipec(tmp_path, "run", QUEUES, "--target", "ray", "--option", "queues=gpu",
                 "--storage", str(tmp_path / "s"))  # fmt: skip
    assert done.returncode == 2
    assert "queues='gpu': expected QUEUE=RESOURCE[:AMOUNT]" in done.stderr


def test_compile_says_the_target_runs_in_place(tmp_path: Path) -> None:
    done = pipec(tmp_path, "compile", QUEUES, "--target", "ray", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "use `pipec run --target ray`" in done.stderr
    assert not (tmp_path / "o").exists()


def test_the_target_is_listed_with_its_distribution(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = pipec(tmp_path, "targets", COLUMNS="200")
    row = next(line for line in done.stdout.splitlines() if "│ ray " in line)
    assert "pipec-ray" in row and version("pipec-ray") in row


def test_python_runs_the_driver(tmp_path: Path) -> None:
    """The same target from a script: $PIPEC_TARGET=ray and `python pipeline.py`."""
    done = subprocess.run(
        [sys.executable, QUEUES],
        env={**os.environ, "PIPEC_TARGET": "ray", "PIPEC_STORAGE": str(tmp_path / "store"),
             "PIPEC_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "step output goes to stderr with --json" in done.stdout + done.stderr
