"""Targets are checked as they register: a plugin that breaks the contract is named once,
before any pipeline can fail far away because of it. An observer that cannot do its work
never fails a run: what it says goes into the run record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipec import plugins
from pipec.adapter import hookimpl, read_run
from pipec.cli import app
from pipec.errors import UsageError
from typer.testing import CliRunner


class Good:
    name = "good-target"
    description = "keeps the contract"
    capabilities = frozenset({"task_steps"})

    def compile(self, pipeline: Any, out_dir: Path, options: Any = None) -> list[Path]:
        return []

    def run(self, pipeline: Any, options: Any, logic: Any) -> Any:
        raise NotImplementedError


class NoRun(Good):
    name = "no-run"
    run = None  # type: ignore[assignment]


class Typo(Good):
    name = "typo"
    capabilities = frozenset({"task_steps", "retry_callables"})


class Plugin:
    def __init__(self, target: Any) -> None:
        self.target = target

    @hookimpl
    def pipec_targets(self) -> list[Any]:
        return [self.target]


@pytest.fixture
def register() -> Iterator[Any]:
    pm = plugins.plugin_manager()
    registered: list[Any] = []

    def add(target: Any, name: str) -> None:
        plugin = Plugin(target)
        pm.register(plugin, name=name)
        registered.append(plugin)

    yield add
    for plugin in registered:
        pm.unregister(plugin)


def test_a_target_that_keeps_the_contract_is_listed(register: Any) -> None:
    register(Good(), "my-plugin")
    assert "good-target" in plugins.targets()
    result = CliRunner().invoke(app, ["targets"])
    assert result.exit_code == 0
    assert "good-target" in result.stdout


def test_targets_shows_each_targets_distribution_and_version(register: Any) -> None:
    from importlib.metadata import version

    register(Good(), "by-hand")
    dists = plugins.target_distributions()
    assert dists["local"] == ("pipec", version("pipec"))
    assert dists["json"] == ("pipec", version("pipec"))
    assert dists["good-target"] is None  # registered by hand: in no distribution
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["targets"])
    assert result.exit_code == 0
    local = next(line for line in result.stdout.splitlines() if " local " in line)
    assert " pipec " in local and version("pipec") in local
    good = next(line for line in result.stdout.splitlines() if "good-target" in line)
    assert f"(module {__name__})" in good


def test_a_target_missing_an_attribute_is_refused_naming_the_plugin(register: Any) -> None:
    register(NoRun(), "broken-plugin")
    with pytest.raises(
        UsageError,
        match=r"^plugin 'broken-plugin': target 'no-run' does not implement "
        r"pipec.adapter.Target: missing or wrong run$",
    ):
        plugins.targets()


def test_an_unknown_capability_is_refused_naming_it_and_the_plugin(register: Any) -> None:
    register(Typo(), "typo-plugin")
    with pytest.raises(UsageError, match=r"^plugin 'typo-plugin': target 'typo' declares unknown "
                       r"capabilities \['retry_callables'\]; known: retry_callable, "):  # fmt: skip
        plugins.targets()


def test_the_cli_reports_a_broken_plugin_as_a_usage_error(register: Any) -> None:
    register(Typo(), "typo-plugin")
    result = CliRunner().invoke(app, ["targets"])
    assert result.exit_code == 2
    assert "typo-plugin" in result.stderr
    assert "Traceback" not in result.output


def test_an_option_the_target_does_not_know_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["compile", "examples/iris_functions.py", "--target", "json", "--out", str(out),
         "--option", "storage=s3://bucket"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "target 'json' has no option 'storage'; its options: none" in result.stderr
    assert not out.exists()


def test_an_option_without_a_value_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["compile", "examples/iris_functions.py", "--target", "json", "--out", str(tmp_path),
         "--option", "storage"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--option takes NAME=VALUE, got 'storage'" in result.stderr


class Observer:
    """A tracker that reads each finished run's steps and cannot log them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, list[str]]] = []

    @hookimpl
    def pipec_run_event(self, store: str, record: Any, event: str) -> str | None:
        if event == "started":
            self.seen.append((store, event, []))
            return None
        pipeline, steps = read_run(store, record)
        self.seen.append((store, event, [s.name for s in pipeline.steps]))
        return f"observer: {[(s.name, s.status) for s in steps]} not logged"


def test_what_an_observer_could_not_do_is_in_the_run_record(tmp_path: Path) -> None:
    observer = Observer()
    pm = plugins.plugin_manager()
    pm.register(observer, name="observer")
    try:
        result = CliRunner().invoke(
            app,
            ["run", "tests/core/pipelines/decorator/round_output.py", "--target", "debug",
             "--storage", str(tmp_path), "--json"],
        )  # fmt: skip
        shown = CliRunner().invoke(
            app, ["runs", "show", json.loads(result.stdout)["run_id"], "--storage", str(tmp_path)]
        )
    finally:
        pm.unregister(observer)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    note = "observer: [('evaluate', 'completed'), ('publish', 'completed')] not logged"
    assert summary["status"] == "completed"  # the observer never fails the run
    assert summary["observer_notes"] == [note]
    assert observer.seen == [
        (str(tmp_path), "started", []),
        (str(tmp_path), "completed", ["evaluate", "publish"]),
    ]
    record = tmp_path / "runs" / "round" / summary["run_id"] / "run.json"
    assert json.loads(record.read_text())["observer_notes"] == [note]
    assert f"observer      {note}" in shown.stdout
