"""The conformance kit on the `airflow` target: the same outcomes as the local target."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipec import testing

# Known not to hold every time, so not strict. The case needs `slow` stopped: aborted if it
# runs while `bad` fails (a step task kills its running attempt when the run is stopped),
# skipped if it starts after. `dag.test()` runs ready tasks one at a time, in the order of
# a `set` of task instances whose hash is that of (task_id, dag_id, run_id, map_index):
# string hashes are salted per process and the run id holds the time, so which of `bad`
# and `slow` runs first is random; `priority_weight` / `weight_rule` are not consulted
# there (only the scheduler's executor queueing reads them). When `slow` runs first it
# completes, as it would on any one-slot Airflow worker.
UNRELIABLE = {
    "abort_on_failure": "dag.test() runs ready tasks one at a time in a random order, and "
    "a sibling run before the failing step completes"
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
