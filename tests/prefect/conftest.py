"""One Prefect API server (`prefect_test_harness`) for the whole session.

`pipec run` subprocesses (the conformance kit) reach it through $PREFECT_API_URL, so no
test pays for another server start."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="session", autouse=True)
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        os.environ["PREFECT_API_URL"] = url
        yield url
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelines are addressed from the repository root, as in the README."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def pipec_run() -> Callable[..., tuple[int, dict[str, Any]]]:
    """`pipec run ... --json` in this process, against the session's server."""
    from pipec.cli import app
    from typer.testing import CliRunner

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(app, ["run", *args, "--json"])
        assert result.stdout.strip(), result.output
        return result.exit_code, json.loads(result.stdout)

    return run
