"""The conformance kit on the `airflow` target: the same outcomes as the local target."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing

# Known not to hold every time, so not strict: `dag.test()` runs ready tasks one at a time
# in any order, and a step already running is not yet aborted on Airflow, so the sibling
# that local aborts may run to completion before the failing step starts.
UNRELIABLE = {
    "abort_on_failure": "a running sibling is not aborted on Airflow yet, and dag.test() "
    "may run it before the failing step"
}


def _params() -> list[object]:
    out = []
    for param in testing.params("airflow"):
        if param.id in UNRELIABLE:  # type: ignore[attr-defined]
            mark = pytest.mark.xfail(reason=UNRELIABLE[param.id], strict=False)  # type: ignore[attr-defined]
            param = pytest.param(*param.values, id=param.id, marks=[*param.marks, mark])  # type: ignore[attr-defined]
        out.append(param)
    return out


@pytest.mark.parametrize("case", _params())
def test_conformance(case: testing.Case, dags_folder: Path, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, "airflow", workdir=tmp_path))
