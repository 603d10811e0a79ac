"""The `ray` target: a pipeline run from this process, each step attempt a Ray task.

Mapping of ClearML's options (the README of pipec-ray has the whole table):

- the pipeline logic, skip rules, the cache, callbacks and `retry_on_failure` -> pipec's
  own scheduler in the `pipec run` process, exactly as on the local target (callbacks
  get the live controller as `pipeline`, as in ClearML); decorator logic that branches or
  loops on step values runs as written (`dynamic`);
- each attempt -> one Ray task (`pipec_ray.attempts`), independent steps at the same
  time, data only through the store;
- `execution_queue` / `default_queue` -> a Ray resource the attempt asks for
  (`pipec_ray.queues`);
- `time_limit` -> the task is cancelled (`ray.cancel(force=True)`), the attempt aborted;
- docker / repo options -> the workers' environment, with a warning
  (`--option environment=refuse` refuses them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipec.adapter import (
    ENGINE_FEATURES,
    Logic,
    RunOptions,
    RunResult,
    Target,
    codegen,
    hookimpl,
    open_store,
    run_here,
)
from pipec.errors import UsageError
from pipec.ir import Pipeline

RAY_FEATURES = ENGINE_FEATURES | {"dynamic"}
"""Optional features (`pipec.adapter.FEATURES`) this target implements faithfully."""

OPTIONS = {
    "ray_address": "the Ray cluster to run on (default: $RAY_ADDRESS, else a cluster "
    "started on this machine, as ray.init() does)",
    "queues": "QUEUE=RESOURCE[:AMOUNT] pairs, comma-separated: the Ray resource a ClearML "
    "queue's steps ask for (default: a resource named as the queue, 1 unit)",
    "env": "names of environment variables, comma-separated, that the steps get from this "
    "process (besides every PIPEC_* variable)",
    **codegen.ENVIRONMENT_OPTION,
}
"""The options (`pipec run --target ray --option KEY=VALUE`), with what each sets."""


def forwarded_env(names: str | None) -> dict[str, str]:
    """What a step's Ray worker gets of this process's environment: pipec's own settings
    (`PIPEC_*`) and the variables `names` lists; the rest is the node's, as a ClearML
    agent's steps see the agent's environment. Output unbuffered (it streams to this
    process) and plots headless, as in every step process."""
    wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
    missing = [name for name in wanted if name not in os.environ]
    if missing:
        raise UsageError(f"env: {', '.join(missing)} not set in this environment")
    env = {k: v for k, v in os.environ.items() if k.startswith("PIPEC_") or k in wanted}
    return {"MPLBACKEND": "Agg", **env, "PYTHONUNBUFFERED": "1"}


@contextmanager
def connected(address: str | None) -> Iterator[None]:
    """This process as a Ray driver: connected to `address` (else $RAY_ADDRESS, else a
    cluster of this machine, as `ray.init()` chooses) unless it is one already; it
    disconnects only from what it connected to."""
    # every line a step prints is shown, even one another step printed the same
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray

    if ray.is_initialized():
        yield
        return
    try:
        ray.init(address=address or None, logging_level="WARNING", log_to_driver=True)
    except ConnectionError as exc:
        raise UsageError(f"cannot reach the Ray cluster: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


class RayTarget:
    name = "ray"
    description = "each step attempt a Ray task on a Ray cluster (ray.init() by default)"
    capabilities = RAY_FEATURES

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        raise UsageError(
            "target 'ray' runs pipelines from the process that starts them and has nothing "
            "to compile: use `pipec run --target ray` (on the cluster itself: "
            "`ray job submit -- pipec run PATH --target ray`)"
        )

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Run the pipeline from here, its attempts on the Ray cluster."""
        given = codegen.compile_options(self.name, options.target_options, OPTIONS)
        codegen.check_environment(self.name, pipeline, given.get(codegen.ENVIRONMENT))
        from pipec_ray import queues

        mapping = queues.parse(given.get("queues"))
        env = forwarded_env(given.get("env"))
        open_store(options.storage)  # usable, and shared: attempts run in other processes
        with connected(given.get("ray_address")):
            from pipec_ray.attempts import Attempts  # imports ray: only when running

            attempts = Attempts(os.getcwd(), env, mapping, quiet=options.quiet)
            attempts.check(pipeline)
            return run_here(pipeline, options, logic, attempt=attempts)


@hookimpl
def pipec_targets() -> list[Target]:
    return [RayTarget()]
