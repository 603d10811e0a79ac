"""The conformance kit on the `ray` target, against the session's two-node cluster: the
same outcomes as the local target, no case skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing


@pytest.mark.parametrize("case", testing.params("ray"))
def test_conformance(case: testing.Case, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, "ray", workdir=tmp_path))
