"""What the DAG file's tasks call on the worker: pipec's shared runtime, nothing more.

`begin` opens the pipec run (the IR with this DAG run's params, the run record and
every step's spec), `step` runs one step through pipec's runtime (skip rules, cache,
attempts, `retry_on_failure`) exactly as the local scheduler does, and `end`
concludes the run record, replaying a decorator pipeline's logic with the run's
values. Each attempt runs in a step process watched by the task, so a pipeline stop or
the time limit can kill it: forked from the task's own process on a worker, where a task
is already a supervised process of its own (`processes`). Airflow only orders the tasks:
every step task runs when its upstream tasks are done and asks the parents' records
whether to run (`pipec.adapter.EngineRun`, shared with the other engine adapters), so
ClearML's continue / skip semantics are the local target's by construction.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, TextIO

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, AirflowTaskTimeout
from pipec.adapter import EngineRun, StepRecord, StepRetry, open_store, run_id_of
from pipec.ir import Pipeline

from pipec_airflow.credentials import use_storage_connection
from pipec_airflow.dagfile import BEGIN, REFRESH, missing_ir
from pipec_airflow.monitored import monitored, table

TARGET = "airflow"


class Observer(Protocol):
    """What `pipec run --target airflow` shows while `dag.test()` runs the tasks in its
    own process (`observing`); a worker has none, its task logs are the place."""

    out: TextIO
    """Where the pipeline's own output goes (the logic replayed by `end`)."""

    def begun(self, pipeline: str, run_id: str) -> None: ...
    def echo(self, step: str, line: str) -> None: ...
    def finished(self, record: StepRecord) -> None: ...


_observer: Observer | None = None


@contextlib.contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """The tasks this process runs meanwhile report to `observer`."""
    global _observer
    _observer = observer
    try:
        yield
    finally:
        _observer = None


_log = logging.getLogger(__name__)
"""Warnings for the task log (Airflow routes the standard logging there)."""

BEGIN_ERROR = "pipec_error"
"""The XCom key of `begin`'s error, which every other task of the DAG run fails with."""

_TASKS = itertools.count()
"""Step tasks this process has run."""


def processes() -> str:
    """How this task's attempts start (`EngineRun.step`'s `processes`). On a worker each
    task is a process of its own, which runs one task: its attempts are forked from it
    (it has pipec imported), since a warm server of step processes would be started for
    that task and never reused. A process that runs task after task (`dag.test()`) takes
    the fork server from its second task on, whose step processes serve them all."""
    return "fork" if next(_TASKS) == 0 else "forkserver"


def run_id(context: dict[str, Any]) -> str:
    """The pipec run id of a DAG run: its Airflow run id as one safe path segment."""
    return run_id_of(context["run_id"])


def _opened(context: dict[str, Any]) -> dict[str, Any]:
    """What `begin` returned for this DAG run. When it failed, this task fails at once
    with one line naming its error: there is no run to take part in."""
    ti = context["ti"]
    opened = ti.xcom_pull(task_ids=BEGIN)
    if opened is None:
        error = ti.xcom_pull(task_ids=BEGIN, key=BEGIN_ERROR) or "see its log"
        raise AirflowFailException(f"pipec: not run, since {BEGIN} failed: {error}")
    return opened


def _this_run(storage: str | None, context: dict[str, Any]) -> EngineRun:
    """The pipec run of this DAG run (`begin` says which pipeline it is)."""
    opened = _opened(context)
    return EngineRun.open(storage, opened["pipeline"], run_id(context), TARGET)


def begin_failure(
    exc: BaseException, pipeline_file: Path, storage: str | None, storage_conn: str | None
) -> str:
    """`begin`'s error and what the operator can do about it, in one line."""
    if isinstance(exc, FileNotFoundError) and Path(exc.filename or "") == Path(pipeline_file):
        return missing_ir(Path(pipeline_file).name)
    where = f"the store {storage}" if storage else "the store in the worker's $PIPEC_STORAGE"
    creds = f"Airflow connection {storage_conn!r}" if storage_conn else "the worker's environment"
    return (
        f"pipec could not open the run: {type(exc).__name__}: {exc}. Check that {where} is"
        f" reachable from this worker with the credentials in {creds}, then trigger the DAG"
        " again"
    )


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
    if action == "begin":
        try:
            if storage_conn is not None:
                use_storage_connection(storage_conn, storage)
            return begin(pipeline_file, storage, context)
        except Exception as exc:
            message = begin_failure(exc, pipeline_file, storage, storage_conn)
            context["ti"].xcom_push(key=BEGIN_ERROR, value=message)
            raise AirflowFailException(message) from exc
    _opened(context)  # before the store: when `begin` failed, its error is the one to show
    if storage_conn is not None:
        use_storage_connection(storage_conn, storage)
    if action == "end":
        return end(storage, project_dir, context)
    assert step is not None
    return run_step(step, storage, project_dir, context)


def begin(pipeline_file: Path, storage: str | None, context: dict[str, Any]) -> dict[str, Any]:
    store = open_store(storage)
    pipeline = Pipeline.model_validate_json(Path(pipeline_file).read_text(encoding="utf-8"))
    known = {p.name for p in pipeline.parameters}
    params = {k: v for k, v in dict(context["params"]).items() if k in known}
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    if unknown := sorted(set(conf) - known - {REFRESH}):
        _log.warning(
            "pipec: DAG run conf %s: no such parameter of %r, ignored (its parameters: %s)",
            ", ".join(map(repr, unknown)),
            pipeline.name,
            ", ".join(sorted(known)) or "none",
        )
    run = EngineRun.begin(store, pipeline, run_id(context), TARGET, params)
    print(f"pipec: run {run.run_id} of {pipeline.name!r} in {store.url}")
    if _observer is not None:
        _observer.begun(pipeline.name, run.run_id)
    return {"pipeline": pipeline.name, "run_id": run.run_id, "storage": store.url}


def run_step(name: str, storage: str | None, project_dir: str, context: dict[str, Any]) -> dict:
    """One step. An attempt's output goes to the task log; Airflow's `execution_timeout`
    is the time limit: its SIGALRM raises in this task's main thread, where the attempt
    is watched, and the attempt is killed and recorded aborted."""
    run = _this_run(storage, context)
    outcome = run.step(
        name,
        project_dir=project_dir,
        retry=context["ti"].try_number > 1,
        refresh=refreshes(context, name),
        echo=print if _observer is None else functools.partial(_observer.echo, name),
        interrupts=(AirflowTaskTimeout,),
        processes=processes(),
    )
    if _observer is not None and not outcome.retry:
        _observer.finished(outcome.record)
    if outcome.retry:
        raise StepRetry(f"pipec: {outcome.message}")
    if outcome.skipped:
        raise AirflowSkipException(f"pipec: {outcome.message}")
    print(f"pipec: {outcome.message}")
    selected = outcome.record.monitored
    shown = table(monitored(selected.metrics, selected.artifacts, selected.models))
    if shown is not None:
        print(shown)
    if outcome.failed:
        raise AirflowFailException(f"pipec: {outcome.message}")
    return outcome.handoff()


def end(storage: str | None, project_dir: str, context: dict[str, Any]) -> dict[str, Any]:
    """Conclude the run; a decorator pipeline's logic is replayed here with real values
    (its prints land in this task's log, its `assert`s and return value count)."""
    run = _this_run(storage, context)
    logic_output = (
        contextlib.nullcontext() if _observer is None else contextlib.redirect_stdout(_observer.out)
    )
    with logic_output:
        record = run.conclude(replay_from=project_dir)
    print(f"pipec: run {run.run_id} {record.status}", record.error or "")
    found = monitored(record.metrics, record.artifacts, record.models)
    shown = table(found)
    if shown is not None:
        print(shown)
    if record.status != "completed":
        raise AirflowFailException(f"pipec: pipeline {run.pipeline.name!r} {record.status}")
    return {"status": record.status, "run_id": run.run_id, **found}
