"""The conformance kit on the `airflow` target: the same outcomes as the local target."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing

KNOWN = {
    "return_value": "the decorator pipeline's return value needs a replay of its logic",
    "cache_decorator": "return value replay, and --refresh is not passed to the DAG run yet",
}


@pytest.mark.parametrize("case", testing.params("airflow", xfail=KNOWN))
def test_conformance(case: testing.Case, dags_folder: Path, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, "airflow", workdir=tmp_path))
