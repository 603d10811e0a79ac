"""The `airflow` target: a DAG file for a stock Airflow 3, run locally through `dag.test()`.

Mapping of ClearML's options (see the README's target matrix):

- pipeline parameters -> DAG `params` (`Param` with the JSON type and default);
- `retry_on_failure` (int, step or pipeline) -> the task's `retries`, with
  `retry_delay` = the compile option `retry_delay` in seconds (default 0: ClearML
  relaunches a failed step at once); each Airflow try is one attempt of the step,
  recorded in the same step record as on the local target;
- `time_limit` -> `execution_timeout` (the attempt is recorded `aborted`, not retried);
- `execution_queue`, else the pipeline's `default_queue` -> `queue`, and `pool` for the
  queues listed in the compile option `pools` (`QUEUE=POOL,...`);
- continue / skip / `abort_on_failure` -> decided by pipec's runtime from the parents'
  records in the store (every step task has trigger rule `all_done`); each attempt is a
  process its task watches, killed (`aborted`) when the run is stopped;
- `cache`, `monitor_*` -> pipec's runtime, as on every target; `--refresh` -> the DAG
  run conf key `pipec_refresh`;
- a decorator pipeline's logic (prints, `assert`, return value) -> replayed with the
  run's values in `pipec_end` (`pipec.runtime.replay`).

- callbacks (`pre_execute_callback`, `post_execute_callback`, `status_change_callback`,
  `start()`'s `step_task_created/completed_callback`) and a callable `retry_on_failure`
  -> run by pipec's runtime in the step's task, with the same arguments and order as on
  the local target; `pipeline` is a view of the run from the store (ClearML's controller
  view: `id`, `get_pipeline_dag()`, ...). A callable retry policy retries within one engine
  try (the engine's `retries` is 0 for it).

Loops, task factories, docker / repo options and pipeline logic that decides from step
values are rejected at compile time.

No secret lands in the file: storage credentials come from the worker's environment, or
from the Airflow connection named by the compile option `storage_conn`, which every task
reads when it runs (`pipec_airflow.credentials`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipec.adapter import (
    ENGINE_FEATURES,
    PIPEC_VERSION,
    EngineRun,
    Logic,
    Progress,
    RunOptions,
    RunRecord,
    RunResult,
    StepRecord,
    Store,
    Target,
    check_parameters,
    codegen,
    hookimpl,
    open_store,
    run_id_of,
)
from pipec.errors import UsageError
from pipec.ir import Pipeline

from pipec_airflow.credentials import use_storage_connection
from pipec_airflow.dagfile import REFRESH, DagOptions, dag_id, render

AIRFLOW_FEATURES = ENGINE_FEATURES
"""Optional features (`pipec.adapter.FEATURES`) this target implements faithfully."""

OPTIONS = {
    "storage": "the artifact store URL baked into the DAG (default: the worker's $PIPEC_STORAGE)",
    "retry_delay": "seconds between the tries of a retried step (default 0)",
    "pools": "QUEUE=POOL pairs, comma-separated: the Airflow pool of a ClearML queue's steps",
    "storage_conn": "the Airflow connection every task reads the store's credentials from",
    **codegen.ENVIRONMENT_OPTION,
}
"""The compile options (`pipec compile --option KEY=VALUE`), with what each sets."""

POOLS = "pools"


def parse_pools(value: str) -> dict[str, str]:
    """The `pools` option (`QUEUE=POOL,...`, e.g. `gpu=gpu_pool,cpu=default_pool`) as
    {queue: pool}. ClearML has no pools, so a user opts in per queue."""
    pools: dict[str, str] = {}
    for item in value.split(",") if value.strip() else []:
        queue, equals, pool = (part.strip() for part in item.partition("="))
        if not (queue and equals and pool) or "=" in pool:
            raise UsageError(
                f"{POOLS}={value!r}: {item.strip()!r} is not QUEUE=POOL"
                " (expected e.g. 'gpu=gpu_pool,cpu=default_pool')"
            )
        if queue in pools:
            raise UsageError(f"{POOLS}={value!r}: queue {queue!r} is given more than one pool")
        pools[queue] = pool
    return pools


class AirflowTarget:
    name = "airflow"
    description = "an Airflow 3 DAG file; `run` executes it with dag.test()"
    capabilities = AIRFLOW_FEATURES

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        """`<stem>.py` (the DAG) and `<stem>.pipec.json` (the IR its tasks run) in
        `out_dir`, with the compile `options` (`OPTIONS`) baked in. Without `storage` the
        worker's $PIPEC_STORAGE decides; it must hold no credentials."""
        given = codegen.compile_options(self.name, options, OPTIONS)
        storage = given.get("storage") or None
        codegen.check_baked_storage(storage)
        try:
            retry_delay = float(given.get("retry_delay", "0"))
        except ValueError:
            raise UsageError(f"retry_delay={given['retry_delay']!r} is not a number") from None
        pools = parse_pools(given.get(POOLS, ""))
        storage_conn = given.get("storage_conn") or None
        codegen.check_environment(self.name, pipeline, given.get(codegen.ENVIRONMENT))

        def source(data_file: str, ir_hash: str) -> str:
            dag = DagOptions(
                data_file, ir_hash, storage, os.getcwd(), retry_delay, pools, storage_conn
            )
            return render(pipeline, dag, PIPEC_VERSION)

        return codegen.write_beside_ir(pipeline, out_dir, source)

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Compile (with `options.target_options`), then run the DAG in-process with
        Airflow's `dag.test()`; `--refresh` reaches the step tasks through the DAG run's
        conf."""
        params = check_parameters(pipeline, options.params)  # pipec's checks come first
        given = codegen.compile_options(self.name, options.target_options, OPTIONS)
        with _airflow_home() as dags_folder:
            store = _open_store(options.storage, given.get("storage_conn"))
            compiled = {**given, "storage": store.url}
            dag_file, _ = self.compile(pipeline, dags_folder, compiled)
            dag = _load_dag(dag_file, dag_id(pipeline))
            from airflow.sdk.exceptions import ParamValidationError

            conf = dict(params)
            if options.refresh:
                conf[REFRESH] = True if options.refresh is True else sorted(options.refresh)
            console = RunConsole(options.quiet)
            try:
                with console.running():
                    dag_run = dag.test(run_conf=conf)
            except ParamValidationError as exc:
                raise UsageError(f"--param: {exc}") from None
        run = EngineRun.open(store.url, pipeline.name, run_id_of(dag_run.run_id), self.name)
        record, summary = run.summary()
        console.ended(record, {step.name: step for _, step in run.outcomes()})
        return RunResult(record=record, summary=summary)


class RunConsole:
    """`pipec run --target airflow` on the terminal as on the local target: the steps'
    output and a line per finished step (stdout, or stderr with `--json`), a closing
    summary, and the user's error first. Airflow's own task logs of `dag.test()` (a
    traceback per failed task) are kept off the terminal: `pipec runs logs` shows a
    step's console."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress: Progress | None = None
        self.out, self._err = (sys.stderr if quiet else sys.stdout), sys.stderr

    def begun(self, pipeline: str, run_id: str) -> None:
        self.progress = Progress(pipeline, run_id, quiet=self.quiet)
        self.progress.console.file = self._err  # not the muted stream of `running`
        self.progress.start()

    def echo(self, step: str, line: str) -> None:
        print(f"[{step}] {line}", file=self.out, flush=True)

    def finished(self, record: StepRecord) -> None:
        if self.progress is not None:
            self.progress.finished(record)

    def ended(self, record: RunRecord, steps: dict[str, StepRecord]) -> None:
        if self.progress is not None:
            self.progress.stop(record, steps)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """While `dag.test()` runs: the tasks report here, and what Airflow prints goes
        nowhere (its loggers write to this process's standard streams)."""
        from pipec_airflow import runtime  # Airflow is configured by now

        out, err = sys.stdout, sys.stderr
        self.out, self._err = (err if self.quiet else out), err
        with open(os.devnull, "w") as sink, runtime.observing(self):
            sys.stdout = sys.stderr = sink
            try:
                yield
            finally:
                sys.stdout, sys.stderr = out, err


def _open_store(url: str | None, storage_conn: str | None) -> Store:
    """The run's store, checked from this process, which reads it too: with the storage
    connection's settings when one is named (the tasks apply them again, as on a worker).
    Attempts are processes of their own, in `dag.test()` too: the store must be shared."""
    if storage_conn:
        use_storage_connection(storage_conn, url)
    return open_store(url)


@contextlib.contextmanager
def _airflow_home() -> Iterator[Path]:
    """The DAGs folder to run in: the configured one when $AIRFLOW_HOME is set, else a
    throwaway AIRFLOW_HOME with SQLite holding only this DAG."""
    if os.environ.get("AIRFLOW_HOME"):
        from airflow.configuration import conf

        check_migrated()  # the user's metadata database is theirs to migrate
        folder = Path(conf.get("core", "dags_folder"))
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="pipec-airflow-") as home:
        os.environ.update(throwaway_home(Path(home)))
        try:
            migrate()
            yield Path(home) / "dags"
        finally:
            os.environ.pop("AIRFLOW_HOME", None)


def throwaway_home(home: Path) -> dict[str, str]:
    """Environment for a private Airflow: SQLite, no examples, its own DAGs folder, and
    only warnings from Airflow itself."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # steps' own output and errors remain
    }


def check_migrated() -> None:
    """Refuse, before anything runs, an $AIRFLOW_HOME whose metadata database has no
    tables yet: Airflow would fail deep inside `dag.test()` with a bare SQL error."""
    from airflow import settings
    from sqlalchemy import inspect

    if not inspect(settings.engine).has_table("dag"):
        raise UsageError(
            f"Airflow's metadata database of AIRFLOW_HOME={os.environ['AIRFLOW_HOME']} has no"
            " tables yet: run `airflow db migrate` first"
        )


def migrate() -> None:
    """Create the metadata tables (`airflow db migrate`) of a fresh AIRFLOW_HOME."""
    from airflow.utils.db import initdb

    initdb()


def _load_dag(dag_file: Path, wanted: str) -> Any:
    """The compiled DAG as Airflow imports it (the `DAG` type stays out of pipec's imports)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file))
    if bag.import_errors:
        raise UsageError(f"Airflow could not import {dag_file}: {bag.import_errors}")
    return bag.get_dag(wanted)


@hookimpl
def pipec_targets() -> list[Target]:
    return [AirflowTarget()]
