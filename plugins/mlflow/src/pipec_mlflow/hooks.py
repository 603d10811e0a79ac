"""The hooks pipec calls: a run that ends is logged to MLflow.

MLflow is imported only then, so a pipec command that runs nothing (or a step process)
does not pay for it.
"""

from __future__ import annotations

from pipec.adapter import RunRecord, hookimpl


@hookimpl
def pipec_run_event(store: str, record: RunRecord, event: str) -> str | None:
    if event == "started":
        return None
    try:
        from pipec_mlflow.tracking import log_run

        return log_run(store, record)
    except Exception as exc:  # a tracker never fails a pipeline, whatever went wrong
        said = str(exc).strip().splitlines()
        return f"mlflow: run not logged: {type(exc).__name__}: {said[0] if said else ''}"
