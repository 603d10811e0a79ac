"""The compiled flow on a real `prefect server`: served, run through the API with changed
parameters, cancelled mid-step and resumed, as a team that operates Prefect would run it.

Slow (a server start each, ~10-30 s): each test covers a whole path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from pipec.capture.session import load_pipeline
from pipec.runtime.runstore import open_run
from pipec_prefect.flowfile import function_name
from pipec_prefect.target import PrefectTarget
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

FAN = "tests/prefect/pipelines/fan.py"
SLOW = "tests/prefect/pipelines/slow.py"
BIN = Path(sys.executable).parent
STARTUP = 180.0
"""Seconds a server start and a served deployment may take on a busy machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def started(argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """A process in a session of its own, so teardown stops its children too."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def wait_until(ready: object, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if ready():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what}: not ready after {STARTUP:g} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`prefect server start` on loopback with its own home; its API URL and the
    environment its clients use."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = tmp_path / "server.log"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    proc = started([*argv, "--port", str(port), "--no-ui"], env, log, tmp_path)
    try:
        wait_until(
            lambda: urllib.request.urlopen(f"{url}/health", timeout=2).status == 200,
            "prefect server",
            proc,
            log,
        )
        yield url, env | {"PREFECT_API_URL": url}
    finally:
        stop(proc)


def served(
    path: str, env: dict[str, str], tmp_path: Path, url: str
) -> tuple[subprocess.Popen, Path, Path]:
    """`path` compiled and served as deployment `<flow>/api`; the serving process, its
    log and the store its runs use."""
    flows, store = tmp_path / "flows", tmp_path / "store"
    pipeline = load_pipeline(path)
    PrefectTarget().compile(pipeline, flows)
    log = tmp_path / "serve.log"
    stem, function = Path(path).stem, function_name(pipeline)
    code = f"from {stem} import {function}; {function}.serve(name='api')"
    serve = started([sys.executable, "-c", code], env | {"PIPEC_STORAGE": str(store)}, log, flows)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as c:
            wait_until(
                lambda: c.read_deployment_by_name(f"{pipeline.name}/api"), "serve", serve, log
            )
    except BaseException:
        stop(serve)
        raise
    return serve, log, store


def test_a_served_flow_runs_through_the_api_with_changed_parameters(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    serve, log, store = served(FAN, env, tmp_path, url)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            flow_run = run_deployment(
                "fan/api",
                parameters={"n": 5, "label": "sum", "scratch": str(tmp_path / "scratch")},
                timeout=STARTUP,
            )
            with get_client(sync_client=True) as client:
                only = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
                artifacts = client.read_artifacts(flow_run_filter=only)
    finally:
        stop(serve)

    assert flow_run.state is not None and flow_run.state.is_completed(), log.read_text()
    assert flow_run.parameters == {"n": 5, "label": "sum", "scratch": str(tmp_path / "scratch")}
    run = open_run(str(store), "fan", str(UUID(str(flow_run.id))))
    record = run.run_record()
    assert (record.target, record.status) == ("prefect", "completed")
    assert (record.parameters["n"], record.parameters["scale"]) == (5, 2.0)
    assert run.load(run.step_record("join").outputs["text"]) == "sum=20.0"
    assert [(m.title, m.series, m.value) for m in record.metrics] == [("result", "total", 20.0)]
    by_type = {a.type: a for a in artifacts}
    assert by_type["table"].key == "pipec-fan-metrics"
    assert "20.0" in str(by_type["table"].data)
    assert str(flow_run.id) in str(by_type["markdown"].data)


def test_a_cancelled_flow_run_is_recorded_aborted_and_resumes(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    gate = tmp_path / "gate"
    serve, log, store = served(SLOW, env, tmp_path, url)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            flow_run = run_deployment("slow/api", parameters={"n": 2, "gate": str(gate)}, timeout=0)
            run_id = str(UUID(str(flow_run.id)))

            def slow_runs() -> bool:
                run = open_run(str(store), "slow", run_id)
                return run.step_record("slow").status == "running"

            wait_until(slow_runs, "the slow step", serve, log)
            cancel = subprocess.run(
                [str(BIN / "prefect"), "flow-run", "cancel", run_id],
                env=env,
                capture_output=True,
                text=True,
            )
            assert cancel.returncode == 0, cancel.stdout + cancel.stderr
            with get_client(sync_client=True) as client:
                wait_until(
                    lambda: client.read_flow_run(flow_run.id).state.is_final(),
                    "the cancel",
                    serve,
                    log,
                )
                state = client.read_flow_run(flow_run.id).state
            # the record is written by the flow run's end, or by the cancellation hook
            # in the serving process after it: wait for it to leave `running`
            wait_until(
                lambda: open_run(str(store), "slow", run_id).run_record().status != "running",
                "the run record",
                serve,
                log,
            )
    finally:
        stop(serve)

    assert state is not None and state.is_cancelled(), (state, log.read_text())
    run = open_run(str(store), "slow", run_id)
    record = run.run_record()
    assert record.status == "aborted", record
    assert record.error and "cancel" in record.error, record.error
    slow = run.step_record("slow")
    assert (slow.status, slow.attempts[-1].status) == ("aborted", "aborted"), slow
    assert "SIGKILL" not in (slow.error or ""), slow.error
    assert run.step_record("quick").status == "completed"

    gate.touch()  # the resumed run's slow step finishes
    from pipec.cli import app
    from typer.testing import CliRunner

    resumed = CliRunner().invoke(
        app, ["runs", "resume", run_id, "--storage", str(store), "--json"], env={}
    )
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert {name: (s["status"], s["attempts"]) for name, s in summary["steps"].items()} == {
        "quick": ("cached", 0),
        "slow": ("completed", 1),
        "after": ("completed", 1),
    }, summary
    assert (summary["status"], summary["return_value"]) == ("completed", 31)
