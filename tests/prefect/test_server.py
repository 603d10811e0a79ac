"""The compiled flow on a real `prefect server`: served, run through the API with changed
parameters, as a team that operates Prefect would run it.

Slow (a server start, ~10-30 s): one test covers the whole path.
"""

from __future__ import annotations

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
from pipec_prefect.target import PrefectTarget
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

FAN = "tests/prefect/pipelines/fan.py"
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


def test_a_served_flow_runs_through_the_api_with_changed_parameters(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = server
    flows, store = tmp_path / "flows", tmp_path / "store"
    PrefectTarget().compile(load_pipeline(FAN), flows)
    log = tmp_path / "serve.log"
    serve = started(
        [sys.executable, "-c", "from fan import fan; fan.serve(name='api')"],
        env | {"PIPEC_STORAGE": str(store)},  # the compiled file leaves storage to the worker
        log,
        flows,
    )
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            with get_client(sync_client=True) as client:
                wait_until(
                    lambda: client.read_deployment_by_name("fan/api"), "flow.serve()", serve, log
                )
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
