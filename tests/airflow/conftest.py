"""One private Airflow (SQLite) for the whole session, configured before Airflow is imported."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from pipec.cli import app
from pipec_airflow.target import migrate, throwaway_home
from typer.testing import CliRunner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="session", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("airflow-home")
    saved = dict(os.environ)
    os.environ.update(throwaway_home(home))
    migrate()
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def dags_folder(airflow_home: Path) -> Path:
    """The session's DAGs folder, emptied: `dag.test()` re-parses all of it on every call."""
    folder = airflow_home / "dags"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelines are addressed from the repository root, as in the README."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def pipec_run(dags_folder: Path) -> Callable[..., tuple[int, dict[str, Any]]]:
    """`pipec run ... --json` in this process (one Airflow per test session)."""

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(app, ["run", *args, "--json"])
        assert result.stdout.strip(), result.output
        return result.exit_code, json.loads(result.stdout)

    return run


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's) on loopback, for the module's tests."""
    requests = logging.getLogger("werkzeug")  # one line per request otherwise
    level = requests.level
    requests.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    requests.setLevel(level)
