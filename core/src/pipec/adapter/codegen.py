"""Helpers for targets that write files: safe names, Python literals, atomic writes.

What both engine adapters need to generate a readable, importable file beside the IR
it runs (an Airflow DAG file, a Prefect flow file); a third-party target writing its
own files uses the same.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipec.errors import PipelineErrors, UsageError, ValidationError
from pipec.ir import Pipeline


def safe_id(name: str, *, empty: str = "pipeline", limit: int | None = None) -> str:
    """`name` with every run of characters other than letters, digits, `_`, `.` and `-`
    made one `_` (what Airflow ids and file names accept); `empty` if nothing is left."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    return cleaned[:limit] if limit is not None and cleaned else cleaned or empty


def identifier(name: str, taken: set[str], *, prefix: str, strip: bool = False) -> str:
    """`name` as a Python identifier that no name in `taken` has (and now is taken):
    `prefix` goes before one that would start with a digit, be a keyword or be empty;
    with `strip`, leading and trailing underscores go first."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    if strip:
        ident = ident.strip("_")
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident):
        ident = f"{prefix}{ident}"
    while ident in taken:
        ident += "_"
    taken.add(ident)
    return ident


def py_literal(value: Any) -> str:
    """A JSON value as Python source, strings double-quoted as formatters write them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def docstring_text(text: str) -> str:
    """Text as it must appear inside a generated triple-quoted docstring to read as itself."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def write_atomic(path: Path, text: str) -> Path:
    """Write through a temporary name: an engine scanning the folder never reads half a
    file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_ir(pipeline: Pipeline, out_dir: Path) -> Path:
    """The pipeline's IR as `<stem>.pipec.json` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{safe_id(pipeline.name)}.pipec.json"
    return write_atomic(target, pipeline.model_dump_json(indent=2) + "\n")


def write_beside_ir(
    pipeline: Pipeline, out_dir: Path, render: Callable[[str, str], str]
) -> list[Path]:
    """An engine's compiled file, `<stem>.py`, with the IR it runs beside it:
    `render(ir_file_name, ir_sha256)` gives the file's source."""
    data_file = write_ir(pipeline, out_dir)
    text = render(data_file.name, hashlib.sha256(data_file.read_bytes()).hexdigest())
    return [write_atomic(out_dir / f"{safe_id(pipeline.name)}.py", text), data_file]


def check_baked_storage(storage: str | None) -> None:
    """A storage URL written into a compiled file must hold no credentials: those belong
    to the workers' environment, never to a file that is reviewed and deployed."""
    if storage is not None and "@" in storage.partition("://")[2].partition("/")[0]:
        raise UsageError("the storage URL holds credentials; give them to the workers instead")


def compile_options(
    target: str, given: dict[str, str] | None, known: dict[str, str]
) -> dict[str, str]:
    """A target's `--option KEY=VALUE` pairs, checked against the keys it knows (`known`:
    key -> what it sets); an unknown key is a usage error naming the known ones."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(known))
    if unknown:
        listed = "; ".join(f"{key}: {about}" for key, about in known.items()) or "none"
        raise UsageError(
            f"target {target!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options: {listed}"
        )
    return given


ENVIRONMENT = "environment"
"""The compile option saying what a target does with `docker` / `repo` options: `current`
(the default, as ClearML's local mode: steps run in the workers' environment, with a
warning) or `refuse` (such a pipeline is not compiled)."""

ENVIRONMENT_CHOICES = ("current", "refuse")

ENVIRONMENT_OPTION = {
    ENVIRONMENT: "current (default: docker/repo steps run in the workers' environment, "
    "with a warning) or refuse"
}
"""The `environment` entry of an engine target's compile options (`compile_options`)."""


def worker_packages(pipeline: Pipeline) -> list[str]:
    """What the workers must have installed: every step's `packages` (given, or the
    packages its code imports), in order; a requirements file by its path."""
    found: list[str] = []
    for step in pipeline.steps:
        packages = step.policies.packages
        if isinstance(packages, str):
            found.append(f"requirements file {packages}")
        elif isinstance(packages, list):
            found.extend(packages)
    return list(dict.fromkeys(found))


def check_environment(target: str, pipeline: Pipeline, choice: str | None) -> None:
    """Steps with `docker` or `repo` options run in the workers' own environment, as in
    ClearML's local mode: one warning per option, naming the steps and what the workers
    must provide instead, on stderr. With `choice` `refuse`, such a pipeline is refused,
    each use at its line."""
    choice = choice or "current"
    if choice not in ENVIRONMENT_CHOICES:
        raise UsageError(f"{ENVIRONMENT}={choice!r}: one of {', '.join(ENVIRONMENT_CHOICES)}")
    uses = {
        "docker": [s for s in pipeline.steps if s.policies.docker.image],
        "repo": [s for s in pipeline.steps if s.policies.repo.url],
    }
    provide = {
        "docker": "what the image would have (its packages, system libraries, setup script)",
        "repo": "the repository's code, importable from the project directory",
    }
    if choice == "refuse":
        errors = [
            ValidationError(
                f"target {target!r} does not run steps in a {option} environment "
                f"(compile option {ENVIRONMENT}=refuse)",
                step.location,
            )
            for option, steps in uses.items()
            for step in steps
        ]
        if errors:
            raise PipelineErrors(errors)
        return
    for option, steps in uses.items():
        if steps:
            names = ", ".join(repr(s.name) for s in steps)
            print(
                f"warning: {option} is set for step(s) {names}: target {target!r} runs them "
                f"in its workers' environment, as ClearML's local mode does; the workers must "
                f"provide {provide[option]} (--option {ENVIRONMENT}=refuse refuses instead)",
                file=sys.stderr,
            )
