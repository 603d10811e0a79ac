"""A real `mlflow server` on loopback for the session (SQLite backend and artifacts in a
temporary folder, stopped after), MLflow's REST API to read what was logged, and the
`pipec` CLI run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
PIPELINES = Path(__file__).resolve().parent / "pipelines"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = (root / "server.log").open("wb")
    # no job runner: its seven worker processes serve GenAI features, not tracking
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        while not _healthy(url):
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited with {server.returncode}:\n"
                            f"{(root / 'server.log').read_text()[-3000:]}")  # fmt: skip
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker
        server.wait()
        log.close()


class Rest:
    """MLflow's REST API (`/api/2.0/mlflow/...`) of one server."""

    def __init__(self, url: str) -> None:
        self.base = f"{url}/api/2.0/mlflow/"

    def get(self, endpoint: str, **query: Any) -> dict[str, Any]:
        with urllib.request.urlopen(
            self.base + endpoint + "?" + urllib.parse.urlencode(query)
        ) as r:
            return json.load(r)

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base + endpoint,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as r:
            return json.load(r)

    def runs_of(self, experiment: str, pipec_run_id: str) -> list[dict[str, Any]]:
        """Every MLflow run logged for one pipec run, with its tags, params and metrics as
        dicts."""
        found = self.get("experiments/get-by-name", experiment_name=experiment)
        runs = self.post(
            "runs/search",
            {
                "experiment_ids": [found["experiment"]["experiment_id"]],
                "filter": f"tags.`pipec.run_id` = '{pipec_run_id}'",
            },
        ).get("runs", [])
        for run in runs:
            data = run["data"]
            for kind in ("tags", "params", "metrics"):
                run[kind] = {item["key"]: item["value"] for item in data.get(kind, [])}
        return runs

    def artifacts(self, run_id: str, path: str = "") -> list[str]:
        """Every artifact file of a run, as paths in the run."""
        query = {"run_id": run_id, **({"path": path} if path else {})}
        files = self.get("artifacts/list", **query).get("files", [])
        found = []
        for f in files:
            found += self.artifacts(run_id, f["path"]) if f["is_dir"] else [f["path"]]
        return sorted(found)


@pytest.fixture
def rest(mlflow_server: str) -> Rest:
    return Rest(mlflow_server)


Runner = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def pipec_run(tmp_path: Path) -> Runner:
    """`pipec run ... --json` in a process of its own, with `env` added to the
    environment: (exit code, the run's summary, stderr)."""

    def run(*args: str, env: dict[str, str], cwd: Path = ROOT) -> tuple[int, dict, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        environ.update(env)
        done = subprocess.run(
            [str(BIN / "pipec"), "run", *args, "--storage", str(tmp_path / "store"), "--json"],
            env=environ, cwd=cwd, capture_output=True, text=True,
        )  # fmt: skip
        assert done.stdout.strip(), done.stderr
        return done.returncode, json.loads(done.stdout), done.stderr

    return run
