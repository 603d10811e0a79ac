"""Generated DAG files, as a stock Airflow 3 imports them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pipec.capture.session import load_pipeline
from pipec.cli import app
from pipec.errors import UsageError
from pipec_airflow.target import POOLS, AirflowTarget
from typer.testing import CliRunner

HERE = Path(__file__).resolve().parent
EXAMPLES = ["examples/iris_functions.py", "examples/iris_pipeline.py"]


def compile_to(path: str, out: Path, options: dict[str, str] | None = None) -> Path:
    dag_file, data_file = AirflowTarget().compile(load_pipeline(path), out, options)
    assert data_file.name == dag_file.stem + ".pipec.json"
    return dag_file


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    return bag


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_import_with_no_errors(path: str, tmp_path: Path) -> None:
    pipeline = load_pipeline(path)
    compile_to(path, tmp_path)
    (dag,) = dagbag(tmp_path).dags.values()
    steps = {s.name for s in pipeline.steps}
    assert set(dag.task_ids) == steps | {"pipec_begin", "pipec_end"}
    for step in pipeline.steps:
        upstream = dag.get_task(step.name).upstream_task_ids
        assert upstream == (set(step.parents) or {"pipec_begin"})
    assert dag.get_task("pipec_end").upstream_task_ids == steps
    assert dag.get_task("pipec_end").trigger_rule == "all_done"


def test_header_names_source_version_and_ir_hash(tmp_path: Path) -> None:
    import hashlib

    dag_file = compile_to("examples/iris_functions.py", tmp_path)
    text = dag_file.read_text()
    digest = hashlib.sha256(dag_file.with_suffix(".pipec.json").read_bytes()).hexdigest()
    assert text.startswith("# Airflow DAG compiled by pipec ")
    assert "from examples/iris_functions.py:" in text
    assert f"IR sha256 {digest}" in text
    assert "schedule=None" in text


def test_options_map_to_params_retries_queues_timeouts(tmp_path: Path) -> None:
    compile_to(str(HERE / "pipelines" / "outcomes.py"), tmp_path)
    dag = dagbag(tmp_path).dags["outcomes"]
    assert dag.params["n"] == 3
    assert dag.params.get_param("n").schema["type"] == "integer"
    assert dag.get_task("flaky").retries == 2
    assert dag.get_task("flaky").retry_delay.total_seconds() == 0
    assert dag.get_task("make").retries == 0
    join = dag.get_task("join")
    assert join.queue == "fast"
    assert join.execution_timeout.total_seconds() == 60
    assert join.trigger_rule == "all_done"


def test_queues_listed_in_the_pools_option_get_their_pool(tmp_path: Path) -> None:
    pools = {POOLS: "gpu=gpu_pool, cpu = cpu_pool,unused=other_pool"}
    compile_to(str(HERE / "pipelines" / "queues.py"), tmp_path, pools)
    dag = dagbag(tmp_path).dags["queues"]
    placed = {t.task_id: (t.queue, t.pool) for t in dag.tasks}
    assert placed["train"] == ("gpu", "gpu_pool")  # execution_queue
    assert placed["prepare"] == ("cpu", "cpu_pool")  # the pipeline's default queue
    assert placed["report"] == ("services", "default_pool")  # a queue the setting does not list
    assert placed["pipec_begin"][1] == placed["pipec_end"][1] == "default_pool"


@pytest.mark.parametrize("value", ["gpu", "gpu=", "=gpu_pool", "gpu=a=b", "gpu=a,,cpu=b"])
def test_a_malformed_pools_option_is_a_usage_error(value: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"^{POOLS}=.* is not QUEUE=POOL"):
        compile_to(str(HERE / "pipelines" / "queues.py"), tmp_path, {POOLS: value})
    assert list(tmp_path.iterdir()) == []


def test_the_cli_reports_a_bad_option_without_a_traceback(tmp_path: Path) -> None:
    result = compile_cli(
        str(HERE / "pipelines" / "queues.py"), tmp_path, "--option", f"{POOLS}=gpu"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {POOLS}=")
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_queue_given_two_pools_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"^{POOLS}=.*: queue 'gpu' is given more than one pool"):
        compile_to(str(HERE / "pipelines" / "queues.py"), tmp_path, {POOLS: "gpu=a,gpu=b"})


def test_an_unknown_option_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    result = compile_cli(str(HERE / "pipelines" / "queues.py"), tmp_path, "--option", "pool=x")
    assert result.exit_code == 2
    assert "target 'airflow' has no option 'pool'; its options: storage:" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_parse_imports_neither_pipec_nor_user_modules(tmp_path: Path) -> None:
    dag_file = compile_to("examples/iris_functions.py", tmp_path)
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pipec', 'pipec_airflow', 'pandas', 'sklearn')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(dag_file)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_odd_step_names_become_valid_task_ids(tmp_path: Path) -> None:
    compile_to("tests/core/pipelines/controller/odd_names.py", tmp_path)
    compile_to("tests/core/pipelines/controller/unicode_names.py", tmp_path)
    assert len(dagbag(tmp_path).dags) == 2


def compile_cli(path: str, out: Path, *extra: str):
    return CliRunner().invoke(
        app, ["compile", path, "--target", "airflow", "--out", str(out), *extra]
    )


def test_decisions_on_step_values_fail_to_compile_with_file_and_line(tmp_path: Path) -> None:
    path = "tests/airflow/pipelines/dynamic.py"
    result = compile_cli(path, tmp_path)
    assert result.exit_code == 1
    assert f"{path}:19: error:" in result.stderr
    assert "static pipeline graph" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unsupported_options_are_rejected_at_compile_time(tmp_path: Path) -> None:
    path = "tests/core/pipelines/controller/all_options.py"
    result = compile_cli(path, tmp_path)
    assert result.exit_code == 1
    assert "target 'airflow' does not support" in result.stderr


ENVIRONMENT = HERE.parent / "core" / "pipelines" / "controller" / "environment.py"


def rel_path(path: Path) -> str:
    """A path as the tests address pipelines: from the repository root (the cwd)."""
    return path.relative_to(HERE.parents[1]).as_posix()


def test_docker_and_repo_steps_compile_with_a_warning_and_packages_in_the_header(
    tmp_path: Path,
) -> None:
    """As ClearML's local mode runs them: in the workers' environment, which the warning
    says must provide what the options would have."""
    result = compile_cli(rel_path(ENVIRONMENT), tmp_path)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith("warning: docker is set for step(s) 'prepare': target 'airflow'")
    assert warnings[1].startswith("warning: repo is set for step(s) 'train': target 'airflow'")
    dag_text = (tmp_path / "environment.py").read_text(encoding="utf-8")
    assert "# Workers need: numpy, scikit-learn>=1.3." in dag_text.splitlines()[:4]


def test_the_environment_option_keeps_the_refusal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = compile_cli(rel_path(ENVIRONMENT), out, "--option", "environment=refuse")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    line = next(
        n
        for n, text in enumerate(ENVIRONMENT.read_text().splitlines(), 1)
        if "expected-error" in text
    )
    assert errors[0].startswith(f"{rel_path(ENVIRONMENT)}:{line}: error: target 'airflow' does not")
    assert "docker environment (compile option environment=refuse)" in errors[0]
    assert len(errors) == 2 and "repo environment" in errors[1]
    assert not out.exists()


def test_a_dag_without_params_imports_no_param(tmp_path: Path) -> None:
    without = compile_to("tests/core/pipelines/controller/odd_names.py", tmp_path / "a")
    with_params = compile_to(str(HERE / "pipelines" / "outcomes.py"), tmp_path / "b")
    imports = [line for line in without.read_text().splitlines() if "import" in line]
    assert "from airflow.sdk import DAG, TriggerRule, task" in imports
    assert "Param(" not in without.read_text()
    assert "from airflow.sdk import DAG, Param, TriggerRule, task" in with_params.read_text()
