"""`pipec run --target airflow`: the compiled DAG run by Airflow's own `dag.test()`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipec.cli import app
from typer.testing import CliRunner

OUTCOMES = "tests/airflow/pipelines/outcomes.py"


def statuses(summary: dict) -> dict[str, tuple[str, int]]:
    return {name: (s["status"], s["attempts"]) for name, s in summary["steps"].items()}


def test_iris_functions_runs_end_to_end(pipec_run: Callable, tmp_path: Path) -> None:
    code, summary = pipec_run(
        "examples/iris_functions.py", "--target", "airflow", "--storage", str(tmp_path)
    )
    assert code == 0, summary
    assert summary["target"] == "airflow"
    assert summary["status"] == "completed"
    steps = ("step_one", "step_two", "step_three", "step_four")
    assert statuses(summary) == {name: ("completed", 1) for name in steps}
    assert summary["storage"] == str(tmp_path)


def test_outcomes_equal_the_local_target_reuse_its_cache_and_refresh(
    pipec_run: Callable, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    local_code, local = pipec_run(
        OUTCOMES, "--target", "local", "--storage", store, "-p", f"scratch={tmp_path / 'a'}"
    )
    code, airflow = pipec_run(
        OUTCOMES, "--target", "airflow", "--storage", store, "-p", f"scratch={tmp_path / 'b'}"
    )
    assert (code, airflow["status"]) == (local_code, local["status"]) == (0, "completed")
    expected = statuses(local)
    expected["make"] = ("cached", 0)  # filled by the local run, hit by the Airflow run
    assert statuses(airflow) == expected
    assert airflow["steps"]["make"]["cache_hit"]
    assert expected["flaky"] == ("completed", 2)
    assert expected["after_broken"] == ("skipped", 0)
    assert airflow["steps"]["broken"]["error"] == local["steps"]["broken"]["error"]

    # --refresh reaches the DAG run (its conf): the named step runs despite the cache
    args = ["--target", "airflow", "--storage", store, "-p", f"scratch={tmp_path / 'c'}"]
    code, again = pipec_run(OUTCOMES, *args, "--refresh", "make")
    assert code == 0, again
    assert statuses(again)["make"] == ("completed", 1)


def test_params_reach_the_run_and_a_failing_pipeline_fails(
    pipec_run: Callable, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, summary = pipec_run(
        OUTCOMES, "--target", "airflow", "--storage", str(tmp_path), "-p", f"scratch={blocker}"
    )
    assert code == 1
    assert summary["status"] == "failed"
    flaky = summary["steps"]["flaky"]
    assert (flaky["status"], flaky["attempts"]) == ("failed", 3)  # retry_on_failure=2
    assert "FileExistsError" in flaky["error"]
    assert summary["steps"]["join"]["status"] == "skipped"
    assert summary["error"] == flaky["error"]


def test_params_are_typed(pipec_run: Callable, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", OUTCOMES, "--target", "airflow", "--storage", str(tmp_path), "-p", "n=x"]
    )
    assert result.exit_code == 2
    # pipec's own check, before Airflow's `Param` sees the value
    assert result.stderr.splitlines() == [
        "error: --param: parameter 'n' of type int takes an integer, got 'x'"
    ]


def test_the_run_page_of_a_airflow_run_is_made_from_the_store_as_for_a_local_run(
    pipec_run: Callable, tmp_path: Path
) -> None:
    import re

    from pipec.report import read_run, run_page
    from pipec.store import Store

    code, summary = pipec_run(
        "examples/iris_pipeline.py", "--target", "airflow", "--storage", str(tmp_path)
    )
    assert code == 0, summary

    page = run_page(read_run(Store(str(tmp_path)), summary["run_id"]))

    nodes = re.findall(r'<g class="node" data-step="([^"]+)" data-status="([^"]+)"', page)
    steps = ("load_data", "split_data", "train_model", "score_model")
    assert dict(nodes) == dict.fromkeys(steps, "completed")
    assert '<svg class="plot" data-title="accuracy"' in page
    assert "<figcaption>image: confusion matrix / test</figcaption>" in page
