"""A step's console and traceback kept in the store, the error that matters, and looking at
runs afterwards: `pipec runs logs / show / list / resume / rerun`, `pipec graph --run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PIPELINES, Result, cli_env, line_of, pipec_executable, run_pipec
from pipec.capture.session import load_pipeline
from pipec.cli.output import when
from pipec.errors import user_traceback
from pipec.records import RunRecord, StepRecord
from pipec.runtime import console as console_module
from pipec.runtime.console import ConsoleLog
from pipec.runtime.runstore import begin, console_text, find_run
from pipec.store import Store

CONSOLE = PIPELINES / "run" / "console.py"
FAST = {"PYTHONDONTWRITEBYTECODE": ""}


def pipec(*args: str | Path, home: Path, cwd: Path, env: dict[str, str] | None = None) -> Result:
    return run_pipec(*args, pipec_home=home, cwd=cwd, env={**FAST, **(env or {})})


def project(tmp_path: Path, source: Path = CONSOLE) -> Path:
    """A copy of a pipeline file in a folder of its own (the run's working directory)."""
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    shutil.copy(source, folder / source.name)
    return folder


def run_json(result: Result) -> dict[str, Any]:
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object:\n{result!r}")


def records(store: Path, run_id: str) -> tuple[RunRecord, dict[str, StepRecord]]:
    found = find_run(Store(str(store)), run_id)
    assert found is not None
    return found[0], {step.name: step for step in found[1]}


# ---------------------------------------------------------------- the done-when check


def test_a_failing_steps_console_traceback_and_error_then_resume(
    tmp_path: Path, pipec_home: Path
) -> None:
    here, store = project(tmp_path), tmp_path / "store"
    raised_at = line_of(here / "console.py", "# expected-error")
    step_error = f"console.py:{raised_at}: ValueError: second is broken (in step 'second')"

    ran = pipec("run", "console.py", "--storage", store, home=pipec_home, cwd=here)

    assert ran.returncode == 1, ran
    run_id = next(p.name for p in (store / "runs" / "console").iterdir())
    # the failure is printed once: its traceback (in the step's console) and its line
    both = ran.stdout + ran.stderr
    assert both.count(step_error) == 1, ran
    assert both.count("Traceback (most recent call last)") == 1, ran
    assert "pipec/runtime" not in both, ran

    logs = pipec("runs", "logs", run_id, "--storage", store, home=pipec_home, cwd=here)
    assert logs.returncode == 0, logs
    assert "first step says hello" in logs.stdout
    second = pipec("runs", "logs", run_id, "second", "--attempt", "1", "--storage", store,
                   home=pipec_home, cwd=here)  # fmt: skip
    assert second.returncode == 0, second
    # (without the `^^^` lines Python 3.11+ adds under the failing expression)
    lines = [line for line in second.stdout.splitlines() if line.strip(" ^~")]
    assert lines[:3] == [
        "MARKER-second-step",
        "a warning on stderr",
        "Traceback (most recent call last):",
    ]
    # the traceback ends at the user's line, with none of pipec's frames
    assert lines[3:] == [
        f'  File "{here / "console.py"}", line {raised_at}, in second',
        '    raise ValueError("second is broken")  # expected-error',
        "ValueError: second is broken",
    ], second

    shown = pipec("runs", "show", run_id, "--storage", store, home=pipec_home, cwd=here)
    assert shown.returncode == 0, shown
    assert f"  error         step 'second': {step_error}" in shown.stdout.splitlines()
    run, steps = records(store, run_id)
    assert (run.status, run.failed_step, run.error) == ("failed", "second", step_error)
    (attempt,) = steps["second"].attempts
    assert attempt.location == f"console.py:{raised_at}"
    assert attempt.traceback is not None
    assert [line for line in attempt.traceback.splitlines() if line.strip(" ^~")] == lines[2:]
    assert (attempt.console, attempt.truncated) == ("steps/second/console/1.log", False)
    assert steps["third"].status == "skipped"

    # fix the step, then resume: only the failed step and its child run
    fixed = (
        (here / "console.py")
        .read_text()
        .replace('raise ValueError("second is broken")', "return data + 1")
    )
    (here / "console.py").write_text(fixed)
    resumed = pipec("runs", "resume", run_id, "--storage", store, "--json",
                    home=pipec_home, cwd=here)  # fmt: skip
    assert resumed.returncode == 0, resumed
    summary = run_json(resumed)
    assert {name: (s["status"], s["attempts"]) for name, s in summary["steps"].items()} == {
        "first": ("cached", 0),
        "second": ("completed", 1),
        "third": ("completed", 1),
    }
    assert summary["return_value"] == 20
    new_run, new_steps = records(store, summary["run_id"])
    assert new_run.resumed_from == run_id
    assert new_steps["first"].cached_from == f"console/{run_id}/first"
    assert "first step says hello" not in resumed.stderr  # its body did not run again


# ---------------------------------------------------------------- capture on every local target


def test_debug_keeps_what_the_step_printed_in_process(tmp_path: Path, pipec_home: Path) -> None:
    here, store = project(tmp_path), tmp_path / "store"

    ran = pipec("run", "console.py", "--target", "debug", "--storage", store,
                home=pipec_home, cwd=here)  # fmt: skip

    assert ran.returncode == 1, ran
    assert "MARKER-second-step" in ran.stdout  # still on the terminal
    run_id = next(p.name for p in (store / "runs" / "console").iterdir())
    text = console_text(Store(str(store)), "console", run_id, "second", 1)
    assert text is not None
    assert text.startswith("MARKER-second-step\na warning on stderr\nTraceback")
    assert "pipec/" not in text
    first = console_text(Store(str(store)), "console", run_id, "first", 1)
    assert first == "first step says hello\n"  # nothing of pipec's own output


SLEEPER = """\
from pipec import PipelineController


def sleeper():
    import time

    print("before the kill", flush=True)
    time.sleep(60)
    return 1


if __name__ == "__main__":
    pipe = PipelineController(name="sleeper", project="pipec tests", version="1.0")
    pipe.add_function_step(name="sleeper", function=sleeper, function_return=["x"], time_limit=1)
    pipe.start_locally(run_pipeline_steps_locally=True)
"""


def test_a_killed_step_keeps_what_it_printed(tmp_path: Path, pipec_home: Path) -> None:
    here, store = tmp_path, tmp_path / "store"
    (here / "sleeper.py").write_text(SLEEPER)

    ran = pipec("run", "sleeper.py", "--storage", store, home=pipec_home, cwd=here)

    assert ran.returncode == 1, ran
    run_id = next(p.name for p in (store / "runs" / "sleeper").iterdir())
    _, steps = records(store, run_id)
    (attempt,) = steps["sleeper"].attempts
    assert (attempt.status, attempt.console) == ("aborted", "steps/sleeper/console/1.log")
    assert console_text(Store(str(store)), "sleeper", run_id, "sleeper", 1) == "before the kill\n"


CHATTY = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["x"])
def chatty():
    for i in range(100):
        print(f"line {i:03d} of the chatty step")
    return 1


@PipelineDecorator.pipeline(name="chatty", project="pipec tests")
def chatty_pipeline():
    return chatty()


if __name__ == "__main__":
    chatty_pipeline()
"""


@pytest.mark.parametrize("target", ["local", "debug"])
def test_a_console_is_capped_with_a_mark(target: str, tmp_path: Path, pipec_home: Path) -> None:
    (tmp_path / "chatty.py").write_text(CHATTY)
    store = tmp_path / "store"

    ran = pipec("run", "chatty.py", "--target", target, "--storage", store,
                home=pipec_home, cwd=tmp_path, env={"PIPEC_CONSOLE_LIMIT": "100"})  # fmt: skip

    assert ran.returncode == 0, ran
    assert "line 099 of the chatty step" in ran.stdout  # the terminal gets all of it
    run_id = next(p.name for p in (store / "runs" / "chatty").iterdir())
    text = console_text(Store(str(store)), "chatty", run_id, "chatty", 1)
    assert text is not None
    kept, mark = text[:100], text[100:]
    assert kept == "".join(f"line {i:03d} of the chatty step\n" for i in range(4))[:100]
    assert mark == console_module.truncation_mark(100)
    _, steps = records(store, run_id)
    assert steps["chatty"].attempts[0].truncated
    logs = pipec("runs", "logs", run_id, "--storage", store, home=pipec_home, cwd=tmp_path)
    assert "==> chatty, attempt 1: completed, console truncated <==" in logs.stdout, logs


def test_a_console_limit_that_is_no_byte_count_is_a_usage_error(
    tmp_path: Path, pipec_home: Path
) -> None:
    (tmp_path / "chatty.py").write_text(CHATTY)

    ran = pipec("run", "chatty.py", "--storage", tmp_path / "store", home=pipec_home,
                cwd=tmp_path, env={"PIPEC_CONSOLE_LIMIT": "lots"})  # fmt: skip

    assert ran.returncode == 2, ran
    assert "PIPEC_CONSOLE_LIMIT='lots'" in ran.stderr, ran


def test_on_an_object_store_the_console_is_uploaded_in_chunks_and_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store(f"memory://console-{time.time_ns()}")
    run, _ = begin(store, _pipeline(), "r1", "debug", {})  # a run of pipeline "console"
    monkeypatch.setattr(console_module, "UPLOAD_BYTES", 10)
    log = ConsoleLog(run, "s", 1)
    path = run.files.console("s", 1)

    log.write("short\n")
    assert store.read_bytes(path) == b""  # below a chunk: not uploaded yet
    log.write("a longer line\n")
    assert store.read_bytes(path) == b"short\na longer line\n"
    log.write("last\n")
    log.close()
    assert console_text(store, "console", "r1", "s", 1) == "short\na longer line\nlast\n"


def _pipeline() -> Any:
    return load_pipeline(str(CONSOLE))


# ---------------------------------------------------------------- the error that matters


def test_a_traceback_loses_pipecs_frames_and_keeps_its_causes() -> None:
    def users_code() -> None:
        try:
            {}["key"]
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    try:
        users_code()
    except ValueError as exc:
        shown = user_traceback(exc)
    assert "KeyError: 'key'" in shown
    assert "direct cause" in shown
    assert shown.endswith("ValueError: wrapped\n")
    assert "test_console.py" in shown


TWO_FAILURES = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["x"])
def early():
    raise RuntimeError("early failure")


@PipelineDecorator.component(return_values=["y"])
def late():
    import time

    time.sleep(1.5)
    raise RuntimeError("late failure")


@PipelineDecorator.pipeline(name="two_failures", project="pipec tests", abort_on_failure=False)
def two_failures():
    return early(), late()


if __name__ == "__main__":
    two_failures()
"""


def test_the_run_error_is_the_first_failure_printed_once(tmp_path: Path, pipec_home: Path) -> None:
    (tmp_path / "two.py").write_text(TWO_FAILURES)
    store = tmp_path / "store"

    ran = pipec("run", "two.py", "--storage", store, home=pipec_home, cwd=tmp_path)

    assert ran.returncode == 1, ran
    run_id = next(p.name for p in (store / "runs" / "two_failures").iterdir())
    run, steps = records(store, run_id)
    assert (steps["early"].status, steps["late"].status) == ("failed", "failed")
    early = steps["early"].error
    assert early is not None and "RuntimeError: early failure" in early
    assert (run.failed_step, run.error) == ("early", early)
    assert ran.stderr.count(early) == 1, ran  # on its step's line, not again at the end
    assert f"step 'early' failed first (`pipec runs logs {run_id} early`" in ran.stderr, ran


# ---------------------------------------------------------------- runs list, graph --run, rerun


def test_runs_list_has_start_times_newest_first(tmp_path: Path, pipec_home: Path) -> None:
    (tmp_path / "chatty.py").write_text(CHATTY)
    store = tmp_path / "store"
    for target in ("debug", "local"):
        ran = pipec("run", "chatty.py", "--target", target, "--storage", store,
                    home=pipec_home, cwd=tmp_path)  # fmt: skip
        assert ran.returncode == 0, ran
    found = {r.target: r for r in (records(store, p.name)[0]
             for p in (store / "runs" / "chatty").iterdir())}  # fmt: skip

    listed = pipec("runs", "list", "--storage", store, home=pipec_home, cwd=tmp_path)

    rows = [[c.strip() for c in line.strip("│").split("│")]
            for line in listed.stdout.splitlines() if line.startswith("│")]  # fmt: skip
    assert [row[:5] for row in rows] == [
        [found[t].run_id, "chatty", t, "completed", when(found[t].started)]
        for t in ("local", "debug")
    ]


def test_graph_colours_steps_by_their_status_in_a_run(tmp_path: Path, pipec_home: Path) -> None:
    here, store = project(tmp_path), tmp_path / "store"
    pipec("run", "console.py", "--storage", store, home=pipec_home, cwd=here)
    run_id = next(p.name for p in (store / "runs" / "console").iterdir())

    drawn = pipec("graph", "console.py", "--run", run_id, "--storage", store,
                  home=pipec_home, cwd=here)  # fmt: skip
    as_dot = pipec("graph", "console.py", "--format", "dot", "--run", run_id, "--storage", store,
                   home=pipec_home, cwd=here)  # fmt: skip
    unknown = pipec("graph", "console.py", "--run", "nope", "--storage", store,
                    home=pipec_home, cwd=here)  # fmt: skip

    assert drawn.returncode == 0, drawn
    lines = drawn.stdout.splitlines()
    classes = [line for line in lines if line.startswith("    class ")]
    assert classes == [
        "    class s_first completed",
        "    class s_second failed",
        "    class s_third skipped",
    ]
    assert "    classDef failed fill:#f4a3a3" in lines
    assert ('    "second" [label="second\\nfailed", style="rounded,filled", '
            'fillcolor="#f4a3a3"];') in as_dot.stdout.splitlines()  # fmt: skip
    assert (unknown.returncode, unknown.stderr.strip()) == (2, f"error: no run 'nope' in {store}")


PARAMETERISED = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def double(x):
    return x * 2


@PipelineDecorator.pipeline(name="param", project="pipec tests")
def param_pipeline(x: int = 1, label: str = "a"):
    return double(x)


if __name__ == "__main__":
    param_pipeline()
"""


def test_rerun_keeps_the_recorded_parameters_edited(tmp_path: Path, pipec_home: Path) -> None:
    (tmp_path / "param.py").write_text(PARAMETERISED)
    store = tmp_path / "store"
    first = run_json(pipec("run", "param.py", "-p", "x=5", "-p", "label=b", "--storage", store,
                           "--json", home=pipec_home, cwd=tmp_path))  # fmt: skip
    assert first["return_value"] == 10

    again = pipec("runs", "rerun", first["run_id"], "-p", "x=7", "--target", "debug",
                  "--storage", store, "--json", home=pipec_home, cwd=tmp_path)  # fmt: skip

    assert again.returncode == 0, again
    summary = run_json(again)
    assert (summary["target"], summary["return_value"]) == ("debug", 14)
    run, _ = records(store, summary["run_id"])
    assert run.parameters == {"x": 7, "label": "b"}
    bad = pipec("runs", "rerun", first["run_id"], "-p", "x=seven", "--storage", store,
                home=pipec_home, cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2, bad
    assert "parameter 'x' of type int takes an integer" in bad.stderr


FOLLOWED = """\
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["x"])
def ticking(wait):
    import os
    import time

    print("tick 1", flush=True)
    while not os.path.exists(wait):
        time.sleep(0.1)
    print("tick 2", flush=True)
    return 1


@PipelineDecorator.pipeline(name="followed", project="pipec tests")
def followed(wait: str = ""):
    return ticking(wait)


if __name__ == "__main__":
    followed()
"""


def test_logs_follow_prints_until_the_run_ends(tmp_path: Path, pipec_home: Path) -> None:
    (tmp_path / "followed.py").write_text(FOLLOWED)
    store, gate = tmp_path / "store", tmp_path / "gate"
    env = cli_env(pipec_home, FAST)
    running = subprocess.Popen(
        [pipec_executable(), "run", "followed.py", "-p", f"wait={gate}", "--storage", str(store)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        runs = store / "runs" / "followed"
        while not runs.is_dir() or not any(runs.iterdir()):
            assert running.poll() is None, running.communicate()
            time.sleep(0.1)
        run_id = next(runs.iterdir()).name
        follow = subprocess.Popen(
            [pipec_executable(), "runs", "logs", run_id, "--follow", "--storage", str(store)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert follow.stdout is not None
        assert follow.stdout.readline() == "==> ticking, attempt 1: running <==\n"
        assert follow.stdout.readline() == "tick 1\n"
        gate.write_text("")  # the step goes on, and ends the run
        rest = follow.communicate()[0]
    finally:
        running.communicate()
    assert follow.returncode == 0
    assert rest == "tick 2\n"
