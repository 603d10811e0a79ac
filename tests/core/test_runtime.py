"""The runtime as step code sees it: what the cache key depends on, and the ClearML task
surface inside steps (loggers, connected parameters, artifacts, scratch directories,
the controller's own view of its run)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, Result, cli_env, run_pipec
from pipec.api import launch
from pipec.automation.controller import PipelineDecorator
from pipec.contract import RunOptions
from pipec.ir import Step
from pipec.records import Report
from pipec.runtime.runstore import find_run
from pipec.store import Store
from pipec.templates import template_id

RUN = PIPELINES / "run"
CACHED = RUN / "cached.py"
TASK_SURFACE = RUN / "task_surface.py"


@pytest.fixture
def debug_runs(in_repo_root: Path) -> Iterator[None]:
    """Pipelines run in this process; what their scripts set on PipelineDecorator is undone."""
    yield
    PipelineDecorator.reset()


def run_debug(path: Path, storage: Path, *, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a pipeline file on the debug target, as `pipec run` does; its `--json` summary."""
    options = RunOptions(target="debug", storage=str(storage), params=params or {}, quiet=True)
    request = launch.RunRequest(options=options)
    launch.run_file(str(path), request)
    (result,) = request.results
    return result.summary


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in summary["steps"].items()}


def shipped_code(storage: Path, summary: dict[str, Any]) -> str:
    """The source (with helpers) of every step of a run, as the store holds it."""
    specs = storage.glob(f"runs/*/{summary['run_id']}/steps/*/spec.json")
    steps = [Step.model_validate_json(spec.read_text()) for spec in specs]
    return "\n".join(
        part
        for step in steps
        for part in [step.code.source, *(h.source for h in step.code.helpers)]
    )


def edited(tmp_path: Path, edits: list[tuple[str, str]]) -> Path:
    """A copy of the cache fixture with each `old` text replaced by `new`."""
    source = CACHED.read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"{old!r} must occur once in {CACHED}"
        source = source.replace(old, new)
    copy = tmp_path / "pipeline.py"
    copy.write_text(source)
    return copy


# What a second run reuses after the pipeline (or its input) changed: `data` is
# [0, 10, 20] with the original code, so `total` is 30.
CHANGES: dict[str, tuple[list[tuple[str, str]], dict[str, Any], dict[str, str], int]] = {
    "nothing": ([], {}, {"load": "cached", "total": "cached"}, 30),
    "comments and layout": (
        [
            (
                "    # add them up\n    return sum(data)\n",
                "    return sum(  # all\n        data\n    )\n",
            )
        ],
        {},
        {"load": "cached", "total": "cached"},
        30,
    ),
    "step code": (
        [("return sum(data)", "return sum(data) + 1")],
        {},
        {"load": "cached", "total": "completed"},
        31,
    ),
    "helper function": (
        [("return x * 10", "return x * 100")],
        {},
        {"load": "completed", "total": "completed"},
        300,
    ),
    # the key holds the *content* of inputs: new code that gives the same data is a hit below
    "helper function, same result": (
        [("return x * 10", "return 10 * x")],
        {},
        {"load": "completed", "total": "cached"},
        30,
    ),
    "input": ([], {"n": 4}, {"load": "completed", "total": "completed"}, 60),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.usefixtures("debug_runs")
def test_what_the_cache_key_depends_on(change: str, tmp_path: Path) -> None:
    edits, params, expected, total = CHANGES[change]
    store = tmp_path / "store"
    first = run_debug(edited(tmp_path, []), store)
    assert statuses(first) == {"load": "completed", "total": "completed"}
    assert first["return_value"] == 30

    second = run_debug(edited(tmp_path, edits), store, params=params)

    ran = shipped_code(store, second)
    assert all(new in ran for _, new in edits), "the second run did not run the edited code"
    assert statuses(second) == expected
    assert second["return_value"] == total
    for name, status in expected.items():
        reused = second["steps"][name]
        assert reused["cache_hit"] is (status == "cached")
        assert reused["attempts"] == (0 if status == "cached" else 1)
        if status == "cached":
            assert reused["outputs"] == first["steps"][name]["outputs"]


# ---------------------------------------------------------------- the task surface in steps


def run_by_hand(script: Path, *, cwd: Path, env: dict[str, str], pipec_home: Path) -> Result:
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=cli_env(pipec_home, {"PYTHONDONTWRITEBYTECODE": "", **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(("python", str(script)), proc.returncode, proc.stdout, proc.stderr)


def controller_view(output: str) -> dict[str, Any]:
    """The one `CONTROLLER {json}` line the fixture prints after `wait()`."""
    (line,) = re.findall(r"^CONTROLLER (.*)$", output, flags=re.MULTILINE)
    return json.loads(line)


def check_task_surface(
    store: Path, view: dict[str, Any], *, rows: int, label: str, isolated: bool = False
) -> None:
    """What the task_surface fixture must leave, however it was started; `isolated`: with
    `PIPEC_ISOLATE_STEPS=1`, each step in a scratch directory of its own."""
    found = find_run(Store(str(store)), view["run_id"])
    assert found is not None
    run, step_list = found
    steps = {step.name: step for step in step_list}
    state = Store(str(store))

    assert (view["finished"], view["successful"], run.status) == (True, True, "completed")
    dag = view["dag"]
    assert {name: node["name"] for name, node in dag.items()} == {
        "writer": "writer",
        "reader": "reader",
        "configure": "configure",
    }
    assert {name: node["parents"] for name, node in dag.items()} == {
        "writer": [],
        "reader": ["writer"],
        "configure": [],
    }
    assert {name: node["status"] for name, node in dag.items()} == dict.fromkeys(dag, "completed")
    assert {name: node["executed"] for name, node in dag.items()} == {
        name: step.id for name, step in steps.items()
    }
    assert dag["configure"]["base_task_id"] == template_id("pipec tests", "run configure")
    function_ids = {dag["writer"]["base_task_id"], dag["reader"]["base_task_id"]}
    assert len(function_ids) == 2 and all(re.fullmatch("[0-9a-f]{32}", i) for i in function_ids)
    assert dag["writer"]["parameters"] == {"kwargs/rows": rows}  # ClearML's keys
    assert dag["reader"]["parameters"] == {
        "kwargs/task_id": steps["writer"].id,
        "kwargs/writer_cwd": steps["writer"].outputs["cwd"].uri,
    }
    assert dag["configure"]["parameters"] == {
        "General/epochs": "5",
        "General/rate": "0.5",
        "General/shuffle": "true",
        "General/label": label,
    }

    # Task.current_task().get_logger().report_scalar in a function step
    assert steps["writer"].reports == [
        Report(kind="scalar", title="loss", series="train", value=0.25, iteration=3)
    ]
    # upload_artifact of an object and of a file, read back by a later step through ${writer.id};
    # both steps run where the pipeline was launched, as in ClearML, unless isolated
    notes = steps["writer"].artifacts["notes"]
    assert (notes.serializer, Path(notes.uri).name) == ("file", "notes.txt")
    assert state.get_value(steps["writer"].artifacts["table"]) == {"rows": rows}
    assert state.get_value(steps["reader"].outputs["seen"]) == {
        "table": {"rows": rows},
        "notes": "written by writer",
        "sees_scratch": not isolated,
        "same_cwd": not isolated,
    }
    if not isolated:
        assert state.get_value(steps["writer"].outputs["cwd"]) == view["cwd"]
    # task.connect(dict): parameter_override strings cast to the connected values' types
    assert state.get_value(steps["configure"].artifacts["args"]) == {
        "epochs": [5, "int"],
        "rate": [0.5, "float"],
        "shuffle": [True, "bool"],
        "label": [label, "str"],
    }
    assert {k: v for k, v in steps["configure"].parameters.items() if k.startswith("General/")} == {
        "General/epochs": 5,
        "General/rate": 0.5,
        "General/shuffle": True,
        "General/label": label,
    }
    # the controller's logger and upload_artifact, called from a post_execute_callback
    assert run.metrics == [
        Report(kind="scalar", title="callbacks", series="reader", value=1.0, iteration=0)
    ]
    assert state.get_value(run.artifacts["announced"]) == {"step": "reader"}


def test_the_task_surface_of_a_script_started_by_hand(tmp_path: Path, pipec_home: Path) -> None:
    """`python pipeline.py`: start(wait=False), then wait(), on the default target (local)."""
    store = tmp_path / "store"

    result = run_by_hand(
        TASK_SURFACE, cwd=tmp_path, env={"PIPEC_STORAGE": str(store)}, pipec_home=pipec_home
    )

    assert result.returncode == 0, result
    view = controller_view(result.stdout)
    check_task_surface(store, view, rows=3, label="from pipeline")


@pytest.mark.parametrize("isolated", [False, True])
def test_the_task_surface_under_pipec_run(isolated: bool, tmp_path: Path, pipec_home: Path) -> None:
    """`pipec run`'s target, storage and parameters reach a run started with wait=False;
    steps run in the directory `pipec run` was started in (a scratch one each when
    isolated)."""
    store = tmp_path / "store"
    project = tmp_path / "project"
    project.mkdir()

    result = run_pipec(
        "run", TASK_SURFACE, "--target", "debug", "--storage", store, "--json",
        "--param", "rows=7", "--param", "label=from the command line",
        pipec_home=pipec_home, cwd=project, env={"PIPEC_ISOLATE_STEPS": "1" if isolated else ""},
    )  # fmt: skip

    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    view = controller_view(result.stderr)  # with --json, the script's prints go to stderr
    assert (summary["run_id"], summary["target"]) == (view["run_id"], "debug")
    assert view["cwd"] == str(project)
    check_task_surface(store, view, rows=7, label="from the command line", isolated=isolated)
    assert (project / "scratch.txt").exists() is not isolated
