"""The generated flow: a typed Prefect flow function that hands over to pipec's runtime.

The same function source is written into the compiled flow file (for `flow.serve()`
and `prefect deploy`) and executed in memory by `build_flow`, so both give the same
flow. Its signature is made from the pipeline parameters, which is what Prefect turns
into the parameter form of a deployment ("custom run" in the UI).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from pipec.adapter.codegen import docstring_text, worker_packages
from pipec.adapter.codegen import identifier as _identifier
from pipec.adapter.codegen import py_literal as _py
from pipec.ir import LiteralValue, Parameter, Pipeline

ANNOTATIONS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}
ANNOTATIONS |= {"list": "list", "dict": "dict"}
"""Parameter annotations Prefect can show and validate; any other stays unannotated."""

RESERVED = frozenset(
    {"flow", "run_pipeline", "record_aborted", "Path", "PIPELINE", "STORAGE", "PROJECT_DIR"}
)
"""Module-level names of the flow file a parameter must not shadow."""

ENDED_HOOKS = ("on_cancellation", "on_crashed", "on_failure")
"""The flow-run state hooks that record a run Prefect ended mid-way `aborted`
(`runtime.record_aborted`)."""


@dataclass(frozen=True)
class FileOptions:
    """What the flow file bakes in besides the pipeline."""

    data_file: str
    """The IR file's name, beside the flow file."""
    ir_hash: str
    storage: str | None
    """Artifact store URL; None lets the worker's $PIPEC_STORAGE decide."""
    project_dir: str
    """Where relative paths in the IR start (the directory the pipeline was compiled in)."""


def is_dynamic(pipeline: Pipeline) -> bool:
    """The trace stopped at a decision on a run-time value: only running the pipeline's
    logic tells which steps run, so the flow runs it (`pipec_prefect.logic`)."""
    return pipeline.controller is not None and pipeline.controller.cut is not None


def identifier(name: str, taken: set[str]) -> str:
    """`name` as a Python identifier no other name in `taken` has."""
    return _identifier(name, taken, prefix="p_", strip=True)


def flow_name(pipeline: Pipeline) -> str:
    """Prefect refuses `/ % & > <` in flow names."""
    return re.sub(r"[/%&><]+", "-", pipeline.name)


def editable(p: Parameter) -> bool:
    """A parameter the flow signature can carry: no default, or a JSON default. Others
    keep the captured default and cannot be changed per run."""
    return p.default is None or isinstance(p.default, LiteralValue)


def arguments(pipeline: Pipeline) -> dict[str, str]:
    """Pipeline parameter name -> flow argument name, for the editable parameters."""
    taken = set(RESERVED)
    return {p.name: identifier(p.name, taken) for p in pipeline.parameters if editable(p)}


def _argument(p: Parameter, ident: str) -> str:
    annotation = ANNOTATIONS.get(p.type or "")
    has_default = p.default is not None and not p.required
    if annotation and has_default and p.default.value is None:  # type: ignore[union-attr]
        annotation += " | None"
    text = f"{ident}: {annotation}" if annotation else ident
    if has_default:
        text += f" = {_py(p.default.value)}"  # type: ignore[union-attr]
    return text


def signature(pipeline: Pipeline) -> list[str]:
    """The flow's arguments, required ones first (Python's rule), otherwise in order."""
    names = arguments(pipeline)
    params = [p for p in pipeline.parameters if p.name in names]
    required = [p for p in params if p.default is None or p.required]
    optional = [p for p in params if p not in required]
    return [_argument(p, names[p.name]) for p in required + optional]


def function_name(pipeline: Pipeline) -> str:
    """The flow function's name: the pipeline name as an identifier (the entrypoint of a
    deployment is `<file>.py:<this>`)."""
    return identifier(pipeline.name, set(RESERVED) | set(arguments(pipeline).values()))


def flow_source(pipeline: Pipeline) -> str:
    """The `@flow` function: typed arguments in, pipec's runtime does the rest."""
    names = arguments(pipeline)
    function = function_name(pipeline)
    values = ", ".join(f"{_py(name)}: {ident}" for name, ident in names.items())
    docs = {names[p.name]: p.description for p in pipeline.parameters if p.description}
    summary = f"Run pipec pipeline {_py(pipeline.name)[1:-1]}."
    if docs:
        args_doc = "".join(f"        {ident}: {text}\n" for ident, text in docs.items())
        doc = f'    """{summary}\n\n    Args:\n{args_doc}    """'
    else:
        doc = f'    """{summary}"""'
    args = signature(pipeline)
    head = f"def {function}({', '.join(args)}) -> dict:"
    if len(head) > 96:
        head = f"def {function}(\n" + "".join(f"    {a},\n" for a in args) + ") -> dict:"
    call = f"    return run_pipeline(PIPELINE, {{{values}}}, STORAGE, PROJECT_DIR)"
    if len(call) > 96:
        lines = "".join(f"            {_py(n)}: {i},\n" for n, i in names.items())
        call = f"    return run_pipeline(\n        PIPELINE,\n        {{\n{lines}        }},\n"
        call += "        STORAGE,\n        PROJECT_DIR,\n    )"
    decorator = [
        "@flow(",
        f"    name={_py(flow_name(pipeline))},",
        f"    version={_py(pipeline.version)},",
        f"    description={_py(_description(pipeline))},",
        "    persist_result=False,",
        "    log_prints=True,  # the pipeline logic's prints go to the flow run's logs",
        *(f"    {hook}=[record_aborted(PIPELINE, STORAGE)]," for hook in ENDED_HOOKS),
        ")",
    ]
    return "\n".join([*decorator, head, doc, call]) + "\n"


def render(pipeline: Pipeline, options: FileOptions, pipec_version: str) -> str:
    """The flow file's source."""
    lines = [
        f"# Prefect flow compiled by pipec {pipec_version}",
        f"# from {pipeline.source} (pipeline {pipeline.name!r}).",
        f"# IR: {options.data_file} beside this file,",
        f"#     sha256 {options.ir_hash}.",
        *([f"# Workers need: {', '.join(needs)}."] if (needs := worker_packages(pipeline)) else []),
        "# Generated: recompile with `pipec compile ... --target prefect` instead of editing.",
        '"""' + _docstring(pipeline) + '"""',
        "",
        "from pathlib import Path",
        "",
        "from pipec_prefect.runtime import record_aborted, run_pipeline",
        "from prefect import flow",
        "",
        f"PIPELINE = Path(__file__).with_name({_py(options.data_file)})",
        f"STORAGE = {_py(options.storage)}  # artifact store; None: the worker's $PIPEC_STORAGE",
        f"PROJECT_DIR = {_py(options.project_dir)}  # where relative paths in the pipeline start",
        "",
        "",
        flow_source(pipeline),
        "",
        'if __name__ == "__main__":  # `python <this file>` runs the flow once',
        f"    {function_name(pipeline)}()",
    ]
    return "\n".join(lines) + "\n"


def _description(pipeline: Pipeline) -> str:
    extra = f" {pipeline.version}" if pipeline.version else ""
    return f"pipec pipeline {pipeline.name!r}{extra} ({len(pipeline.steps)} steps)"


def _docstring(pipeline: Pipeline) -> str:
    name = docstring_text(pipeline.name)
    steps = docstring_text(
        "\n".join(
            f"  {s.name}" + (f" (after {', '.join(s.parents)})" if s.parents else "")
            for s in pipeline.steps
        )
    )
    return (
        f"{name}: a pipec pipeline as a Prefect 3 flow.\n\n"
        "Each pipeline step is a Prefect task that runs the step through pipec's runtime\n"
        "(skip rules, cache, attempts), each attempt in a step process of pipec's fork\n"
        "server, out of the flow process; tasks pass only small JSON (statuses, output\n"
        "URIs), the data stays in the artifact store ($PIPEC_STORAGE unless STORAGE is\n"
        "set). Independent steps run concurrently. The worker needs `pipec-prefect`\n"
        "installed and this file and the IR file beside it; serve it with `flow.serve()`\n"
        "or deploy its flow function with `prefect deploy`.\n\n"
        + (_dynamic_note(pipeline) if is_dynamic(pipeline) else f"Steps:\n{steps}\n")
    )


def _dynamic_note(pipeline: Pipeline) -> str:
    assert pipeline.controller is not None and pipeline.controller.cut is not None
    text = (
        f"The pipeline logic decides from step values which steps run (at "
        f"{pipeline.controller.cut}), so this flow runs that logic itself: it loads the "
        f"pipeline file {pipeline.source.file} from PROJECT_DIR (in capture mode, so it "
        "starts nothing) and each component call becomes a Prefect task run. The worker "
        "needs that file at that path and the modules it imports."
    )
    return "\n".join(textwrap.wrap(docstring_text(text), 86)) + "\n"
