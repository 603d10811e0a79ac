"""Logic that folds many step outputs into one value (`total = total + step(i)`, `sum()`)
stays a pipeline the IR can hold: a chain of one binary operation is one node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PIPELINES, rel, run_pipec
from pipec.exprs import literal, literal_value, operation
from pipec.ir import Expr, LiteralValue, Pipeline

DEEP_SUM = PIPELINES / "run" / "deep_sum.py"


def test_logic_summing_150_step_outputs_runs_on_local(tmp_path: Path, pipec_home: Path) -> None:
    result = run_pipec(
        "run", rel(DEEP_SUM), "--target", "local", "--storage", tmp_path / "store", "--json",
        pipec_home=pipec_home, env={"PYTHONDONTWRITEBYTECODE": ""},
    )  # fmt: skip
    assert result.returncode == 0, result
    summary = json.loads(result.stdout)
    assert summary["return_value"] == sum(range(150))
    assert {step["status"] for step in summary["steps"].values()} == {"completed"}
    assert len(summary["steps"]) == 150


def test_a_left_chain_is_one_node_that_evaluates_left_to_right() -> None:
    chain = literal(100)
    for i in (30, 20, 10):
        chain = operation("sub", [chain, literal(i)], {})
    assert isinstance(chain, Expr) and [a.value for a in chain.args] == [100, 30, 20, 10]  # type: ignore[union-attr]
    assert literal_value(chain) == ((100 - 30) - 20) - 10
    # `a - (b - c)` is not `a - b - c`: a chain on the right stays nested
    right = operation("sub", [literal(1), operation("sub", [literal(2), literal(3)], {})], {})
    assert literal_value(right) == 1 - (2 - 3)
    assert len(right.args) == 2


def test_an_ir_written_with_nested_binary_nodes_still_loads_and_evaluates() -> None:
    """What earlier versions wrote: one two-argument node per `+`."""
    nested = Expr(op="add", args=[LiteralValue(value=1), LiteralValue(value=2)])
    for i in range(3, 40):
        nested = Expr(op="add", args=[nested, LiteralValue(value=i)])
    assert literal_value(Expr.model_validate_json(nested.model_dump_json())) == sum(range(1, 40))


def test_the_ir_of_a_long_sum_is_shallow(in_repo_root: Path) -> None:
    from pipec.capture.session import load_pipeline

    pipeline = load_pipeline(rel(DEEP_SUM))
    assert Pipeline.model_validate_json(pipeline.model_dump_json()) == pipeline


@pytest.mark.xfail(
    reason="only chains of one operation are flattened: alternating operations "
    "(`total = total * 1 + step(i)`) still nest as deep as the loop",
    strict=True,
)
def test_alternating_operations_over_150_outputs_stay_loadable() -> None:
    chain = literal(0)
    for i in range(150):
        chain = operation("mul", [operation("add", [chain, literal(i)], {}), literal(1)], {})
    assert literal_value(Expr.model_validate_json(chain.model_dump_json())) == sum(range(150))
