"""The `airflow` target: a DAG file for a stock Airflow 3, run locally through `dag.test()`.

Mapping of ClearML's options (see the README's target matrix):

- pipeline parameters -> DAG `params` (`Param` with the JSON type and default);
- `retry_on_failure` (int, step or pipeline) -> the task's `retries`, with
  `retry_delay` = $PIPEC_AIRFLOW_RETRY_DELAY seconds at compile time (default 0:
  ClearML relaunches a failed step at once); each Airflow try is one attempt of the
  step, recorded in the same step record as on the local target;
- `time_limit` -> `execution_timeout` (the attempt is recorded `aborted`, not retried);
- `execution_queue`, else the pipeline's `default_queue` -> `queue`, and `pool` for the
  queues listed in $PIPEC_AIRFLOW_POOLS (`QUEUE=POOL,...`) at compile time;
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
  the local target; `pipeline` is a view of the run from the store
  (`pipec.runtime.scheduled.RunView`). A callable retry policy retries within one engine
  try (the engine's `retries` is 0 for it).

Loops, task factories, docker / repo options and pipeline logic that decides from step
values are rejected at compile time.

No secret lands in the file: storage credentials come from the worker's environment, or
from the Airflow connection named by $PIPEC_AIRFLOW_STORAGE_CONN at compile time, which
every task reads when it runs (`pipec_airflow.credentials`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipec import __version__
from pipec.errors import UsageError
from pipec.hookspecs import hookimpl
from pipec.ir import Pipeline
from pipec.runtime import runs, scheduled
from pipec.runtime.runner import RunOptions
from pipec.runtime.start import Logic
from pipec.store import Store, slug
from pipec.targets import RunResult, Target, check_baked_storage
from pipec.targets.json_target import write_beside_ir

from pipec_airflow.credentials import STORAGE_CONN, use_storage_connection
from pipec_airflow.dagfile import REFRESH, DagOptions, dag_id, render

AIRFLOW_FEATURES = scheduled.FEATURES
"""Optional features (`pipec.validate.FEATURES`) this target implements faithfully."""

POOLS = "PIPEC_AIRFLOW_POOLS"
"""The compile-time setting giving the Airflow pool of some ClearML queues' steps."""


def parse_pools(value: str) -> dict[str, str]:
    """$PIPEC_AIRFLOW_POOLS (`QUEUE=POOL,...`, e.g. `gpu=gpu_pool,cpu=default_pool`) as
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
        self, pipeline: Pipeline, out_dir: Path, *, storage: str | None = None
    ) -> list[Path]:
        """`<stem>.py` (the DAG) and `<stem>.pipec.json` (the IR its tasks run) in
        `out_dir`. `storage` is baked into the file; without it the worker's
        $PIPEC_STORAGE decides. It must hold no credentials."""
        check_baked_storage(storage)
        retry_delay = float(os.environ.get("PIPEC_AIRFLOW_RETRY_DELAY", "0"))
        pools = parse_pools(os.environ.get(POOLS, ""))
        storage_conn = os.environ.get(STORAGE_CONN) or None

        def source(data_file: str, ir_hash: str) -> str:
            options = DagOptions(
                data_file, ir_hash, storage, os.getcwd(), retry_delay, pools, storage_conn
            )
            return render(pipeline, options, __version__)

        return write_beside_ir(pipeline, out_dir, source)

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Compile, then run the DAG in-process with Airflow's `dag.test()`; `--refresh`
        reaches the step tasks through the DAG run's conf."""
        runs.with_parameters(pipeline, options.params)  # unknown or missing values: fail early
        with _airflow_home() as dags_folder:
            store = _open_store(options.storage)
            dag_file, _ = self.compile(pipeline, dags_folder, storage=store.url)
            dag = _load_dag(dag_file, dag_id(pipeline))
            from airflow.sdk.exceptions import ParamValidationError

            conf = dict(options.params)
            if options.refresh:
                conf[REFRESH] = True if options.refresh is True else sorted(options.refresh)
            try:
                dag_run = dag.test(run_conf=conf)
            except ParamValidationError as exc:
                raise UsageError(f"--param: {exc}") from None
        run = scheduled.open_run(store.url, pipeline.name, slug(dag_run.run_id))
        record, summary = scheduled.summary(run)
        return RunResult(record=record, summary=summary)


def _open_store(url: str | None) -> Store:
    """The run's store, checked from this process, which reads it too: with the storage
    connection's settings when one is named (the tasks apply them again, as on a worker)."""
    storage_conn = os.environ.get(STORAGE_CONN)
    if storage_conn:
        use_storage_connection(storage_conn, url)
    store = Store.resolve(url)
    store.check()
    if not store.shared_between_processes:  # attempts are processes, in dag.test() too
        raise UsageError(f"storage {store.url} lives inside one process; steps run in others")
    return store


@contextlib.contextmanager
def _airflow_home() -> Iterator[Path]:
    """The DAGs folder to run in: the configured one when $AIRFLOW_HOME is set, else a
    throwaway AIRFLOW_HOME with SQLite holding only this DAG."""
    if os.environ.get("AIRFLOW_HOME"):
        from airflow.configuration import conf

        folder = Path(conf.get("core", "dags_folder"))
        folder.mkdir(parents=True, exist_ok=True)
        yield folder  # the user's metadata database is theirs to migrate
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
