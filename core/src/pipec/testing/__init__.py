"""pipec's conformance kit: the same pipelines, the same expected outcomes, any target.

A target adapter (built in or third party) proves it runs ClearML pipelines with
ClearML's semantics by running these cases. Each case is a small pipeline file
shipped here, the parameters of each `pipec run`, and the outcome written down by
hand: run and step statuses, attempts, cache hits, return and output values,
which step bodies ran and the order callbacks fired in. An adapter's test file:

    import pytest
    from pipec import testing

    TARGET = "airflow"

    @pytest.mark.parametrize("case", testing.params(TARGET))
    def test_conformance(case: testing.Case, tmp_path) -> None:
        outcome = testing.run_case(case, TARGET, workdir=tmp_path)
        testing.check(case, outcome)

Cases run through the command line (`pipec run FILE --target T --json --storage URL`),
so whatever `pipec run` supports on a target is what gets tested. Step bodies and
callbacks report through `$PIPEC_TESTING_LOG` (see `pipec.testing.observe`): a
target must run them with the environment `pipec run` was started with.
"""

from __future__ import annotations

from typing import Any

from pipec.testing.case import (
    NOT_CHECKED,
    PIPELINES,
    Case,
    Expected,
    Run,
    StepExpect,
)
from pipec.testing.catalog import cases
from pipec.testing.check import check, mismatches
from pipec.testing.run import Outcome, RunOutcome, missing_capabilities, refusal, run_case


def params(target: str, xfail: dict[str, str] | None = None) -> list[Any]:
    """`pytest.param`s of every case for `target`; a case needing a capability the
    target lacks gets the id `<case>-refused` (the check is then that the target refuses
    it). `xfail` maps case ids to a known failure's reason (strict: a pass is reported)."""
    import pytest

    out = []
    for case in cases():
        marks: list[Any] = []
        if xfail and case.id in xfail:
            marks.append(pytest.mark.xfail(reason=xfail[case.id], strict=True))
        name = f"{case.id}-refused" if refusal(case, target) else case.id
        out.append(pytest.param(case, id=name, marks=marks))
    return out


__all__ = [
    "NOT_CHECKED",
    "PIPELINES",
    "Case",
    "Expected",
    "Outcome",
    "Run",
    "RunOutcome",
    "StepExpect",
    "cases",
    "check",
    "mismatches",
    "missing_capabilities",
    "params",
    "refusal",
    "run_case",
]
