"""What the DAG file's tasks call on the worker: pipec's shared runtime, nothing more.

`begin` opens the pipec run (the IR with this DAG run's params, the run record and
every step's spec), `step` runs one step through `Lifecycle` (skip rules, cache,
attempts, `retry_on_failure`) exactly as the local scheduler does, and `end`
concludes the run record, replaying a decorator pipeline's logic with the run's
values. Each attempt runs in a step process of pipec's fork server, as on the local
target, watched by its task, so a pipeline stop or the time limit can
kill it. Airflow only orders the tasks: every step task runs when its upstream tasks
are done and asks the parents' records whether to run (`pipec.runtime.scheduled`,
shared with the other engine adapters), so ClearML's continue / skip semantics are
the local target's by construction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, AirflowTaskTimeout
from pipec.ir import Pipeline
from pipec.records import StepRecord
from pipec.runtime import runs, scheduled
from pipec.runtime.context import StepCall, StoredRun
from pipec.runtime.lifecycle import AttemptFn
from pipec.store import Store, slug

from pipec_airflow.credentials import use_storage_connection
from pipec_airflow.dagfile import BEGIN, REFRESH

TARGET = "airflow"


class StepRetry(Exception):
    """A failed attempt that `retry_on_failure` retries: Airflow starts the next try."""


def run_id(context: dict[str, Any]) -> str:
    """The pipec run id of a DAG run: its Airflow run id as one safe path segment."""
    return slug(context["run_id"])


def _this_run(storage: str | None, context: dict[str, Any]) -> StoredRun:
    """The pipec run of this DAG run (`begin` says which pipeline it is)."""
    opened = context["ti"].xcom_pull(task_ids=BEGIN)
    return scheduled.open_run(storage, opened["pipeline"], run_id(context))


def refreshes(context: dict[str, Any], step: str) -> bool:
    """Whether this DAG run's conf asks to run `step` despite the cache."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    wanted = conf.get(REFRESH) or []
    return wanted is True or (isinstance(wanted, list) and step in wanted)


def call(
    action: str,
    step: str | None,
    pipeline_file: Path,
    storage: str | None,
    project_dir: str,
    context: dict[str, Any],
    storage_conn: str | None = None,
) -> dict[str, Any]:
    """The one entry point of the generated tasks; returns small JSON for XCom.
    `storage_conn` names the Airflow connection holding the store's credentials, read by
    every task since each may run on another worker."""
    if storage_conn is not None:
        use_storage_connection(storage_conn, storage)
    if action == "begin":
        return begin(pipeline_file, storage, context)
    if action == "end":
        return end(storage, project_dir, context)
    assert step is not None
    return run_step(step, storage, project_dir, context)


def begin(pipeline_file: Path, storage: str | None, context: dict[str, Any]) -> dict[str, Any]:
    store = Store.resolve(storage)
    store.check()
    pipeline = Pipeline.model_validate_json(Path(pipeline_file).read_text(encoding="utf-8"))
    known = {p.name for p in pipeline.parameters}
    params = {k: v for k, v in dict(context["params"]).items() if k in known}
    run, record = runs.begin(store, pipeline, run_id(context), TARGET, params)
    scheduled.write_specs(run, record)
    print(f"pipec: run {run.run_id} of {pipeline.name!r} in {store.url}")
    return {"pipeline": pipeline.name, "run_id": run.run_id, "storage": store.url}


def _attempt(run: StoredRun, call: StepCall) -> AttemptFn:
    """One attempt in a step process, watched (`scheduled.watch_attempt`), so a
    stop from another step's task (`abort_on_failure`) kills it. Airflow's
    `execution_timeout` is the time limit: its SIGALRM raises in this task's main thread,
    where the watch waits, and the attempt is killed and recorded aborted."""

    def attempt(number: int, time_limit: float | None) -> StepRecord:
        return scheduled.watch_attempt(
            run,
            call,
            number,
            echo=print,  # the task log
            interrupts=(AirflowTaskTimeout,),
            interrupted=f"time_limit {time_limit}s exceeded",
        )

    return attempt


def run_step(name: str, storage: str | None, project_dir: str, context: dict[str, Any]) -> dict:
    run = _this_run(storage, context)
    call = StepCall(
        store=run.store.url,
        pipeline=run.pipeline.name,
        run_id=run.run_id,
        step=name,
        project_dir=project_dir,
    )
    node, record = scheduled.run_step(
        run,
        name,
        _attempt(run, call),
        target=TARGET,
        refresh=refreshes(context, name),
        retry=context["ti"].try_number > 1,
    )
    if node.status == "running":
        attempt = len(record.attempts)
        raise StepRetry(f"pipec: step {name!r} attempt {attempt} failed: {record.error}")
    if record.status == "skipped":
        raise AirflowSkipException(f"pipec: step {name!r} skipped: {record.error}")
    print(f"pipec: step {name!r} {_outcome(record)}")
    if record.status not in ("completed", "cached"):
        raise AirflowFailException(f"pipec: step {name!r} {record.status}: {record.error}")
    return scheduled.small(record)


def _outcome(record: StepRecord) -> str:
    if record.cache_hit:
        return f"cached: reused the outputs of {record.cached_from} (cache key {record.cache_key})"
    return f"{record.status} after {len(record.attempts)} attempt(s)"


def end(storage: str | None, project_dir: str, context: dict[str, Any]) -> dict[str, Any]:
    """Conclude the run; a decorator pipeline's logic is replayed here with real values
    (its prints land in this task's log, its `assert`s and return value count)."""
    run = _this_run(storage, context)
    record = scheduled.conclude(run, replay_from=project_dir)
    print(f"pipec: run {run.run_id} {record.status}", record.error or "")
    if record.status != "completed":
        raise AirflowFailException(f"pipec: pipeline {run.pipeline.name!r} {record.status}")
    return {"status": record.status, "run_id": run.run_id}
