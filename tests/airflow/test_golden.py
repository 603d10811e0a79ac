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
from pipec.adapter import PIPEC_VERSION as __version__
from pipec.capture.session import load_pipeline
from pipec_airflow.credentials import STORAGE_CONN
from pipec_airflow.target import POOLS, AirflowTarget

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "golden"
REGENERATE = "PIPEC_REGENERATE_GOLDEN"

OPTIONS = {
    "retry_delay": "30",
    POOLS: "fast=fast_pool",
    STORAGE_CONN: "artifacts",
    "storage": "s3://bucket/pipec",
}
"""Every compile option, for the `outcomes` case."""

CASES: dict[str, tuple[str, dict[str, str]]] = {
    "iris_functions": ("examples/iris_functions.py", {}),
    "iris_pipeline": ("examples/iris_pipeline.py", {}),
    "odd_names": ("tests/core/pipelines/controller/odd_names.py", {}),
    "outcomes": ("tests/airflow/pipelines/outcomes.py", OPTIONS),
}
"""Golden file name: (pipeline, compile options)."""


def normalise(text: str) -> str:
    text = text.replace(f"compiled by pipec {__version__} from", "compiled by pipec <version> from")
    text = re.sub(r"IR sha256 [0-9a-f]{64}", "IR sha256 <sha256>", text)
    return text.replace(str(ROOT), "<root>")


@pytest.mark.parametrize("name", sorted(CASES))
def test_dag_file_is_the_golden_one(name: str, tmp_path: Path) -> None:
    path, options = CASES[name]
    dag_file, _ = AirflowTarget().compile(load_pipeline(path), tmp_path, options)
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
