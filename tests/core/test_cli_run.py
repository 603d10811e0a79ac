"""`pipec run`, `pipec runs` and `pipec cache`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    EXAMPLES,
    PIPELINES,
    Result,
    cli_env,
    line_of,
    marked_line,
    rel,
    run_many,
    run_pipec,
)
from pipec import cache
from pipec.contract import FEATURES
from pipec.ir import Pipeline, SourceLocation
from pipec.store import Store
from pipec.validate import check_target

RUN = PIPELINES / "run"
TINY = RUN / "tiny.py"
RAISES = RUN / "raises.py"
CACHED = RUN / "cached.py"
DYNAMIC = RUN / "dynamic.py"
MONITORED = RUN / "monitored.py"
LOGIC_FAILS = RUN / "logic_fails.py"
LOGIC_RAISES = RUN / "logic_raises.py"
INVALID = PIPELINES / "bad" / "return_arity.py"

# Step subprocesses may reuse compiled modules (the suite's default forbids writing them).
FAST = {"PYTHONDONTWRITEBYTECODE": ""}


def pipec(*args: str | Path, pipec_home: Path) -> Result:
    return run_pipec(*args, pipec_home=pipec_home, env=FAST)


def summary_of(result: Result) -> dict[str, Any]:
    """The `--json` summary: stdout must be exactly one JSON object."""
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")
    assert isinstance(summary, dict), result
    return summary


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in summary["steps"].items()}


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a table printed by pipec, cell texts stripped."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


# ---------------------------------------------------------------- exit codes


def test_run_exit_codes(tmp_path: Path, pipec_home: Path) -> None:
    store = str(tmp_path / "store")
    calls = {
        "ok": ("run", rel(TINY), "--storage", store),
        "failed run": ("run", rel(RAISES), "--storage", store),
        "invalid pipeline": ("run", rel(INVALID), "--storage", store),
        "unknown target": ("run", rel(TINY), "--target", "nope", "--storage", store),
        "bad --param": ("run", rel(TINY), "--param", "word", "--storage", store),
        "unknown parameter": ("run", rel(TINY), "--param", "wrod=hi", "--storage", store),
    }
    done = run_many([lambda a=args: pipec(*a, pipec_home=pipec_home) for args in calls.values()])
    results = dict(zip(calls, done, strict=True))

    assert results["ok"].returncode == 0, results["ok"]
    assert results["failed run"].returncode == 1, results["failed run"]
    invalid = results["invalid pipeline"]
    assert invalid.returncode == 1, invalid
    assert invalid.stderr.startswith(f"{rel(INVALID)}:{marked_line(INVALID)}: error: "), invalid
    usage = {
        "unknown target": "error: unknown target 'nope'; available: debug, json, local",
        "bad --param": "error: --param takes NAME=VALUE, got 'word'",
        "unknown parameter": "error: pipeline 'tiny' has no parameter 'wrod'; "
        "its parameters: as_set, marker, word",
    }
    for name, message in usage.items():
        result = results[name]
        assert (result.returncode, result.stdout) == (2, ""), result
        assert result.stderr.splitlines() == [message], result


# ---------------------------------------------------------------- --json and --param


@pytest.mark.parametrize("target", ["local", "debug"])
def test_json_is_the_only_output_on_stdout(target: str, tmp_path: Path, pipec_home: Path) -> None:
    marker = tmp_path / "marker"

    result = pipec(
        "run", rel(TINY), "--target", target, "--storage", tmp_path / "store", "--json",
        "--param", "word=42", "--param", f"marker={marker}", pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 0, result
    summary = summary_of(result)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", summary["run_id"]), summary
    assert (summary["status"], summary["target"]) == ("completed", target)
    (touch,) = summary["steps"].values()
    assert (touch["status"], touch["attempts"], touch["cache_hit"]) == ("completed", 1, False)
    assert touch["duration"] > 0
    (uri,) = touch["outputs"].values()
    assert Path(uri).is_file()
    # `word` is a str parameter: "42" stays text on its way into the step
    assert summary["return_value"] == {"word": "42"}
    assert marker.read_text() == "42"
    # local forwards a step's output line by line, named; debug steps print in this process
    printed = "[touch] step touch says 42" if target == "local" else "step touch says 42"
    assert printed in result.stderr.splitlines(), result
    assert "the pipeline logic says hi" in result.stderr.splitlines(), result


def test_json_leaves_out_a_return_value_that_is_not_json(tmp_path: Path, pipec_home: Path) -> None:
    result = pipec(
        "run", rel(TINY), "--target", "debug", "--storage", tmp_path / "store", "--json",
        "--param", "as_set=true", pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 0, result
    summary = summary_of(result)
    assert summary["status"] == "completed"
    assert "return_value" not in summary


def test_param_reaches_a_controller_reference(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"

    result = pipec(
        "run", rel(RAISES), "--storage", store, "--json", "--param", "rows=5",
        pipec_home=pipec_home,
    )  # fmt: skip

    summary = summary_of(result)
    assert summary["steps"]["boom"]["error"].endswith("ValueError: bad row 5 (in step 'boom')")
    (data,) = summary["steps"]["prepare"]["outputs"].values()
    assert json.loads(Path(data).read_text()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("target", ["local", "debug"])
def test_json_reports_a_run_whose_logic_failed(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    logic_line = f"{rel(LOGIC_RAISES)}:{line_of(LOGIC_RAISES, '# the logic fails here')}"
    error = f"{logic_line}: AssertionError: accuracy 0.25 is too low (in the pipeline logic)"

    result = pipec(
        "run", rel(LOGIC_RAISES), "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 1, result
    summary = summary_of(result)
    assert (summary["status"], summary["error"]) == ("failed", error)
    assert summary["steps"]["score"]["status"] == "completed"
    assert result.stderr.splitlines().count(error) == 1, result


@pytest.mark.parametrize("target", ["local", "debug"])
def test_json_reports_the_failed_step_the_logic_needed(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    step_line = f"{rel(LOGIC_FAILS)}:{line_of(LOGIC_FAILS, '# the step fails here')}"
    step_error = f"{step_line}: RuntimeError: no data (in step 'score')"

    result = pipec(
        "run", rel(LOGIC_FAILS), "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip

    assert result.returncode == 1, result
    summary = summary_of(result)
    # the logic's use of the value (`if accuracy > 0.5:`) raised because the step failed:
    # the step's error is the run's
    assert (summary["status"], summary["error"]) == ("failed", step_error)
    assert summary["steps"]["score"]["error"] == step_error
    assert result.stderr.count(step_error) == 1, result  # on its step's line only
    assert "StepFailedError" not in result.stderr, result


# ---------------------------------------------------------------- runs list / runs show


def test_runs_list_and_show(tmp_path: Path, pipec_home: Path) -> None:
    store, counter = tmp_path / "store", tmp_path / "counter"
    run = ("run", rel(MONITORED), "--storage", store, "--json", "--param", f"counter={counter}")
    first = summary_of(pipec(*run, pipec_home=pipec_home))
    second = summary_of(pipec(*run, pipec_home=pipec_home))
    one, two = first["run_id"], second["run_id"]
    assert (statuses(first), statuses(second)) == (
        {"flaky": "completed", "score": "completed"},
        {"flaky": "completed", "score": "cached"},
    )

    listed, shown_one, shown_two, as_json = run_many(
        [
            lambda: pipec("runs", "list", "--storage", store, pipec_home=pipec_home),
            lambda: pipec("runs", "show", one, "--storage", store, pipec_home=pipec_home),
            lambda: pipec("runs", "show", two, "--storage", store, pipec_home=pipec_home),
            lambda: pipec("runs", "show", two, "--storage", store, "--json", pipec_home=pipec_home),
        ]
    )

    assert listed.returncode == 0, listed
    rows = table_rows(listed.stdout)
    assert [row[:4] + row[6:] for row in rows] == [
        [two, "monitored", "local", "completed", "2"],  # newest first
        [one, "monitored", "local", "completed", "2"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[4]) for row in rows), rows
    metric = "score/accuracy=0.875"
    assert shown_one.returncode == 0, shown_one
    assert f"monitored run {one} on local: completed" in shown_one.stdout
    assert [row[:3] + row[4:] for row in table_rows(shown_one.stdout)] == [
        ["flaky", "completed", "2", "", "", ""],
        ["score", "completed", "1", "", "", metric],
    ]
    assert [row[:3] + row[4:] for row in table_rows(shown_two.stdout)] == [
        ["flaky", "completed", "1", "", "", ""],
        ["score", "cached", "0", "yes", "", metric],
    ]
    assert "metric score/accuracy = 0.875" in shown_two.stdout.splitlines()

    payload = json.loads(as_json.stdout)
    assert (payload["run"]["run_id"], payload["run"]["status"]) == (two, "completed")
    assert [(m["title"], m["series"], m["value"]) for m in payload["run"]["metrics"]] == [
        ("score", "accuracy", 0.875)
    ]
    steps = {step["name"]: step for step in payload["steps"]}
    assert (steps["score"]["status"], steps["score"]["cache_hit"]) == ("cached", True)
    assert steps["score"]["cached_from"].endswith(f"/{one}/score")
    assert [a["status"] for a in steps["flaky"]["attempts"]] == ["completed"]


def test_runs_show_of_an_unknown_run_is_a_usage_error(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()

    result = pipec("runs", "show", "nope", "--storage", store, pipec_home=pipec_home)

    assert (result.returncode, result.stdout) == (2, ""), result
    assert result.stderr.splitlines() == [f"error: no run 'nope' in {store}"]


# ---------------------------------------------------------------- --refresh and pipec cache


def test_refresh_and_the_cache_commands(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"

    def run(*args: str, target: str = "debug") -> dict[str, str]:
        result = pipec(
            "run", rel(CACHED), "--target", target, "--storage", store, "--json", *args,
            pipec_home=pipec_home,
        )  # fmt: skip
        assert result.returncode == 0, result
        return statuses(summary_of(result))

    def cache_rows() -> list[list[str]]:
        result = pipec("cache", "ls", "--storage", store, pipec_home=pipec_home)
        assert result.returncode == 0, result
        return table_rows(result.stdout)

    def clear(*args: str) -> str:
        result = pipec("cache", "clear", "--storage", store, *args, pipec_home=pipec_home)
        assert result.returncode == 0, result
        return result.stdout.strip()

    assert run(target="local") == {"load": "completed", "total": "completed"}
    # `load` was cached by a local run and is hit by a debug run: the key ignores the target
    assert run("--refresh", "total") == {"load": "cached", "total": "completed"}
    assert run("--refresh", "all") == {"load": "completed", "total": "completed"}

    keys = {entry.step: entry.key for entry in cache.entries(Store(str(store)))}
    assert sorted(keys) == ["load", "total"]
    assert sorted([row[0], row[1], row[2], row[4]] for row in cache_rows()) == [
        [keys["load"][:12], "cached", "load", "data"],
        [keys["total"][:12], "cached", "total", "total"],
    ]

    assert clear("--step", "total") == "removed 1 cache entries"
    assert run() == {"load": "cached", "total": "completed"}

    assert clear() == "removed 2 cache entries"
    assert cache_rows() == []
    assert run() == {"load": "completed", "total": "completed"}


# ---------------------------------------------------------------- dynamic decorator pipelines


def test_a_dynamic_pipeline_runs_and_its_ir_says_where_the_trace_stopped(
    tmp_path: Path, pipec_home: Path
) -> None:
    out_dir = tmp_path / "compiled"
    local, debug, compiled = run_many(
        [
            lambda: pipec(
                "run", rel(DYNAMIC), "--target", "local", "--storage", tmp_path / "a", "--json",
                pipec_home=pipec_home,
            ),
            lambda: pipec(
                "run", rel(DYNAMIC), "--target", "debug", "--storage", tmp_path / "b", "--json",
                "--param", "threshold=0.9", pipec_home=pipec_home,
            ),
            lambda: pipec(
                "compile", rel(DYNAMIC), "--target", "json", "--out", out_dir,
                pipec_home=pipec_home,
            ),
        ]
    )  # fmt: skip

    assert local.returncode == 0, local
    assert statuses(summary_of(local)) == {"score": "completed", "publish": "completed"}
    assert summary_of(local)["return_value"] == {"accuracy": 0.75, "report": "accuracy 0.75"}
    assert debug.returncode == 0, debug
    assert statuses(summary_of(debug)) == {"score": "completed", "retrain": "completed"}
    assert summary_of(debug)["return_value"] == {"accuracy": 0.75, "report": "retrain from 0.75"}
    assert "logic chose: retrain from 0.75" in debug.stderr.splitlines()

    # the IR says where the trace stopped; a target without `dynamic` refuses it there
    assert compiled.returncode == 0, compiled
    ir = Pipeline.model_validate_json((out_dir / "dynamic.pipec.json").read_text())
    decision = SourceLocation(file=rel(DYNAMIC), line=line_of(DYNAMIC, "# decision"))
    assert ir.controller is not None and ir.controller.cut == decision
    assert [s.name for s in ir.steps] == ["score"]
    (error,) = check_target(ir, "static", frozenset(FEATURES) - {"dynamic"})
    assert error.location == decision
    assert "decides which steps run from step values" in error.message


# ---------------------------------------------------------------- the examples


def run_example(script: Path, *, cwd: Path, store: Path, pipec_home: Path) -> Result:
    """`python examples/...` by hand, in another directory, with its store in PIPEC_STORAGE."""
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=cli_env(pipec_home, {**FAST, "PIPEC_STORAGE": str(store)}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(("python", str(script)), proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.examples
def test_the_iris_pipeline_by_hand_then_from_the_cache(tmp_path: Path, pipec_home: Path) -> None:
    script, store = EXAMPLES / "iris_pipeline.py", tmp_path / "store"
    accuracy = re.compile(r"^accuracy: \d{1,3}\.\d%$", re.MULTILINE)

    first = run_example(script, cwd=tmp_path, store=store, pipec_home=pipec_home)
    second = run_example(script, cwd=tmp_path, store=store, pipec_home=pipec_home)

    assert first.returncode == 0, first
    assert second.returncode == 0, second
    assert len(accuracy.findall(first.stdout)) == 1, first
    assert accuracy.findall(second.stdout) == accuracy.findall(first.stdout), second
    assert "no step body ran" in second.stderr, second
    assert "no step body ran" not in first.stderr, first
    assert re.search(r"4 steps, 4 reused from the cache; no step body ran$", second.stderr, re.M)


@pytest.mark.examples
def test_the_other_examples_under_pipec_run(tmp_path: Path, pipec_home: Path) -> None:
    functions, tasks = run_many(
        [
            lambda: pipec(
                "run", rel(EXAMPLES / "iris_functions.py"), "--target", "debug",
                "--storage", tmp_path / "a", "--json", pipec_home=pipec_home,
            ),
            lambda: run_pipec(  # its train step writes model.pkl where it was launched
                "run", EXAMPLES / "iris_tasks" / "pipeline_from_tasks.py",
                "--target", "local", "--storage", tmp_path / "b", "--json", pipec_home=pipec_home,
                env=FAST, cwd=tmp_path,
            ),
        ]
    )  # fmt: skip

    assert functions.returncode == 0, functions
    assert statuses(summary_of(functions)) == dict.fromkeys(
        ["step_one", "step_two", "step_three", "step_four"], "completed"
    )
    assert tasks.returncode == 0, tasks
    assert statuses(summary_of(tasks)) == dict.fromkeys(
        ["stage_data", "stage_process", "stage_train"], "completed"
    )
