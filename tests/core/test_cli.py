"""The `pipec` command, run as a user runs it: a subprocess from the repo root."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PIPELINES, Result, run_many, run_pipec, squash
from pipec.ir import Pipeline, json_schema

IRIS_PIPELINE = "examples/iris_pipeline.py"
IRIS_FUNCTIONS = "examples/iris_functions.py"
CONTROLLER = "tests/core/pipelines/controller"

MERMAID_NODE = re.compile(r'^    (?P<id>\S+)(?:\("(?P<a>.*)"\)|\[\["(?P<b>.*)"\]\])$')
MERMAID_EDGE = re.compile(r'^    (?P<src>\S+) -->(?:\|"(?P<label>[^"]*)"\|)? (?P<dst>\S+)$')
DOT_STRING = r'"((?:[^"\\]|\\.)*)"'
DOT_NODE = re.compile(rf"^    {DOT_STRING} \[label={DOT_STRING}(?:, shape=\w+)?\];$")
DOT_EDGE = re.compile(rf"^    {DOT_STRING} -> {DOT_STRING}(?: \[label={DOT_STRING}\])?;$")


def dot_unquote(text: str) -> str:
    """A DOT quoted string's value: `\\"` is the only escape (the DOT language spec)."""
    return text.replace('\\"', '"')


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """(node id -> label, edges as (src id, dst id, label)); fails on any other line."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD", text
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str | None]] = []
    for line in lines[1:]:
        if edge := MERMAID_EDGE.match(line):
            edges.append((edge["src"], edge["dst"], edge["label"]))
        elif node := MERMAID_NODE.match(line):
            assert node["id"] not in nodes, f"node id {node['id']!r} defined twice"
            nodes[node["id"]] = (node["a"] if node["a"] is not None else node["b"]).replace(
                "#quot;", '"'
            )
        else:
            pytest.fail(f"unexpected mermaid line {line!r}\n{text}")
    return nodes, edges


def parse_dot(text: str) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """(graph name, node name -> label, edges); fails on any line it does not expect."""
    lines = text.splitlines()
    head = re.fullmatch(rf"digraph {DOT_STRING} \{{", lines[0])
    assert head, text
    assert lines[-1] == "}", text
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if line.strip() in ("rankdir=TB;", "node [shape=box, style=rounded];"):
            continue
        if edge := DOT_EDGE.match(line):
            edges.append((dot_unquote(edge[1]), dot_unquote(edge[2])))
        elif node := DOT_NODE.match(line):
            nodes[dot_unquote(node[1])] = dot_unquote(node[2])
        else:
            pytest.fail(f"unexpected DOT line {line!r}\n{text}")
    return dot_unquote(head[1]), nodes, edges


# Every command of this module, run once and concurrently (each costs a fresh interpreter).
COMMANDS: dict[str, Callable[[Path], tuple[str | Path, ...]]] = {
    "inspect": lambda tmp: ("inspect", IRIS_PIPELINE),
    "inspect_json": lambda tmp: ("inspect", IRIS_PIPELINE, "--json"),
    "functions_json": lambda tmp: ("inspect", IRIS_FUNCTIONS, "--json"),
    "mermaid": lambda tmp: ("graph", IRIS_FUNCTIONS, "--format", "mermaid"),
    "mermaid_default": lambda tmp: ("graph", IRIS_PIPELINE),
    "dot": lambda tmp: ("graph", IRIS_PIPELINE, "--format", "dot"),
    "tasks_mermaid": lambda tmp: ("graph", "examples/iris_tasks/pipeline_from_tasks.py"),
    "compile": lambda tmp: ("compile", IRIS_FUNCTIONS, "--target", "json", "--out", tmp / "c"),
    "targets": lambda tmp: ("targets",),
    "schema": lambda tmp: ("schema",),
    "odd_mermaid": lambda tmp: ("graph", f"{CONTROLLER}/odd_names.py"),
    "odd_dot": lambda tmp: ("graph", f"{CONTROLLER}/odd_names.py", "-f", "dot"),
    "end_mermaid": lambda tmp: ("graph", f"{CONTROLLER}/end_step.py"),
    "unicode_dot": lambda tmp: ("graph", f"{CONTROLLER}/unicode_names.py", "-f", "dot"),
    "unicode_json": lambda tmp: ("inspect", f"{CONTROLLER}/unicode_names.py", "--json"),
    "no_such_file": lambda tmp: ("inspect", "examples/no_such_pipeline.py"),
    "unknown_target": lambda tmp: (
        *("compile", IRIS_FUNCTIONS, "--target", "no-such-target"),
        *("--out", tmp / "u"),
    ),
    "unknown_name": lambda tmp: ("inspect", f"{IRIS_FUNCTIONS}:no_such_pipeline"),
    "graph_no_such_file": lambda tmp: ("graph", "examples/no_such_pipeline.py"),
    "bad_format": lambda tmp: ("graph", IRIS_FUNCTIONS, "--format", "svg"),
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Result], Path]:
    tmp = tmp_path_factory.mktemp("cli")
    home = tmp / "pipec_home"
    home.mkdir()
    names = list(COMMANDS)
    results = run_many(
        [lambda n=n: run_pipec(*COMMANDS[n](tmp), pipec_home=home) for n in names]  # type: ignore[misc]
    )
    return dict(zip(names, results, strict=True)), tmp


def ok(cli: tuple[dict[str, Result], Path], name: str) -> Result:
    result = cli[0][name]
    assert result.returncode == 0, result
    return result


# ---------------------------------------------------------------- inspect


def test_inspect_shows_steps_and_edges(cli: tuple[dict[str, Result], Path]) -> None:
    text = squash(ok(cli, "inspect").stdout)
    assert "iris" in text and "style=decorator" in text
    assert "steps (4)" in text
    edges = [
        "load_data -> split_data",
        "split_data -> train_model",
        "train_model -> score_model",
        "split_data -> score_model",
    ]
    assert f"edges (4): {', '.join(edges)}" in text


def test_inspect_json_is_the_ir(cli: tuple[dict[str, Result], Path]) -> None:
    pipeline = Pipeline.model_validate_json(ok(cli, "inspect_json").stdout)
    assert [s.name for s in pipeline.steps] == [
        "load_data",
        "split_data",
        "train_model",
        "score_model",
    ]
    assert pipeline.source.file == IRIS_PIPELINE
    assert [p.name for p in pipeline.parameters] == ["csv_url", "test_size"]


# ---------------------------------------------------------------- graph


@pytest.mark.parametrize(
    ("graph", "ir"), [("mermaid", "functions_json"), ("mermaid_default", "inspect_json")]
)
def test_mermaid_graph_structure(cli: tuple[dict[str, Result], Path], graph: str, ir: str) -> None:
    pipeline = Pipeline.model_validate_json(ok(cli, ir).stdout)
    nodes, edges = parse_mermaid(ok(cli, graph).stdout)
    assert sorted(nodes.values()) == sorted(s.name for s in pipeline.steps)
    for node_id in nodes:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node_id), node_id
    name_of = dict(nodes)
    assert [(name_of[a], name_of[b]) for a, b, _ in edges] == pipeline.edges()
    # every edge is labelled with the outputs that flow along it
    assert all(label for _, _, label in edges)


def test_mermaid_labels_the_data_flow(cli: tuple[dict[str, Result], Path]) -> None:
    nodes, edges = parse_mermaid(ok(cli, "mermaid").stdout)
    labelled = {(nodes[a], nodes[b]): label for a, b, label in edges}
    assert labelled[("step_one", "step_two")] == "data_frame"
    assert labelled[("step_two", "step_four")] == "processed_data"


def test_mermaid_task_steps(cli: tuple[dict[str, Result], Path]) -> None:
    text = ok(cli, "tasks_mermaid").stdout
    nodes, edges = parse_mermaid(text)
    assert sorted(nodes.values()) == ["stage_data", "stage_process", "stage_train"]
    # task steps are drawn as subroutines, order-only edges carry no label
    for name in ("stage_data", "stage_process", "stage_train"):
        assert re.search(rf'^    \S+\[\["{name}"\]\]$', text, flags=re.MULTILINE), text
    assert [(nodes[a], nodes[b], label) for a, b, label in edges] == [
        ("stage_data", "stage_process", None),
        ("stage_process", "stage_train", None),
    ]


def test_dot_graph(cli: tuple[dict[str, Result], Path]) -> None:
    pipeline = Pipeline.model_validate_json(ok(cli, "inspect_json").stdout)
    text = ok(cli, "dot").stdout
    name, nodes, edges = parse_dot(text)
    assert name == "iris"
    assert nodes == {s.name: s.name for s in pipeline.steps}
    assert edges == pipeline.edges()
    pydot_check(text, pipeline)


def pydot_check(text: str, pipeline: Pipeline) -> None:
    """A real DOT parser too, when the venv has one (nothing is installed for it)."""
    if importlib.util.find_spec("pydot") is None:
        return
    import pydot  # type: ignore[import-not-found]

    (graph,) = pydot.graph_from_dot_data(text)
    names = {n.get_name().strip('"') for n in graph.get_nodes()} - {"node", "graph", "edge"}
    assert names == {s.name for s in pipeline.steps}
    assert [
        (e.get_source().strip('"'), e.get_destination().strip('"')) for e in graph.get_edges()
    ] == (pipeline.edges())


def test_graph_quotes_odd_step_names(cli: tuple[dict[str, Result], Path]) -> None:
    names = ["load data", "load-data", 'say "hi"', "2nd pass"]
    nodes, edges = parse_mermaid(ok(cli, "odd_mermaid").stdout)
    assert list(nodes.values()) == names
    for node_id in nodes:
        assert re.fullmatch(r"\w+", node_id, flags=re.ASCII), node_id
    assert [(nodes[a], nodes[b]) for a, b, _ in edges] == list(itertools.pairwise(names))
    graph_name, dot_nodes, dot_edges = parse_dot(ok(cli, "odd_dot").stdout)
    assert graph_name == 'odd "names"'
    assert list(dot_nodes) == names
    assert dot_edges == list(itertools.pairwise(names))


def test_mermaid_node_ids_avoid_the_end_keyword(cli: tuple[dict[str, Result], Path]) -> None:
    """`end` closes a subgraph in Mermaid: as a node id it breaks the whole diagram."""
    nodes, _ = parse_mermaid(ok(cli, "end_mermaid").stdout)
    assert sorted(nodes.values()) == ["end", "start"]
    assert "end" not in nodes


def test_dot_keeps_non_ascii_names(cli: tuple[dict[str, Result], Path]) -> None:
    """DOT has no \\uXXXX escape: names must be written as they are."""
    pipeline = Pipeline.model_validate_json(ok(cli, "unicode_json").stdout)
    name, nodes, edges = parse_dot(ok(cli, "unicode_dot").stdout)
    assert name == "données"
    assert nodes == {s.name: s.name for s in pipeline.steps}
    assert edges == pipeline.edges()


# ---------------------------------------------------------------- compile, targets, schema


def test_compile_json_writes_the_ir(cli: tuple[dict[str, Result], Path]) -> None:
    result = ok(cli, "compile")
    out_dir = cli[1] / "c"
    written = sorted(out_dir.iterdir())
    assert [p.name for p in written] == ["iris_functions.pipec.json"]
    assert str(written[0]) in squash(result.stdout).replace(" ", "")
    compiled = Pipeline.model_validate_json(written[0].read_text())
    assert compiled == Pipeline.model_validate_json(ok(cli, "functions_json").stdout)
    assert [s.name for s in compiled.steps] == ["step_one", "step_two", "step_three", "step_four"]


def test_targets_lists_json(cli: tuple[dict[str, Result], Path]) -> None:
    text = ok(cli, "targets").stdout
    assert re.search(r"^│ json\s+│.*│ pipec\s+│", text, flags=re.MULTILINE), text


def test_schema(cli: tuple[dict[str, Result], Path]) -> None:
    schema = json.loads(ok(cli, "schema").stdout)
    assert "properties" in schema
    assert {"steps", "parameters", "ir_version"} <= set(schema["properties"])
    assert schema == json_schema()


# ---------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_file", "no such file: examples/no_such_pipeline.py"),
        ("graph_no_such_file", "no such file: examples/no_such_pipeline.py"),
        ("unknown_target", "unknown target 'no-such-target'; available: debug, json, local"),
        ("unknown_name", "no pipeline named 'no_such_pipeline'"),
    ],
)
def test_usage_errors_exit_2(cli: tuple[dict[str, Result], Path], name: str, message: str) -> None:
    result = cli[0][name]
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result
    assert message in squash(result.stderr), result


def test_unknown_target_writes_nothing(cli: tuple[dict[str, Result], Path]) -> None:
    assert cli[0]["unknown_target"].returncode == 2
    assert not (cli[1] / "u").exists()


def test_bad_option_is_a_usage_error(cli: tuple[dict[str, Result], Path]) -> None:
    result = cli[0]["bad_format"]
    assert result.returncode == 2, result
    assert "svg" in result.stderr


def test_examples_and_fixtures_exist() -> None:
    """The paths this module hands to pipec are real (so a typo here cannot pass silently)."""
    root = PIPELINES.parents[2]
    for path in (IRIS_PIPELINE, IRIS_FUNCTIONS, f"{CONTROLLER}/odd_names.py"):
        assert (root / path).is_file(), path
    assert not (root / "examples/no_such_pipeline.py").exists()
