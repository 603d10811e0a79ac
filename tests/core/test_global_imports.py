"""ClearML's global imports: a step may use what its pipeline file imports at module level.

With `skip_global_imports=False` (ClearML's default) the module-level imports a step uses
ship with it and run, guarded, before its code; an import that fails there fails the step
only where the step uses it. With `skip_global_imports=True` a step must import what it
uses itself, and capture says so at the line that uses it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import PIPELINES, rel, run_pipec
from pipec.capture.session import load_pipeline
from pipec.validate import validate

GLOBAL_IMPORTS = PIPELINES / "clearml" / "global_imports.py"


def test_a_step_carries_the_module_imports_it_uses_and_no_others(in_repo_root: Path) -> None:
    pipeline = load_pipeline(rel(GLOBAL_IMPORTS))
    assert validate(pipeline) == []
    imports = {step.name: step.code.imports for step in pipeline.steps}
    assert imports == {
        "count": ["import json", "from collections import Counter"],
        "root": ["import json", "import math as m"],
        "maybe": ["from fractions import Fraction", "import not_installed_anywhere"],
    }
    assert pipeline.controller is not None and pipeline.controller.imports == []


def test_imported_packages_become_the_steps_packages_when_none_are_given(
    in_repo_root: Path,
) -> None:
    """Standard-library modules are no requirement; an installed third-party one is."""
    pipeline = load_pipeline(rel(PIPELINES / "decorator" / "uses_module_import.py"))
    assert validate(pipeline) == []
    (step,) = pipeline.steps
    assert step.code.imports == ["import numpy as np"]
    assert step.policies.packages == ["numpy"]
    assert load_pipeline(rel(GLOBAL_IMPORTS)).step("maybe").policies.packages == [
        "not_installed_anywhere"
    ]


@pytest.mark.parametrize("target", ["debug", "local"])
def test_steps_using_module_imports_run(target: str, tmp_path: Path, pipec_home: Path) -> None:
    result = run_pipec(
        "run", rel(GLOBAL_IMPORTS), "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    assert summary["return_value"] == "4"  # sqrt(2 * 8) as a fraction


@pytest.mark.parametrize("target", ["debug", "local"])
def test_an_import_that_failed_fails_the_step_only_where_it_is_used(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    path = tmp_path / "uses_missing.py"
    source = GLOBAL_IMPORTS.read_text().replace(
        "return maybe(root(counts))", "return maybe(root(counts), use_missing=True)"
    )
    path.write_text(source)
    result = run_pipec(
        "run", path, "--target", target, "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 1, result
    steps = json.loads(result.stdout)["steps"]
    assert [steps[name]["status"] for name in ("count", "root", "maybe")] == [
        "completed",
        "completed",
        "failed",
    ]
    error = steps["maybe"]["error"]
    line = source.splitlines().index("        return not_installed_anywhere.describe(value)") + 1
    assert error.startswith(f"{path}:{line}: ImportError: 'import not_installed_anywhere'"), error
    assert "No module named 'not_installed_anywhere'" in error


def test_skip_global_imports_keeps_the_strict_check_at_the_line_of_use(tmp_path: Path) -> None:
    path = tmp_path / "strict.py"
    path.write_text(
        textwrap.dedent(
            """\
            import json

            from pipec import PipelineDecorator


            @PipelineDecorator.component(return_values=["text"])
            def encode(n: int = 2):
                return json.dumps(list(range(n)))


            @PipelineDecorator.pipeline(name="strict", project="t", skip_global_imports=True)
            def strict():
                return encode()
            """
        )
    )
    pipeline = load_pipeline(str(path))
    assert pipeline.step("encode").code.imports == []
    (error,) = validate(pipeline)
    assert (error.location.file, error.location.line) == (str(path), 8)
    assert "uses 'json', which it neither defines nor imports" in error.message


def test_a_module_level_name_that_is_no_import_is_still_reported(in_repo_root: Path) -> None:
    path = PIPELINES / "decorator" / "uses_module_constant.py"
    (error,) = validate(load_pipeline(rel(path)))
    assert "uses 'SCALE'" in error.message


def test_a_controller_function_step_carries_them_too(tmp_path: Path) -> None:
    path = tmp_path / "controller.py"
    path.write_text(
        textwrap.dedent(
            """\
            import statistics

            from pipec import PipelineController


            def mean(values=(1, 2, 3)):
                return statistics.mean(values)


            pipe = PipelineController(name="ctl", project="t")
            pipe.add_function_step(name="mean", function=mean, function_return=["m"])
            """
        )
    )
    pipeline = load_pipeline(str(path))
    assert validate(pipeline) == []
    assert pipeline.step("mean").code.imports == ["import statistics"]
    assert pipeline.step("mean").policies.packages == []
