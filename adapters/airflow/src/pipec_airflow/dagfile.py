"""The generated DAG file: plain Airflow 3 code an operator can read and review.

At parse time the file imports only `airflow.sdk` and the standard library (Airflow
re-parses DAG files constantly, so neither pipec nor the user's modules are
imported there); each task body imports `pipec_airflow.runtime` when it runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.adapter import EnginePolicies
from pipec.adapter.codegen import docstring_text, identifier, safe_id, worker_packages
from pipec.adapter.codegen import py_literal as _py
from pipec.ir import LiteralValue, Parameter, Pipeline, Step

BEGIN, END = "pipec_begin", "pipec_end"
"""Task ids of the tasks that open and conclude the pipec run."""

REFRESH = "pipec_refresh"
"""The DAG run conf key naming the steps that run despite the cache: a list of step
names, or true for every step (`pipec run --refresh`, or a manual trigger's conf)."""

JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}
"""Parameter annotations as JSON-schema types of Airflow `Param`s."""


@dataclass(frozen=True)
class DagOptions:
    """What the DAG file bakes in besides the pipeline."""

    data_file: str
    """The IR file's name, beside the DAG file."""
    ir_hash: str
    storage: str | None
    """Artifact store URL; None lets the worker's $PIPEC_STORAGE decide."""
    project_dir: str
    """Where relative paths in the IR start (the directory the pipeline was compiled in)."""
    retry_delay: float
    pools: Mapping[str, str]
    """Airflow pool of the steps of each ClearML queue; a queue not listed keeps Airflow's
    default pool."""
    storage_conn: str | None
    """Airflow connection each task reads the store's credentials from (only its id is
    baked in)."""


def missing_ir(data_file: str) -> str:
    """What a DAG file whose IR file was not deployed beside it says, at parse time and
    in `pipec_begin` should the file go missing later."""
    return (
        f"pipec: {data_file} is missing beside this DAG file: deploy it with the DAG file"
        " (`pipec compile` writes both)"
    )


def dag_id(pipeline: Pipeline) -> str:
    """Airflow accepts letters, digits, `_`, `.` and `-` in ids."""
    return safe_id(pipeline.name)


def task_ids(pipeline: Pipeline) -> dict[str, str]:
    """A unique, valid Airflow task id per step: the step name where it is one."""
    taken = {BEGIN, END}
    ids: dict[str, str] = {}
    for step in pipeline.steps:
        base = safe_id(step.name, empty="step", limit=200)
        if base in taken:
            base = f"{base}_{hashlib.sha256(step.name.encode()).hexdigest()[:8]}"
        taken.add(base)
        ids[step.name] = base
    return ids


def _param(p: Parameter) -> str | None:
    """`Param(...)` source for a pipeline parameter; None when its default is no JSON
    value (the run then uses the captured default, and the UI cannot change it)."""
    if p.default is not None and not isinstance(p.default, LiteralValue):
        return None
    args: list[str] = []
    if p.default is not None and not p.required:
        args.append(_py(p.default.value))
    kind = JSON_TYPES.get(p.type or "")
    if kind is not None:
        nullable = p.default is not None and p.default.value is None
        args.append(f"type={_py([kind, 'null'] if nullable else kind)}")
    if p.description:
        args.append(f"description={_py(p.description)}")
    return f"Param({', '.join(args)})"


def render(pipeline: Pipeline, options: DagOptions, pipec_version: str) -> str:
    """The DAG file's source."""
    ids = task_ids(pipeline)
    names = _step_variables(pipeline)
    params = [(p.name, source) for p in pipeline.parameters if (source := _param(p)) is not None]
    sdk = "DAG, Param, TriggerRule, task" if params else "DAG, TriggerRule, task"
    lines = [
        f"# Airflow DAG compiled by pipec {pipec_version} from {pipeline.source}"
        f" (pipeline {pipeline.name!r}).",
        f"# IR sha256 {options.ir_hash}, in {options.data_file} beside this file.",
        *_needs(pipeline),
        "# Generated: recompile with `pipec compile ... --target airflow` instead of editing.",
        '"""' + _docstring(pipeline) + '"""',
        "",
        "from __future__ import annotations",
        "",
        "from datetime import timedelta",
        "from pathlib import Path",
        "",
        f"from airflow.sdk import {sdk}",
        "",
        f"PIPELINE = Path(__file__).with_name({_py(options.data_file)})",
        "if not PIPELINE.is_file():  # an import error in the DAG list, not a failed run",
        f"    raise FileNotFoundError({_py(missing_ir(options.data_file))})",
        f"STORAGE = {_py(options.storage)}  # artifact store; None: the worker's $PIPEC_STORAGE",
        f"PROJECT_DIR = {_py(options.project_dir)}  # where relative paths in the pipeline start",
        f"STORAGE_CONN = {_py(options.storage_conn)}  # Airflow connection with the store's"
        " credentials",
        f"RETRY_DELAY = timedelta(seconds={options.retry_delay:g})",
        "",
        "",
        "def pipec(action: str, step: str | None = None):",
        '    """A task body that hands over to pipec on the worker (imported there, not here)."""',
        "",
        "    def body(**context):",
        "        from pipec_airflow import runtime",
        "",
        "        return runtime.call(",
        "            action, step, PIPELINE, STORAGE, PROJECT_DIR, context,"
        " storage_conn=STORAGE_CONN",
        "        )",
        "",
        "    return body",
        "",
        "",
        "def step(task_id: str, name: str, **options):",
        '    """The task of one pipeline step. pipec decides from the parents\' records whether',
        "    it runs or is skipped, so it starts once its upstream tasks are done, whatever",
        '    their state."""',
        '    body = pipec("step", name)',
        "    return task(task_id=task_id, trigger_rule=TriggerRule.ALL_DONE, **options)(body)()",
        "",
        "",
        "with DAG(",
        f"    dag_id={_py(dag_id(pipeline))},",
        f"    description={_py(_description(pipeline))},",
        "    schedule=None,",
        "    catchup=False,",
        '    tags=["pipec"],',
        "    params={",
    ]
    lines += [f"        {_py(name)}: {source}," for name, source in params]
    lines += [
        "    },",
        ") as dag:",
        f'    begin = task(task_id="{BEGIN}")(pipec("begin"))()',
        "",
    ]
    for step in pipeline.steps:
        args = _task_args(pipeline, step, ids[step.name], options.pools)
        lines.append(f"    {names[step.name]} = step({args})")
    lines += [
        "",
        f'    end = task(task_id="{END}", trigger_rule=TriggerRule.ALL_DONE)(pipec("end"))()',
        "",
    ]
    for step in pipeline.steps:
        upstream = [names[p] for p in step.parents] or ["begin"]
        left = upstream[0] if len(upstream) == 1 else f"[{', '.join(upstream)}]"
        lines.append(f"    {left} >> {names[step.name]}")
    every = ", ".join(names[s.name] for s in pipeline.steps)
    lines.append(f"    [{every}] >> end" if pipeline.steps else "    begin >> end")
    return "\n".join(lines) + "\n"


def _needs(pipeline: Pipeline) -> list[str]:
    """Header lines saying what the workers must have installed for the steps to run."""
    packages = worker_packages(pipeline)
    return [f"# Workers need: {', '.join(packages)}."] if packages else []


def _step_variables(pipeline: Pipeline) -> dict[str, str]:
    taken = {"begin", "end", "dag", "task", "step", "pipec", "DAG", "Param", "TriggerRule"}
    taken |= {"Path", "timedelta", "annotations", "PIPELINE", "STORAGE", "STORAGE_CONN"}
    taken |= {"PROJECT_DIR", "RETRY_DELAY"}
    return {step.name: identifier(step.name, taken, prefix="step_") for step in pipeline.steps}


def _task_args(pipeline: Pipeline, step: Step, task_id: str, pools: Mapping[str, str]) -> str:
    args = [_py(task_id), _py(step.name)]
    policies = EnginePolicies.of(pipeline, step)
    if policies.retries:
        args += [f"retries={policies.retries}", "retry_delay=RETRY_DELAY"]
    if policies.timeout is not None:
        args.append(f"execution_timeout=timedelta(seconds={policies.timeout:g})")
    where = policies.queue
    if where is not None:
        args.append(f"queue={_py(where)}")
        if where in pools:
            args.append(f"pool={_py(pools[where])}")
    return ", ".join(args)


def _description(pipeline: Pipeline) -> str:
    extra = f" {pipeline.version}" if pipeline.version else ""
    return f"pipec pipeline {pipeline.name!r}{extra}"


def _docstring(pipeline: Pipeline) -> str:
    name = docstring_text(pipeline.name)
    replay = (
        "\nIt also replays the pipeline function with the run's values: its prints, asserts\n"
        "and return value.\n"
        if pipeline.controller is not None
        else ""
    )
    return (
        f"{name} ({len(pipeline.steps)} steps).\n\n"
        "The first task opens the pipec run with this DAG run's params, each step task runs\n"
        "one pipeline step through pipec's runtime (XCom carries only statuses and output\n"
        "URIs), and the last task concludes the run and fails the DAG run if the pipeline\n"
        f"failed.\n{replay}"
    )
