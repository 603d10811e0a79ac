"""The conformance kit on the `prefect` target: the same outcomes as the local target."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing


@pytest.mark.parametrize("case", testing.params("prefect"))
def test_conformance(case: testing.Case, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, "prefect", workdir=tmp_path))
