"""`PipelineController`: ClearML's explicit pipeline API, built into the IR and run.

Building (the constructor, `add_parameter`, `add_step`, `add_function_step`) is
`pipec.capture.builder`; this adds what ClearML's controller does with the pipeline:
start it (on `$PIPEC_TARGET`, or `local` with `start_locally`), wait for it, stop it, and
show its steps while and after it runs.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pipec import templates
from pipec.api import launch
from pipec.api.model import OutputModel
from pipec.api.task import Logger, pipeline_task, run_logger
from pipec.capture import session
from pipec.capture.builder import PipelineBuilder
from pipec.capture.options import callable_spec
from pipec.contract import Logic
from pipec.errors import CaptureError, caller_frame, caller_location
from pipec.exprs import literal, literal_value
from pipec.ir import Pipeline
from pipec.runtime.context import current_step
from pipec.runtime.node import Node
from pipec.runtime.runstore import BEFORE_START
from pipec.store import slug


class PipelineController(PipelineBuilder):
    """ClearML's `PipelineController`, with the same parameters and defaults."""

    _run: Any = None
    """The run on this machine, once started (set by the target that runs it)."""
    _latest: ClassVar[PipelineController | None] = None
    """The last controller made in this process: ClearML's pipeline task of the process."""

    def __new__(cls, *args: Any, **kwargs: Any) -> PipelineController:
        controller = super().__new__(cls)
        controller._before_start_logger = Logger()
        PipelineController._latest = controller
        return controller

    _start_time: float | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------ ClearML's controller settings

    def add_tags(self, tags: Sequence[str] | str) -> None:
        """Tags of the pipeline, kept in its IR (old ones stay, as in ClearML)."""
        kept = list(self._options.get("tags") or [])
        new = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        self._options["tags"] = kept + [t for t in new if t not in kept]

    def connect_configuration(
        self,
        configuration: Mapping[str, Any] | list[Any] | Path | str,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any] | list[Any] | Path | str:
        """ClearML's controller configuration: a dict (or list) comes back as it is, a path
        as the path (read it afterwards, as ClearML's users do); either is kept in the
        pipeline's IR under `name` (default `General`). Without a server nothing overrides
        it, so the local contents are the ones used."""
        where = caller_location()
        if isinstance(configuration, (str, Path)):
            path = Path(configuration)
            if not path.is_file():
                raise CaptureError(f"connect_configuration: no such file {str(path)!r}", where)
            kept: Any = path.read_text(encoding="utf-8")
        elif isinstance(configuration, (Mapping, list)):
            kept = json.loads(json.dumps(configuration, default=str))
        else:
            raise CaptureError(
                "connect_configuration takes a dict, a list or a path, "
                f"got {type(configuration).__name__}",
                where,
            )
        sections = dict(self._options.get("configuration") or {})
        sections[name or "General"] = {"value": kept, "description": description}
        self._options["configuration"] = sections
        if isinstance(configuration, Mapping):
            return dict(configuration)
        return configuration

    def set_pipeline_execution_time_limit(self, max_execution_minutes: float | None) -> None:
        """The whole run's time limit, as in ClearML: None or 0 for none. On this machine's
        targets a run past it is stopped (its running steps aborted); an engine target
        says at compile time what it does with it."""
        seconds = max_execution_minutes * 60.0 if max_execution_minutes else None
        self._options["pipeline_execution_time_limit"] = seconds

    def create_draft(self) -> None:
        """ClearML's serialised pipeline, for later use: the IR, written to
        `$PIPEC_HOME/drafts/<pipeline>.pipec.json` (`pipec compile --target json` and
        `pipec run` take the pipeline file instead)."""
        folder = templates.pipec_home() / "drafts"
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f"{slug(self.name)}.pipec.json"
        draft.write_text(self.to_ir().model_dump_json(indent=2) + "\n", encoding="utf-8")

    def get_parameters(self) -> dict[str, Any]:
        """The pipeline parameters: this run's values once it runs, else the defaults. (ClearML
        gives strings; pipec keeps the parameters' types.)"""
        if self._run is not None:
            return dict(self._run.record.parameters)
        return {
            p.name: None if p.default is None else literal_value(p.default)
            for p in self._parameters
        }

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
        self._start_time = time.time()
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
        thread = self._thread
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

    def is_running(self) -> bool:
        """Whether the run started with `start(wait=False)` is still going."""
        return self._thread is not None and self._thread.is_alive()

    def elapsed(self) -> float:
        """Minutes since the pipeline started; negative before it has (as in ClearML)."""
        return -1.0 if self._start_time is None else (time.time() - self._start_time) / 60.0

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

    # ------------------------------------------------------------ the pipeline's own task

    @classmethod
    def _current(cls) -> PipelineController:
        """The pipeline of this process (the last controller made here), as ClearML finds
        its pipeline task; ClearML's ValueError when there is none."""
        if PipelineController._latest is None:
            raise ValueError("Could not locate the pipeline: no PipelineController was created")
        return PipelineController._latest

    @classmethod
    def get_logger(cls) -> Logger:
        """The pipeline's own logger, as in ClearML, from anywhere: inside a step its
        reports go to the pipeline's run record (as `monitor_metrics` forwards them), in a
        running pipeline straight to the run record, and before `start()` into the
        pipeline, so the run record starts with them."""
        ctx = current_step()
        if ctx is not None:
            return Logger(ctx.reports_to_pipeline())
        controller = cls._current()
        if controller._run is not None:
            return run_logger(controller._run)
        return controller._before_start_logger

    @classmethod
    def upload_artifact(
        cls,
        name: str,
        artifact_object: Any,
        metadata: Mapping[str, Any] | None = None,
        delete_after_upload: bool = False,
        auto_pickle: bool | None = None,
        preview: Any = None,
        wait_on_upload: bool = False,
        serialization_function: Callable[[Any], bytes | bytearray] | None = None,
        sort_keys: bool = True,
    ) -> bool:
        """An artifact of the pipeline itself, from anywhere (see `get_logger`): a path
        uploads the file or folder, anything else is stored as a value. Before `start()`
        the object goes into the pipeline (it must serialise) and is stored when the run
        begins."""
        ctx = current_step()
        if ctx is not None:
            ctx.upload_to_pipeline(name, artifact_object)
            return True
        controller = cls._current()
        if controller._run is not None:
            controller._run.upload_artifact(name, artifact_object)
            return True
        pending = dict(controller._options.get(BEFORE_START[1]) or {})
        pending[name] = literal(artifact_object).model_dump()
        controller._options[BEFORE_START[1]] = pending
        return True

    def upload_model(
        self, model_name: str, model_local_path: str, upload_uri: str | None = None
    ) -> OutputModel:
        """A model of the pipeline itself, registered in the store's model registry (in
        the pipeline's project) and in the run record, as ClearML adds it to the
        pipeline's task."""
        task = pipeline_task(self._active_run("upload_model()"))
        model = OutputModel(task=task, name=str(model_name))
        model.update_weights(weights_filename=str(model_local_path), upload_uri=upload_uri)
        return model

    def to_ir(self) -> Pipeline:
        """The IR, with what the pipeline's logger was given before `start()`."""
        reports = self._before_start_logger.reports
        if reports:
            self._options[BEFORE_START[0]] = [r.model_dump(mode="json") for r in reports]
        return super().to_ir()

    def _aliases(self) -> list[str]:
        frame = caller_frame()
        return [var for var, obj in frame.f_globals.items() if obj is self]
