"""`PipelineController`: ClearML's explicit pipeline API, built into the IR and run.

Building (the constructor, `add_parameter`, `add_step`, `add_function_step`) is
`pipec.capture.builder`; this adds what ClearML's controller does with the pipeline:
start it (on `$PIPEC_TARGET`, or `local` with `start_locally`), wait for it, stop it, and
show its steps while and after it runs.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from pipec.api import launch
from pipec.api.task import Logger, run_logger
from pipec.capture import session
from pipec.capture.builder import PipelineBuilder
from pipec.capture.options import callable_spec
from pipec.contract import Logic
from pipec.errors import CaptureError, caller_frame, caller_location
from pipec.runtime.node import Node


class PipelineController(PipelineBuilder):
    """ClearML's `PipelineController`, with the same parameters and defaults."""

    _run: Any = None
    """The run on this machine, once started (set by the target that runs it)."""

    # ------------------------------------------------------------ starting

    def start(
        self,
        queue: str = "services",
        step_task_created_callback: Callable[..., bool] | None = None,
        step_task_completed_callback: Callable[..., None] | None = None,
        wait: bool = True,
    ) -> bool:
        """ClearML's remote start: runs on `$PIPEC_TARGET` (default `local`).
        With `wait=False` the run goes on in the background; see `wait()` and `stop()`."""
        where = caller_location()
        for option, callback in (
            ("step_task_created_callback", step_task_created_callback),
            ("step_task_completed_callback", step_task_completed_callback),
        ):
            if callback is not None:
                self._start_options[option] = callable_spec(callback, option, where).model_dump()
        self._start_options["pipeline_execution_queue"] = queue
        if session.active_session() is not None:
            return session.pipeline_called(self.to_ir(), *self._aliases())
        self._launch(None, wait=wait)
        return True

    def start_locally(self, run_pipeline_steps_locally: bool = False) -> None:
        """Runs here until done; steps on `local` when asked, else on `$PIPEC_TARGET`."""
        self._start_options["run_pipeline_steps_locally"] = run_pipeline_steps_locally
        self._start_options["pipeline_execution_queue"] = None
        if session.active_session() is not None:
            session.pipeline_called(self.to_ir(), *self._aliases())
            return
        self._launch("local" if run_pipeline_steps_locally else None, wait=True)

    def _launch(self, chosen: str | None, *, wait: bool) -> None:
        pipeline, logic = self.to_ir(), Logic(controller=self)
        if wait:
            self._result = launch.run(pipeline, logic, chosen)
            return
        self._error: BaseException | None = None

        def background() -> None:
            try:
                self._result = launch.run(pipeline, logic, chosen)
            except BaseException as exc:  # raised again by wait(), in the caller's thread
                self._error = exc

        # in the caller's context, so the options of `pipec run` reach the run
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(background,), daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ while / after it runs

    def wait(self, timeout: float | None = None) -> bool:
        """Until the run ends (`timeout` in minutes, as in ClearML); False if it did not."""
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(None if timeout is None else timeout * 60)
            if thread.is_alive():
                return False
            error, self._error = self._error, None
            if error is not None:  # the run could not start (invalid pipeline, storage, ...)
                raise error
        return True

    def stop(
        self, timeout: float | None = None, mark_failed: bool = False, mark_aborted: bool = False
    ) -> None:
        """Abort the running steps and skip the rest."""
        if self._run is not None:
            self._run.stop(status="failed" if mark_failed else "aborted")
        self.wait(timeout)

    def is_successful(
        self, fail_on_step_fail: bool = True, fail_condition: str = "all", strict: bool = False
    ) -> bool:
        """True when the run completed; a step reused from the cache counts as a success."""
        result = getattr(self, "_result", None)
        return result is not None and result.succeeded

    def get_pipeline_dag(self) -> dict[str, Any]:
        """Steps by name as `Node`s (`name`, `parents`, `status`, `executed`, ...)."""
        if self._run is not None:
            return self._run.get_pipeline_dag()
        return {step.name: Node.of(step) for step in self._steps}

    def get_running_nodes(self) -> list[str]:
        return self._run.get_running_nodes() if self._run is not None else []

    def get_processed_nodes(self) -> list[str]:
        return self._run.get_processed_nodes() if self._run is not None else []

    @property
    def id(self) -> str | None:
        return self._run.run_id if self._run is not None else None

    def _active_run(self, what: str) -> Any:
        if self._run is None:
            raise CaptureError(f"{what} works while the pipeline runs (from a callback)")
        return self._run

    def get_logger(self) -> Logger:
        """The pipeline's own logger: its reports go to the run record."""
        return run_logger(self._active_run("get_logger()"))

    def upload_artifact(self, name: str, artifact_object: Any, **_: Any) -> bool:
        self._active_run("upload_artifact()").upload_artifact(name, artifact_object)
        return True

    def upload_model(self, model_name: str, model_local_path: str, **_: Any) -> None:
        self._active_run("upload_model()").upload_model(model_name, model_local_path)

    def _aliases(self) -> list[str]:
        frame = caller_frame()
        return [var for var, obj in frame.f_globals.items() if obj is self]
