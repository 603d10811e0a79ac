"""The `json` target: the IR itself, as a file any other tool can compile from."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline
from pipec.targets import RunResult, Target
from pipec.validate import FEATURES


def file_stem(name: str) -> str:
    """A pipeline name as a safe file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "pipeline"


def write_atomic(path: Path, text: str) -> Path:
    """Write through a temporary name: an engine scanning the folder never reads half a
    file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_beside_ir(
    pipeline: Pipeline, out_dir: Path, render: Callable[[str, str], str]
) -> list[Path]:
    """An engine's compiled file, `<stem>.py`, with the IR it runs beside it:
    `render(ir_file_name, ir_sha256)` gives the file's source."""
    (data_file,) = JsonTarget().compile(pipeline, out_dir)
    text = render(data_file.name, hashlib.sha256(data_file.read_bytes()).hexdigest())
    return [write_atomic(out_dir / f"{file_stem(pipeline.name)}.py", text), data_file]


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


class JsonTarget:
    name = "json"
    description = "the pipeline IR as JSON (input for other tools)"
    capabilities = frozenset(FEATURES)

    def compile(self, pipeline: Pipeline, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{file_stem(pipeline.name)}.pipec.json"
        return [write_atomic(target, pipeline.model_dump_json(indent=2) + "\n")]

    def run(self, pipeline: Pipeline, options: object, logic: object) -> RunResult:
        raise UsageError("target 'json' only writes the IR; run with --target debug or local")


@hookimpl
def pipec_targets() -> list[Target]:
    return [JsonTarget()]
