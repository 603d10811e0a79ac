"""Faults at run time, run as a user runs them: `pipec run ... --json --storage DIR`.

Each fault must give a clear error that names the step, leave no partial
output and no cache entry behind, and leave a run record that says what
happened; re-running after a crash reuses every step that finished.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, Result, line_of, marked_line, rel, run_many, run_pipec
from pipec import cache
from pipec.records import RunRecord, StepRecord
from pipec.runtime.runstore import find_run
from pipec.store import Store

RUN = PIPELINES / "run"
RAISES = RUN / "raises.py"
CRASH = RUN / "crash.py"
UNPICKLABLE = RUN / "unpicklable.py"
ARITY = RUN / "arity.py"
MISSING = RUN / "missing_artifact.py"
TINY = RUN / "tiny.py"

# Step subprocesses may reuse compiled modules (the suite's default forbids writing them).
FAST = {"PYTHONDONTWRITEBYTECODE": ""}


def pipec_run(
    path: Path, storage: Path | str, *args: str, pipec_home: Path, target: str = "local"
) -> tuple[Result, dict[str, Any]]:
    """`pipec run PATH --json`: the result and the one JSON object it printed."""
    result = run_pipec(
        "run", rel(path), "--target", target, "--storage", storage, "--json", *args,
        pipec_home=pipec_home, env=FAST,
    )  # fmt: skip
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")
    return result, summary


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in summary["steps"].items()}


def stored_run(storage: Path, run_id: str) -> tuple[RunRecord, dict[str, StepRecord]]:
    """The run record and step records the run left in the store."""
    found = find_run(Store(str(storage)), run_id)
    assert found is not None, f"no run {run_id} in {storage}"
    run, steps = found
    return run, {step.name: step for step in steps}


def cached_steps(storage: Path) -> list[str]:
    return sorted(entry.step for entry in cache.entries(Store(str(storage))))


def step_files(storage: Path, run_id: str, step: str) -> list[str]:
    """Files in a step's folder besides its records and consoles, hidden temporary files
    included."""
    (folder,) = storage.glob(f"runs/*/{run_id}/steps/{step}")
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and path.name not in ("step.json", "spec.json")
        and not re.fullmatch(r"console/\d+\.log", path.relative_to(folder).as_posix())
    )


@pytest.mark.parametrize("target", ["local", "debug"])
def test_a_raising_step_fails_the_run_at_its_line(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"
    error = f"{rel(RAISES)}:{marked_line(RAISES)}: ValueError: bad row 3 (in step 'boom')"

    result, summary = pipec_run(RAISES, store, target=target, pipec_home=pipec_home)

    assert result.returncode == 1, result
    assert statuses(summary) == {
        "prepare": "completed",
        "boom": "failed",
        "side": "completed",
        "after": "skipped",
    }
    boom = summary["steps"]["boom"]
    assert (boom["error"], boom["attempts"], boom["outputs"]) == (error, 1, {})
    assert summary["steps"]["after"]["error"] == "parent 'boom' failed"
    assert (summary["status"], summary["error"]) == ("failed", error)
    assert result.stderr.count(error) == 1, result  # on its step's line only
    run, steps = stored_run(store, summary["run_id"])
    assert (run.status, run.error) == ("failed", error)
    assert [(a.status, a.error) for a in steps["boom"].attempts] == [("failed", error)]
    assert step_files(store, summary["run_id"], "boom") == []
    assert cached_steps(store) == ["prepare", "side"]


def test_a_step_killed_while_storing_leaves_nothing_and_a_rerun_resumes(
    tmp_path: Path, pipec_home: Path
) -> None:
    store, flag = tmp_path / "store", tmp_path / "flag"
    error = "step 'crash': the step process was killed by SIGKILL"

    result, summary = pipec_run(CRASH, store, "--param", f"flag={flag}", pipec_home=pipec_home)

    assert result.returncode == 1, result
    assert statuses(summary) == {
        "prepare": "completed",
        "side": "completed",
        "crash": "failed",
        "after": "skipped",
    }
    assert summary["steps"]["crash"]["error"] == error
    assert (summary["status"], summary["error"]) == ("failed", error)
    run, steps = stored_run(store, summary["run_id"])
    assert (run.status, run.error) == ("failed", error)
    crash = steps["crash"]
    assert (crash.status, crash.error, crash.outputs, crash.artifacts) == ("failed", error, {}, {})
    assert [(a.status, a.error) for a in crash.attempts] == [
        ("failed", "the step process was killed by SIGKILL")
    ]
    # neither the artifact and the output the step had finished, nor the half-written one
    assert step_files(store, summary["run_id"], "crash") == []
    assert cached_steps(store) == ["prepare", "side"]

    flag.touch()
    again, resumed = pipec_run(CRASH, store, "--param", f"flag={flag}", pipec_home=pipec_home)

    assert again.returncode == 0, again
    assert statuses(resumed) == {
        "prepare": "cached",
        "side": "cached",
        "crash": "completed",
        "after": "completed",
    }
    _, steps_again = stored_run(store, resumed["run_id"])
    for name in ("prepare", "side"):
        assert steps_again[name].cached_from == steps[name].id
        assert resumed["steps"][name]["outputs"] == summary["steps"][name]["outputs"]
    assert step_files(store, resumed["run_id"], "crash") == [
        "outputs/rest.json",
        "outputs/total.json",
    ]
    assert cached_steps(store) == ["after", "crash", "prepare", "side"]


@pytest.mark.parametrize("target", ["local", "debug"])
def test_an_unpicklable_return_value_fails_its_step(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"

    result, summary = pipec_run(UNPICKLABLE, store, target=target, pipec_home=pipec_home)

    assert result.returncode == 1, result
    assert statuses(summary) == {"make_lock": "failed", "use": "skipped"}
    error = summary["steps"]["make_lock"]["error"]
    assert error.startswith(
        "TypeError: step 'make_lock': cannot store its return value 'lock' (lock): "
        "cannot pickle a _thread.lock: "
    ), error
    assert error.endswith("(in step 'make_lock')"), error
    run, steps = stored_run(store, summary["run_id"])
    assert (run.status, run.error) == ("failed", error)
    assert steps["make_lock"].outputs == {}
    # the first return value was stored before the second one failed: it is gone too
    assert step_files(store, summary["run_id"], "make_lock") == []
    assert cached_steps(store) == []


@pytest.mark.parametrize("target", ["local", "debug"])
def test_a_return_value_of_the_wrong_arity_fails_its_step(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"

    result, summary = pipec_run(ARITY, store, target=target, pipec_home=pipec_home)

    assert result.returncode == 1, result
    errors = {name: step["error"] for name, step in summary["steps"].items()}
    assert errors == {
        "three": "ValueError: step 'three' returned 3 values, but its return_values name 2 "
        "(first, second) (in step 'three')",
        "scalar": "ValueError: step 'scalar' returned one value, but its return_values name 2 "
        "(first, second) (in step 'scalar')",
    }
    run, steps = stored_run(store, summary["run_id"])
    assert run.status == "failed"
    assert {name: step.status for name, step in steps.items()} == {
        "three": "failed",
        "scalar": "failed",
    }
    assert step_files(store, summary["run_id"], "three") == []
    assert cached_steps(store) == []


@pytest.mark.parametrize("target", ["local", "debug"])
def test_a_missing_artifact_is_named_with_the_step_that_wanted_it(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store = tmp_path / "store"
    missing = "step 'producer' uploaded no artifact named 'nope' (it has: data)"
    cached_ref = f"{rel(MISSING)}:{line_of(MISSING, '# nope, cached')}"
    uncached_ref = f"{rel(MISSING)}:{line_of(MISSING, '# nope, uncached')}"

    result, summary = pipec_run(MISSING, store, target=target, pipec_home=pipec_home)

    assert result.returncode == 1, result
    errors = {name: step["error"] for name, step in summary["steps"].items()}
    assert errors == {
        "producer": None,
        # `${producer.artifacts.nope.url}`, found missing by the cache lookup or by the shim
        "by_url": f"{cached_ref}: step 'by_url', input 'url': {missing}",
        "by_url_uncached": f"{uncached_ref}: step 'by_url_uncached', input 'url': {missing}",
        # Task.get_task(...).artifacts["nope"] in the step's own code
        "by_task": f"{rel(MISSING)}:{marked_line(MISSING)}: MissingArtifactError: {missing} "
        "(in step 'by_task')",
    }
    run, steps = stored_run(store, summary["run_id"])
    assert run.status == "failed"
    for name in ("by_url", "by_url_uncached", "by_task"):
        assert (steps[name].status, steps[name].error) == ("failed", errors[name])
        assert step_files(store, summary["run_id"], name) == []
    assert cached_steps(store) == []


def _unusable_stores(tmp_path: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (target, storage URL, the one line pipec must print)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    inside = blocker / "store"
    return {
        "s3 without s3fs": (
            "local",
            "s3://pipec-tests/store",
            "error: storage s3://pipec-tests/store is not usable: s3:// needs `pip install s3fs`",
        ),
        "memory with subprocesses": (
            "local",
            "memory://pipec-tests",
            "error: storage memory://pipec-tests lives inside one process, but target 'local' "
            "runs steps in subprocesses: use a folder or an object store, or the debug target",
        ),
        "under a file": (
            "debug",
            str(inside),
            f"error: storage {inside} is not usable: a file is in the way "
            "(the store must be a folder)",
        ),
    }


def test_an_unusable_store_is_a_usage_error_before_anything_runs(
    tmp_path: Path, pipec_home: Path
) -> None:
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed: s3:// would be tried for real")
    cases = _unusable_stores(tmp_path)
    markers = {name: tmp_path / f"marker-{i}" for i, name in enumerate(cases)}

    def attempt(name: str) -> Result:
        target, url, _ = cases[name]
        return run_pipec(
            "run", rel(TINY), "--target", target, "--storage", url, "--json",
            "--param", f"marker={markers[name]}", pipec_home=pipec_home, env=FAST,
        )  # fmt: skip

    results = run_many([lambda name=name: attempt(name) for name in cases])

    for name, result in zip(cases, results, strict=True):
        assert result.returncode == 2, result
        assert result.stdout == "", result
        assert result.stderr.splitlines() == [cases[name][2]], result
        assert not markers[name].exists(), f"{name}: the step ran"
