"""Task templates: registered with `pipec task register` or by running the script by hand,
then found by `add_step(base_task_project=..., base_task_name=...)` from anywhere."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    EXAMPLES,
    PIPELINES,
    REPO_ROOT,
    Result,
    error_lines,
    marked_line,
    rel,
    run_many,
    run_pipec,
    run_python,
    squash,
)
from pipec import templates
from pipec.capture.session import load_pipeline
from pipec.errors import CaptureError, PipelineError
from pipec.ir import ArtifactRef, Pipeline

STEP1 = EXAMPLES / "iris_tasks" / "step1_dataset_artifact.py"
STEP1_PROJECT, STEP1_NAME = "examples", "pipeline step 1 dataset artifact"
STEP1_ID = templates.template_id(STEP1_PROJECT, STEP1_NAME)
FAR_PIPELINE = PIPELINES / "controller" / "from_registered_template.py"
MARKER_LINE = 'open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ran.marker"), "w").write("ran")\n'  # noqa: E501


def registry_entries(home: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((home / "templates").glob("*.json"))]


def copy_with_marker(directory: Path, *, literal_names: bool = True) -> Path:
    """A copy of step1 whose code after execute_remotely() writes ran.marker."""
    directory.mkdir(parents=True)
    source = STEP1.read_text()
    call = "task.execute_remotely()\n"
    assert source.count(call) == 1
    source = source.replace(call, call + MARKER_LINE)
    if not literal_names:
        # a name a function of the script gives: only running the script could tell it, so
        # the script cannot be a template, and nothing stops it
        source = source.replace(f'task_name="{STEP1_NAME}"', "task_name=step_name()")
        source = f"def step_name():\n    return {STEP1_NAME!r}\n\n\n" + source
    script = directory / "step1_copy.py"
    script.write_text(source)
    return script


@dataclass
class Flows:
    homes: dict[str, Path]
    marker_dir: Path
    free_dir: Path
    results: dict[str, Result]


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Flows:
    """Every command of this module, in two concurrent rounds (a fresh interpreter each)."""
    tmp = tmp_path_factory.mktemp("templates")
    homes = {name: tmp / name for name in ("register", "hand", "marker", "free", "empty", "bad")}
    for home in homes.values():
        home.mkdir()
    marker_script = copy_with_marker(tmp / "marker_task")
    free_script = copy_with_marker(tmp / "free_task", literal_names=False)
    no_init = tmp / "no_init" / "plain_script.py"
    no_init.parent.mkdir()
    no_init.write_text("print('no Task.init here')\n")
    first = {
        "register": lambda: run_pipec("task", "register", rel(STEP1), pipec_home=homes["register"]),
        "hand": lambda: run_python(STEP1, pipec_home=homes["hand"], cwd=tmp),
        "marker": lambda: run_python(
            marker_script, pipec_home=homes["marker"], cwd=marker_script.parent
        ),
        "free": lambda: run_python(free_script, pipec_home=homes["free"], cwd=free_script.parent),
        "unregistered": lambda: run_pipec(
            "inspect", rel(FAR_PIPELINE), "--json", pipec_home=homes["empty"]
        ),
        "register_no_init": lambda: run_pipec("task", "register", no_init, pipec_home=homes["bad"]),
        "register_missing": lambda: run_pipec(
            "task", "register", "examples/iris_tasks/no_such_step.py", pipec_home=homes["bad"]
        ),
    }
    results = dict(zip(first, run_many(list(first.values())), strict=True))
    second = {
        "list": lambda: run_pipec(
            "task", "list", pipec_home=homes["register"], env={"COLUMNS": "250"}
        ),
        "list_default_width": lambda: run_pipec("task", "list", pipec_home=homes["register"]),
        "registered": lambda: run_pipec(
            "inspect", rel(FAR_PIPELINE), "--json", pipec_home=homes["register"]
        ),
    }
    results.update(zip(second, run_many(list(second.values())), strict=True))
    return Flows(
        homes=homes,
        marker_dir=marker_script.parent,
        free_dir=free_script.parent,
        results=results,
    )


def ok(flows: Flows, name: str) -> Result:
    result = flows.results[name]
    assert result.returncode == 0, result
    return result


def assert_step1_entry(entry: dict[str, object], script: Path = STEP1) -> None:
    assert entry["id"] == STEP1_ID
    assert (entry["project"], entry["name"]) == (STEP1_PROJECT, STEP1_NAME)
    assert entry["script"] == str(script.resolve())
    lines = script.read_text().splitlines()
    assert "Task.init(" in lines[int(entry["line"]) - 1]  # type: ignore[call-overload]


# ---------------------------------------------------------------- pipec task register / list


def test_task_register_writes_the_registry(flows: Flows) -> None:
    result = ok(flows, "register")
    assert f"registered {STEP1_PROJECT}/{STEP1_NAME}" in squash(result.stdout)
    assert STEP1_ID in result.stdout
    assert [p.name for p in (flows.homes["register"] / "templates").iterdir()] == [
        f"{STEP1_ID}.json"
    ]
    (entry,) = registry_entries(flows.homes["register"])
    assert_step1_entry(entry)


def test_task_list_shows_the_template(flows: Flows) -> None:
    rows = [line for line in ok(flows, "list").stdout.splitlines() if STEP1_ID in line]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].strip("│ ").split("│")]
    assert cells == [STEP1_PROJECT, STEP1_NAME, str(STEP1.resolve()), STEP1_ID]


def test_task_list_keeps_the_id_whole_at_default_width(flows: Flows) -> None:
    """At 80 columns (and when piped) the id needed for base_task_id=... stays whole."""
    text = ok(flows, "list_default_width").stdout
    assert STEP1_ID in text
    assert STEP1_PROJECT in text


def test_task_register_without_task_init(flows: Flows) -> None:
    result = flows.results["register_no_init"]
    assert result.returncode == 1, result
    (line,) = error_lines(result.stderr)
    assert "has no module-level Task.init(" in line and "plain_script.py" in line
    assert not any(flows.homes["bad"].rglob("*.json"))


def test_task_register_missing_script_is_a_usage_error(flows: Flows) -> None:
    result = flows.results["register_missing"]
    assert result.returncode == 2, result
    assert "no such file: examples/iris_tasks/no_such_step.py" in squash(result.stderr)


# ---------------------------------------------------------------- add_step finds templates


def test_pipeline_elsewhere_finds_the_registered_template(flows: Flows) -> None:
    pipeline = Pipeline.model_validate_json(ok(flows, "registered").stdout)
    stage = pipeline.step("stage_data")
    assert stage.kind == "task"
    assert stage.code.kind == "script"
    assert stage.code.source == STEP1.read_text()
    assert stage.code.path == rel(STEP1)
    assert stage.definition is not None and stage.definition.file == rel(STEP1)
    assert stage.template is not None and stage.template.template_id == STEP1_ID
    # the second step comes from a script beside the pipeline (no registration needed)
    use = pipeline.step("use_data")
    assert use.code.path == rel(PIPELINES / "controller" / "options_task.py")
    assert use.inputs["General/sources"] == ArtifactRef(
        step="stage_data", name="dataset", attr="url"
    )
    assert use.parents == ["stage_data"]


def test_unregistered_template_is_an_error_at_add_step(flows: Flows) -> None:
    result = flows.results["unregistered"]
    assert result.returncode == 1, result
    assert result.stdout == ""
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"{rel(FAR_PIPELINE)}:{marked_line(FAR_PIPELINE)}: error: ")
    assert f"no task template {STEP1_PROJECT}/{STEP1_NAME}" in line
    assert "pipec task register" in line


def test_missing_template_in_process(in_repo_root: Path) -> None:
    path = PIPELINES / "bad" / "missing_template.py"
    with pytest.raises(CaptureError) as info:
        load_pipeline(rel(path))
    assert str(info.value.location) == f"{rel(path)}:{marked_line(path)}"


# ---------------------------------------------------------------- running a task script by hand


def test_running_the_script_by_hand_registers_it(flows: Flows) -> None:
    result = ok(flows, "hand")
    assert f"registered task template {STEP1_PROJECT}/{STEP1_NAME}" in squash(result.stderr)
    # execute_remotely() stopped it: the upload code below it did not run
    assert "dataset artifact uploaded" not in result.stdout
    (entry,) = registry_entries(flows.homes["hand"])
    assert_step1_entry(entry)


def test_hand_registered_template_is_found_from_elsewhere(
    flows: Flows, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(flows, "hand")
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("PIPEC_HOME", str(flows.homes["hand"]))
    pipeline = load_pipeline(rel(FAR_PIPELINE))
    assert pipeline.step("stage_data").code.source == STEP1.read_text()


def test_execute_remotely_exits_before_the_work(flows: Flows) -> None:
    result = ok(flows, "marker")
    (entry,) = registry_entries(flows.homes["marker"])
    assert_step1_entry(entry, flows.marker_dir / "step1_copy.py")
    assert not (flows.marker_dir / "ran.marker").exists(), result


def test_without_a_template_the_script_runs_on(flows: Flows) -> None:
    """The control: same copy, a name only running it tells, so execute_remotely() does not
    stop it."""
    assert (flows.free_dir / "ran.marker").exists(), flows.results["free"]
    assert registry_entries(flows.homes["free"]) == []


# ---------------------------------------------------------------- the registry in process


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPEC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_register_is_idempotent_and_lookup_finds_by_id_and_name(home: Path) -> None:
    first = templates.register(STEP1)
    again = templates.register(STEP1)
    assert first.id == again.id == STEP1_ID
    assert [t.id for t in templates.registered()] == [STEP1_ID]
    assert templates.lookup(task_id=STEP1_ID) == again
    assert templates.lookup(project=STEP1_PROJECT, name=STEP1_NAME) == again
    assert templates.lookup(project=None, name=STEP1_NAME) == again
    assert templates.lookup(project="other", name=STEP1_NAME) is None


def test_stale_registration_is_ignored(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "moved.py"
    shutil.copy(STEP1, script)
    templates.register(script)
    os.remove(script)
    assert templates.lookup(project=STEP1_PROJECT, name=STEP1_NAME) is None


def test_nearby_scripts_are_found_without_registration(home: Path) -> None:
    found = templates.lookup(
        project=STEP1_PROJECT, name=STEP1_NAME, search_dirs=[str(STEP1.parent)]
    )
    assert found is not None and found.script == str(STEP1.resolve())
    assert not home.exists()


def test_task_type_is_read_from_task_init() -> None:
    found = templates.find_task_init(PIPELINES / "controller" / "options_task.py")
    assert found is not None
    assert (found.project, found.name, found.task_type) == (
        "pipec tests",
        "options template",
        "data_processing",
    )


def test_names_given_as_expressions_are_worked_out_as_running_the_script_would(
    home: Path, tmp_path: Path
) -> None:
    """ClearML registers a template when the script runs, so `Task.init` may name it with
    module-level values: a config module's constants, an f-string."""
    (tmp_path / "settings.py").write_text("class CONFIG:\n    PROJECT = 'from config'\n")
    script = tmp_path / "step.py"
    script.write_text(
        "from pipec import Task\nfrom settings import CONFIG\nSTAGE = 2\n"
        "task = Task.init(project_name=CONFIG.PROJECT, task_name=f'stage {STAGE}')\n"
    )
    template = templates.register(script)
    assert (template.project, template.name) == ("from config", "stage 2")
    assert templates.lookup(project="from config", name="stage 2") == template


def test_register_needs_names_it_can_work_out(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "dynamic.py"
    script.write_text(
        "from pipec import Task\n\ndef main(name):\n"
        "    return Task.init(project_name='p', task_name=name)\n"
    )
    with pytest.raises(PipelineError, match="names it can work out"):
        templates.register(script)
    assert templates.registered() == []
