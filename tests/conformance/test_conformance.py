"""Every conformance case on the built-in targets, exactly as an adapter runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipec import testing

TARGETS = ("debug", "local")


def _params() -> list[Any]:
    return [
        pytest.param(param.values[0], target, id=f"{target}-{param.id}", marks=param.marks)
        for target in TARGETS
        for param in testing.params(target)
    ]


@pytest.mark.parametrize(("case", "target"), _params())
def test_conformance(case: testing.Case, target: str, tmp_path: Path) -> None:
    testing.check(case, testing.run_case(case, target, workdir=tmp_path))
