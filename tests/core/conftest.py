"""Shared helpers for the core tests: the repo root, fixture pipelines, the real `pipec` CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINES = Path(__file__).resolve().parent / "pipelines"
EXAMPLES = REPO_ROOT / "examples"

# Fixture pipelines mark the line pipec must report with this comment.
ERROR_MARKER = "# expected-error"

T = TypeVar("T")


def pipec_executable() -> str:
    """The `pipec` console script of the interpreter running the tests."""
    beside = Path(sys.executable).parent / "pipec"
    if beside.is_file():
        return str(beside)
    found = shutil.which("pipec")
    if found is None:
        pytest.fail("the pipec console script is not installed next to this Python")
    return found


def rel(path: Path) -> str:
    """A path as pipec shows it when run from the repo root."""
    return path.resolve().relative_to(REPO_ROOT).as_posix()


def marked_line(path: Path, marker: str = ERROR_MARKER) -> int:
    """The 1-based line of the only line carrying `marker`."""
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    assert len(lines) == 1, f"{path} must mark exactly one line with {marker!r}"
    return lines[0]


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the only line containing `needle`."""
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    assert len(lines) == 1, f"{needle!r} must occur on exactly one line of {path}"
    return lines[0]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r"(^|\s)error: ", line)]


def squash(text: str) -> str:
    """Whitespace collapsed, so terminal wrapping does not matter."""
    return " ".join(text.split())


@dataclass(frozen=True, repr=False)
class Result:
    """A finished command; its repr is what a failing assertion shows."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:
        return (
            f"{' '.join(self.args)} -> {self.returncode}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def cli_env(pipec_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PIPEC_HOME")}
    env["PIPEC_HOME"] = str(pipec_home)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run_pipec(
    *args: str | Path,
    pipec_home: Path,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run the installed `pipec` command from the repo root (relative paths are stable)."""
    argv = tuple(str(a) for a in args)
    proc = subprocess.run(
        [pipec_executable(), *argv],
        cwd=cwd,
        env=cli_env(pipec_home, env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(("pipec", *argv), proc.returncode, proc.stdout, proc.stderr)


def run_python(script: Path, *, pipec_home: Path, cwd: Path) -> Result:
    """Run a script by hand with the test interpreter, as a user would."""
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=cli_env(pipec_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(("python", str(script)), proc.returncode, proc.stdout, proc.stderr)


def run_many(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent CLI calls concurrently (each one starts a fresh interpreter)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture
def pipec_home(tmp_path: Path) -> Path:
    """An empty PIPEC_HOME: no registered task templates."""
    home = tmp_path / "pipec_home"
    home.mkdir()
    return home


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch, pipec_home: Path) -> Path:
    """In-process capture from the repo root, with an empty template registry."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("PIPEC_HOME", str(pipec_home))
    return REPO_ROOT
