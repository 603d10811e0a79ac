"""The `prefect` target: a flow file for a stock Prefect 3, run in place with `flow()`.

Mapping of ClearML's options (see the README's target matrix):

- pipeline parameters -> the flow function's typed arguments (Prefect's parameter form);
- `retry_on_failure` (int, step or pipeline) -> the task's `retries`, no delay; each
  Prefect try is one attempt, recorded in the same step record as on the local target;
- `time_limit` -> the task's `timeout_seconds` (the attempt is killed, recorded `aborted`,
  not retried);
- `execution_queue`, else the pipeline's `default_queue` -> a task tag (for Prefect tag
  concurrency limits);
- continue / skip / `abort_on_failure` -> decided by pipec's runtime from the parents'
  records in the store (every task waits for its parents with `allow_failure`);
- `cache` -> pipec's cache (Prefect's task caching is off); `monitor_*` -> artifacts on
  the flow run, and the pipeline-level run record in the store.

- callbacks (`pre_execute_callback`, `post_execute_callback`, `status_change_callback`,
  `start()`'s `step_task_created/completed_callback`) and a callable `retry_on_failure`
  -> run by pipec's runtime in the step's task, with the same arguments and order as on
  the local target; `pipeline` is a view of the run from the store (ClearML's controller
  view: `id`, `get_pipeline_dag()`, ...). A callable retry policy retries within one engine
  try (the engine's `retries` is 0 for it).

Loops, task factories, docker / repo options and pipeline logic that decides from step
values are rejected at compile time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipec.adapter import (
    ENGINE_FEATURES,
    PIPEC_VERSION,
    EngineRun,
    Logic,
    RunOptions,
    RunResult,
    Store,
    Target,
    check_parameters,
    codegen,
    hookimpl,
)
from pipec.errors import UsageError
from pipec.ir import Pipeline

from pipec_prefect.flowfile import FileOptions, arguments, render

PREFECT_FEATURES = ENGINE_FEATURES | {"dynamic"}
"""Optional features (`pipec.adapter.FEATURES`) this target implements faithfully."""

OPTIONS = {
    "storage": "the artifact store URL baked into the flow file (default: the worker's "
    "$PIPEC_STORAGE)",
    **codegen.ENVIRONMENT_OPTION,
}
"""The compile options (`pipec compile --option KEY=VALUE`), with what each sets."""

STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


class PrefectTarget:
    name = "prefect"
    description = "a Prefect 3 flow file; `run` runs the flow (ephemeral server by default)"
    capabilities = PREFECT_FEATURES

    def compile(
        self, pipeline: Pipeline, out_dir: Path, options: dict[str, str] | None = None
    ) -> list[Path]:
        """`<stem>.py` (the flow) and `<stem>.pipec.json` (the IR its tasks run) in
        `out_dir`. The `storage` option is baked into the file; without it the worker's
        $PIPEC_STORAGE decides. It must hold no credentials."""
        given = codegen.compile_options(self.name, options, OPTIONS)
        storage = given.get("storage") or None
        codegen.check_baked_storage(storage)
        codegen.check_environment(self.name, pipeline, given.get(codegen.ENVIRONMENT))

        def source(data_file: str, ir_hash: str) -> str:
            baked = FileOptions(data_file, ir_hash, storage, os.getcwd())
            return render(pipeline, baked, PIPEC_VERSION)

        return codegen.write_beside_ir(pipeline, out_dir, source)

    def run(self, pipeline: Pipeline, options: RunOptions, logic: Logic) -> RunResult:
        """Run the flow in this process: against $PREFECT_API_URL when set, else against
        the ephemeral API server Prefect starts."""
        params = check_parameters(pipeline, options.params)  # pipec's checks come first
        given = codegen.compile_options(self.name, options.target_options, OPTIONS)
        codegen.check_environment(self.name, pipeline, given.get(codegen.ENVIRONMENT))
        names = arguments(pipeline)
        fixed = sorted(set(params) - set(names))
        if fixed:
            raise UsageError(
                f"parameter(s) {', '.join(fixed)} have a default with no JSON form: "
                "target 'prefect' cannot set them per run"
            )
        store = Store.resolve(options.storage)
        store.check()
        from pipec_prefect import build_flow
        from pipec_prefect.flowrun import REFRESH

        flow = build_flow(pipeline, storage=store.url)
        kwargs = {names[k]: v for k, v in params.items()}
        token = REFRESH.set(options.refresh)
        try:
            state = _with_startup_timeout(lambda: flow(**kwargs, return_state=True))
        finally:
            REFRESH.reset(token)
        run_id = state.state_details.flow_run_id
        try:
            record, summary = EngineRun.open(
                store.url, pipeline.name, str(run_id), self.name
            ).summary()
        except (LookupError, FileNotFoundError):
            raise UsageError(f"the Prefect flow run ended {state.name}: {state.message}") from None
        return RunResult(record=record, summary=summary)


def _with_startup_timeout(call: Any) -> Any:
    """A busy machine starts the ephemeral server slower than Prefect's default wait
    (20 s); unless the user chose a timeout, wait up to 90 s."""
    if os.environ.get(STARTUP_TIMEOUT):
        return call()
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout
    from prefect.settings import temporary_settings

    with temporary_settings(updates={timeout: 90}):
        return call()


@hookimpl
def pipec_targets() -> list[Target]:
    return [PrefectTarget()]
