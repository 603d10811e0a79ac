"""`pipec run --target prefect`: real flow runs on the session's Prefect API server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from pipec.runtime.runstore import open_run
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort

FAN = "tests/prefect/pipelines/fan.py"


def statuses(summary: dict) -> dict[str, tuple[str, int]]:
    return {name: (s["status"], s["attempts"]) for name, s in summary["steps"].items()}


def output(summary: dict, step: str, name: str) -> Any:
    run = open_run(summary["storage"], summary["pipeline"], summary["run_id"])
    return run.load(run.step_record(step).outputs[name])


def flow_run_view(run_id: str) -> tuple[Any, dict[str, Any], list[Any]]:
    """The flow run behind a pipec run, its task runs by name, and its artifacts."""
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(run_id))
        only = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        found = client.read_task_runs(
            flow_run_filter=only, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200
        )
        tasks = {t.name: t for t in found}
        artifacts = client.read_artifacts(flow_run_filter=only)
    return flow_run, tasks, artifacts


def test_iris_functions_runs_end_to_end(pipec_run: Callable, tmp_path: Path) -> None:
    code, summary = pipec_run(
        "examples/iris_functions.py", "--target", "prefect", "--storage", str(tmp_path)
    )
    assert code == 0, summary
    assert (summary["target"], summary["status"]) == ("prefect", "completed")
    steps = ("step_one", "step_two", "step_three", "step_four")
    assert statuses(summary) == {name: ("completed", 1) for name in steps}
    flow_run, tasks, artifacts = flow_run_view(summary["run_id"])
    assert flow_run.state.is_completed()
    assert set(tasks) == set(steps)
    (table,) = [a for a in artifacts if a.type == "table"]
    assert "accuracy" in str(table.data)


def test_outcomes_equal_the_local_target_and_reuse_its_cache(
    pipec_run: Callable, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    local_code, local = pipec_run(
        FAN, "--target", "local", "--storage", store, "-p", f"scratch={tmp_path / 'a'}"
    )
    code, prefect = pipec_run(
        FAN, "--target", "prefect", "--storage", store, "-p", f"scratch={tmp_path / 'b'}"
    )
    assert (code, prefect["status"]) == (local_code, local["status"]) == (0, "completed")
    expected = statuses(local)
    expected["source"] = ("cached", 0)  # filled by the local run, hit by the Prefect run
    assert statuses(prefect) == expected
    assert expected["left"] == ("completed", 2)
    assert expected["after_broken"] == ("skipped", 0)
    assert prefect["steps"]["broken"]["error"] == local["steps"]["broken"]["error"]
    assert output(prefect, "join", "text") == output(local, "join", "text") == "total=12.0"

    flow_run, tasks, artifacts = flow_run_view(prefect["run_id"])
    assert flow_run.state.is_completed()
    assert (tasks["source"].state.name, tasks["after_broken"].state.name) == ("Cached", "Skipped")
    assert tasks["broken"].state.is_failed()
    assert tasks["left"].run_count == 2  # retry_on_failure: a Prefect retry
    assert tasks["right"].tags == ["gpu"]  # execution_queue: a tag
    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.key == "pipec-fan-metrics"
    assert "12.0" in str(table.data)
    assert any(a.type == "markdown" and prefect["run_id"] in str(a.data) for a in artifacts)


def test_params_reach_the_flow_and_a_failing_pipeline_fails_the_flow_run(
    pipec_run: Callable, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"  # `left` cannot make its scratch folder: it fails each time
    blocker.write_text("")
    code, summary = pipec_run(
        FAN,
        "--target",
        "prefect",
        "--storage",
        str(tmp_path / "store"),
        "-p",
        f"scratch={blocker}",
        "-p",
        "n=5",
        "-p",
        "label=sum",
    )
    assert (code, summary["status"]) == (1, "failed")
    assert statuses(summary)["left"] == ("failed", 3)
    assert statuses(summary)["join"] == ("skipped", 0)
    assert output(summary, "source", "value") == 10.0
    flow_run, tasks, _ = flow_run_view(summary["run_id"])
    assert flow_run.state.is_failed()
    assert flow_run.parameters["n"] == 5
    assert tasks["left"].run_count == 3


def test_the_run_page_of_a_prefect_run_is_made_from_the_store_as_for_a_local_run(
    pipec_run: Callable, tmp_path: Path
) -> None:
    import re

    from pipec.report import read_run, run_page
    from pipec.store import Store

    code, summary = pipec_run(
        "examples/iris_pipeline.py", "--target", "prefect", "--storage", str(tmp_path)
    )
    assert code == 0, summary

    page = run_page(read_run(Store(str(tmp_path)), summary["run_id"]))

    nodes = re.findall(r'<g class="node" data-step="([^"]+)" data-status="([^"]+)"', page)
    steps = ("load_data", "split_data", "train_model", "score_model")
    assert dict(nodes) == dict.fromkeys(steps, "completed")
    assert '<svg class="plot" data-title="accuracy"' in page
    assert "<figcaption>image: confusion matrix / test</figcaption>" in page
