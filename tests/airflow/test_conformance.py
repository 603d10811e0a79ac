"""The conformance kit on the `airflow` target: the same outcomes as the local target."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing


@pytest.mark.parametrize("case", testing.params("airflow"))
def test_conformance(case: testing.Case, dags_folder: Path, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, "airflow", workdir=tmp_path))
