"""`pipec compile --target prefect`: a flow file Prefect imports, typed like the pipeline."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pytest
from pipec.adapter import PIPEC_VERSION as __version__
from pipec.capture.session import load_pipeline
from pipec.cli import app
from pipec.errors import UsageError
from pipec_prefect import build_flow
from pipec_prefect.target import PrefectTarget
from prefect import Flow
from typer.testing import CliRunner

FAN = "tests/prefect/pipelines/fan.py"


def compile_to(path: str, out: Path) -> list[Path]:
    result = CliRunner().invoke(app, ["compile", path, "--target", "prefect", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return [Path(line) for line in result.stdout.splitlines() if line.startswith(str(out))]


def import_flow(flow_file: Path, name: str) -> Flow:
    """The flow as `flow.serve()` / a deployment's `file.py:attr` entrypoint loads it."""
    spec = importlib.util.spec_from_file_location(f"compiled_{flow_file.stem}", flow_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow = getattr(module, name)
    assert isinstance(flow, Flow)
    return flow


def schema(flow: Flow) -> dict[str, Any]:
    return flow.parameters.model_dump()["properties"]


def test_flow_file_imports_with_a_typed_signature(tmp_path: Path) -> None:
    flow_file, data_file = compile_to(FAN, tmp_path)
    assert (flow_file.name, data_file.name) == ("fan.py", "fan.pipec.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fan.pipec.json", "fan.py"]
    text = flow_file.read_text()
    assert f"compiled by pipec {__version__}" in text
    assert f"from {FAN}:" in text
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() in text
    assert "STORAGE = None" in text  # the worker's $PIPEC_STORAGE decides
    flow = import_flow(flow_file, "fan")
    assert flow.name == "fan"
    params = inspect.signature(flow.fn).parameters
    assert {name: (p.annotation, p.default) for name, p in params.items()} == {
        "n": (int, 3),
        "scale": (float, 2.0),
        "label": (str, "total"),
        "scratch": (str, "scratch"),
    }
    props = schema(flow)
    assert {name: (p["type"], p["default"]) for name, p in props.items()} == {
        "n": ("integer", 3),
        "scale": ("number", 2.0),
        "label": ("string", "total"),
        "scratch": ("string", "scratch"),
    }


def test_build_flow_gives_the_compiled_flow_in_memory(tmp_path: Path) -> None:
    flow_file, _ = compile_to("examples/iris_functions.py", tmp_path)
    compiled = import_flow(flow_file, "iris_functions")
    built = build_flow(load_pipeline("examples/iris_functions.py"))
    assert (
        (built.name, built.version)
        == (compiled.name, compiled.version)
        == (
            "iris functions",
            "1.0.0",
        )
    )
    assert schema(built) == schema(compiled)
    assert "url" in schema(built)


def test_storage_with_credentials_is_refused(tmp_path: Path) -> None:
    pipeline = load_pipeline(FAN)
    with pytest.raises(UsageError, match="credentials"):
        PrefectTarget().compile(pipeline, tmp_path, {"storage": "s3://key:secret@bucket/pipec"})


def test_unsupported_features_are_rejected_before_compiling(tmp_path: Path) -> None:
    path = "tests/core/pipelines/controller/all_options.py"
    result = CliRunner().invoke(
        app, ["compile", str(path), "--target", "prefect", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "target 'prefect' does not support" in result.output
    assert not list(tmp_path.iterdir())


ENVIRONMENT = "tests/core/pipelines/controller/environment.py"


def test_docker_and_repo_steps_compile_with_a_warning_and_packages_in_the_header(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        app, ["compile", ENVIRONMENT, "--target", "prefect", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert [w.split(":")[1].strip() for w in warnings] == [
        "docker is set for step(s) 'prepare'",
        "repo is set for step(s) 'train'",
    ]
    header = (tmp_path / "environment.py").read_text(encoding="utf-8").splitlines()[:6]
    assert "# Workers need: numpy, scikit-learn>=1.3." in header


def test_the_environment_option_keeps_the_refusal(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["compile", ENVIRONMENT, "--target", "prefect", "--out", str(tmp_path / "out"),
         "--option", "environment=refuse"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "error: target 'prefect' does not run steps in a docker environment" in result.stderr
    assert not (tmp_path / "out").exists()
