"""`PipelineController` used the way ClearML users write it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PIPELINES, rel, run_pipec
from pipec.capture.session import load_pipeline
from pipec.runtime.runstore import find_run
from pipec.store import Store
from pipec.validate import validate

ANY_ORDER = PIPELINES / "clearml" / "steps_any_order.py"


def test_steps_may_be_added_in_any_order_and_a_number_is_a_version(in_repo_root: Path) -> None:
    pipeline = load_pipeline(rel(ANY_ORDER))
    assert validate(pipeline) == []
    assert pipeline.version == "1.0"
    assert [s.name for s in pipeline.steps] == ["total", "double", "load"]
    assert [s.name for s in pipeline.in_dependency_order()] == ["load", "double", "total"]


@pytest.mark.parametrize("target", ["debug", "local"])
def test_a_pipeline_whose_steps_came_in_any_order_runs(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    result = run_pipec(
        "run", rel(ANY_ORDER), "--target", target, "--storage", tmp_path / "store", "--json",
        "--param", "n=4", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    assert {name: s["status"] for name, s in summary["steps"].items()} == dict.fromkeys(
        ["load", "double", "total"], "completed"
    )
    found = find_run(Store(str(tmp_path / "store")), summary["run_id"])
    assert found is not None
    total = next(step for step in found[1] if step.name == "total")
    assert Store(str(tmp_path / "store")).get_value(total.outputs["sum"]) == 12


SURFACE = PIPELINES / "clearml" / "controller_surface.py"


@pytest.mark.parametrize("target", ["debug", "local"])
def test_the_controller_settings_and_view_clearml_users_call(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    result = run_pipec(
        "run", SURFACE, "--target", target, "--storage", tmp_path / "store", "--json",
        "--param", "x=5", pipec_home=pipec_home, cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("SURFACE ")]
    seen = json.loads(line.removeprefix("SURFACE "))
    assert seen["before"] == {
        "parameters": {"x": 4},
        "elapsed": -1.0,
        "running": False,
        "settings": {"lr": 0.1, "layers": [8, 4]},
        "path": "settings.json",
    }
    assert seen["after"] == {
        "parameters": {"x": 5},
        "elapsed_positive": True,
        "running": False,
        "successful": True,
    }
    (draft,) = (pipec_home / "drafts").iterdir()
    options = json.loads(draft.read_text())["policies"]["options"]
    assert options["tags"] == ["nightly", "iris"]
    assert options["configuration"] == {
        "run_settings": {"value": {"lr": 0.1, "layers": [8, 4]}, "description": None},
        "General": {"value": '{"from": "file"}', "description": None},
    }
    assert options["pipeline_execution_time_limit"] == 1800.0


@pytest.mark.parametrize("target", ["debug", "local"])
def test_a_run_past_its_execution_time_limit_is_aborted(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    result = run_pipec(
        "run", rel(PIPELINES / "clearml" / "time_limit.py"), "--target", target,
        "--storage", tmp_path / "store", "--json", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 1, result
    summary = json.loads(result.stdout)
    assert summary["status"] == "aborted"
    assert summary["error"] == "the pipeline's execution time limit (0.02 min) was exceeded"
    assert summary["steps"]["after"]["status"] == "skipped"


@pytest.mark.parametrize("target", ["debug", "local"])
def test_callbacks_see_and_edit_function_parameters_under_clearml_keys(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"
    result = run_pipec(
        "run", rel(PIPELINES / "clearml" / "callback_kwargs.py"), "--target", target,
        "--storage", store, "--json", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    assert "CALLBACK scale [('kwargs/factor', 2), ('kwargs/x', 3)]" in result.stderr
    summary = json.loads(result.stdout)
    found = find_run(Store(str(store)), summary["run_id"])
    assert found is not None
    (step,) = found[1]
    assert step.parameters == {"x": 30, "factor": 2}
    assert Store(str(store)).get_value(step.outputs["y"]) == 60


@pytest.mark.parametrize("target", ["debug", "local"])
def test_the_pipelines_logger_and_artifacts_work_before_start_and_from_steps(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"
    result = run_pipec(
        "run", rel(PIPELINES / "clearml" / "pipeline_reports.py"), "--target", target,
        "--storage", store, "--json", pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    found = find_run(Store(str(store)), json.loads(result.stdout)["run_id"])
    assert found is not None
    run, _ = found
    assert [(m.title, m.series, m.value, m.iteration) for m in run.metrics] == [
        ("setup", "seed", 7.0, 0),
        ("loss", "train", 1.0, 0),
        ("loss", "train", 0.5, 1),
    ]
    values = {name: Store(str(store)).get_value(v) for name, v in run.artifacts.items()}
    assert values == {"settings": {"lr": 0.1}, "trained": {"epochs": 2}}


@pytest.mark.parametrize("target", ["debug", "local"])
def test_steps_with_docker_and_repo_options_run_in_the_current_environment(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    """As ClearML's local mode runs them: the options are kept, the steps run here."""
    path = PIPELINES / "controller" / "environment.py"
    pipeline = load_pipeline(rel(path))
    assert pipeline.step("prepare").policies.docker.image == "python:3.11-slim"
    result = run_pipec(
        "run", rel(path), "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    steps = json.loads(result.stdout)["steps"]
    assert {name: s["status"] for name, s in steps.items()} == {
        "prepare": "completed",
        "train": "completed",
    }
