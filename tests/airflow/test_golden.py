"""The DAG files of fixed pipelines, compared with reviewed copies in golden/, so that any
change to the generated code shows up as a diff.

`PIPEC_REGENERATE_GOLDEN=1 pytest tests/airflow/test_golden.py` rewrites the copies instead
of comparing. What differs between machines is normalised: the pipec version, the
repository's absolute path, and the IR's sha256 (the IR holds absolute paths).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest
from pipec import __version__
from pipec.capture.session import load_pipeline
from pipec_airflow.credentials import STORAGE_CONN
from pipec_airflow.target import POOLS, AirflowTarget

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "golden"
REGENERATE = "PIPEC_REGENERATE_GOLDEN"

SETTINGS = {"PIPEC_AIRFLOW_RETRY_DELAY": "30", POOLS: "fast=fast_pool", STORAGE_CONN: "artifacts"}
"""Every compile-time setting, for the `outcomes` case."""

CASES: dict[str, tuple[str, dict[str, str], str | None]] = {
    "iris_functions": ("examples/iris_functions.py", {}, None),
    "iris_pipeline": ("examples/iris_pipeline.py", {}, None),
    "odd_names": ("tests/core/pipelines/controller/odd_names.py", {}, None),
    "outcomes": ("tests/airflow/pipelines/outcomes.py", SETTINGS, "s3://bucket/pipec"),
}
"""Golden file name: (pipeline, compile-time settings, baked storage URL)."""


def normalise(text: str) -> str:
    text = text.replace(f"compiled by pipec {__version__} from", "compiled by pipec <version> from")
    text = re.sub(r"IR sha256 [0-9a-f]{64}", "IR sha256 <sha256>", text)
    return text.replace(str(ROOT), "<root>")


@pytest.mark.parametrize("name", sorted(CASES))
def test_dag_file_is_the_golden_one(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, settings, storage = CASES[name]
    for variable in SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in settings.items():
        monkeypatch.setenv(variable, value)
    dag_file, _ = AirflowTarget().compile(load_pipeline(path), tmp_path, storage=storage)
    compiled = normalise(dag_file.read_text(encoding="utf-8"))
    golden = GOLDEN / f"{name}.py.golden"  # not a module: no linter or import sees it
    if os.environ.get(REGENERATE) == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(compiled, encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(f"no {golden.relative_to(ROOT)}: write it with {REGENERATE}=1", pytrace=False)
    expected = golden.read_text(encoding="utf-8")
    if compiled != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            compiled.splitlines(keepends=True),
            fromfile=str(golden.relative_to(ROOT)),
            tofile=f"compiled from {path}",
        )
        pytest.fail(
            f"the DAG file of {path} changed; if that is intended, rerun with {REGENERATE}=1"
            f" and review the golden files\n{''.join(diff)}",
            pytrace=False,
        )
