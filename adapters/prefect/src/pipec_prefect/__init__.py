"""The Prefect 3 target of pipec: pipelines as Prefect flows.

`build_flow(pipeline)` gives the flow in memory; `pipec compile --target prefect` writes
the same flow into a file that `flow.serve()` and `prefect deploy` accept.
"""

from __future__ import annotations

import os
from typing import Any

from pipec.ir import Pipeline


def build_flow(
    pipeline: Pipeline, *, storage: str | None = None, project_dir: str | None = None
) -> Any:
    """The pipeline's Prefect `Flow`: the compiled file's flow function, executed here
    with the IR in memory. `storage` None lets $PIPEC_STORAGE decide when it runs;
    `project_dir` (default: the current directory) is where relative paths start."""
    from prefect import flow

    from pipec_prefect.flowfile import flow_source, function_name
    from pipec_prefect.runtime import record_aborted, run_pipeline

    namespace: dict[str, Any] = {
        "__name__": "pipec_prefect.flows",
        "flow": flow,
        "run_pipeline": run_pipeline,
        "record_aborted": record_aborted,
        "PIPELINE": pipeline,
        "STORAGE": storage,
        "PROJECT_DIR": project_dir or os.getcwd(),
    }
    source = flow_source(pipeline)
    exec(compile(source, f"<pipec flow {pipeline.name}>", "exec"), namespace)
    return namespace[function_name(pipeline)]
