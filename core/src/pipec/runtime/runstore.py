"""A run in the store: where its files are, and the one module that reads and writes them
(but for the consoles, which `pipec.runtime.console` streams as the steps print).

Every scheduler (the local one, an Airflow DAG's first and last task, a Prefect flow)
begins, records and concludes a run through this module, so a run's `pipeline.json`,
`run.json`, each step's `step.json` and `spec.json`, its final status and its `--json`
summary are the same on every target. `StepCall` is the small JSON an engine task
passes to an attempt; `RunFiles` is the store layout of one run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cloudpickle
from pydantic import BaseModel, ConfigDict, TypeAdapter

from pipec import events
from pipec.errors import UsageError
from pipec.exprs import literal, literal_value
from pipec.ir import CallableSpec, Pipeline, Step, Value
from pipec.params import cast
from pipec.records import SUCCEEDED, Attempt, Report, RunRecord, StepRecord, StoredValue, jsonable
from pipec.runtime.node import Node, is_fatal
from pipec.runtime.values import resolve
from pipec.store import BadRecordError, Skipped, StorageError, Store, slug


class StepCall(BaseModel):
    """Everything a process needs to run one step: only names and URLs."""

    model_config = ConfigDict(extra="forbid")

    store: str
    pipeline: str
    run_id: str
    step: str
    project_dir: str
    """The directory relative paths in the IR (scripts, the pipeline file) start from."""


@dataclass(frozen=True)
class RunFiles:
    """The store layout of one run (see `pipec.store`)."""

    pipeline: str
    run_id: str

    @property
    def root(self) -> str:
        return f"runs/{slug(self.pipeline)}/{self.run_id}"

    @property
    def record(self) -> str:
        return f"{self.root}/run.json"

    @property
    def ir(self) -> str:
        return f"{self.root}/pipeline.json"

    @property
    def heartbeat(self) -> str:
        """When the process that owns a local run last said it is alive (`Heartbeat`)."""
        return f"{self.root}/heartbeat"

    @property
    def head(self) -> str:
        """The IR without its steps: all a step process needs besides its own step's spec,
        so starting a step costs the same in a pipeline of 10 steps or of 1000."""
        return f"{self.root}/pipeline.head.json"

    def step_dir(self, step: str) -> str:
        return f"{self.root}/steps/{slug(step)}"

    def step_record(self, step: str) -> str:
        return f"{self.step_dir(step)}/step.json"

    def step_spec(self, step: str) -> str:
        return f"{self.step_dir(step)}/spec.json"

    def console(self, step: str, attempt: int) -> str:
        """Attempt `attempt`'s console: what the step printed (`pipec.runtime.console`)."""
        return f"{self.step_dir(step)}/console/{attempt}.log"

    def step_id(self, step: str) -> str:
        return f"{slug(self.pipeline)}/{self.run_id}/{slug(step)}"

    def values(self, step: str | None, kind: str) -> str:
        """Where a step's (or, with `step` None, the controller's) `kind` of values go:
        `outputs`, `artifacts` or `models`."""
        owner = f"{self.root}/controller" if step is None else self.step_dir(step)
        return f"{owner}/{kind}"


def parse_step_id(step_id: str) -> tuple[str, str, str]:
    """(pipeline slug, run id, step slug) of a `${step.id}`."""
    parts = step_id.split("/")
    if len(parts) != 3 or not all(parts):
        raise LookupError(f"{step_id!r} is not a pipec step id (pipeline/run/step)")
    return parts[0], parts[1], parts[2]


def load_callable(spec: CallableSpec) -> Callable[..., Any]:
    return cloudpickle.loads(base64.b64decode(spec.pickled))


def custom_serialization(pipeline: Pipeline) -> tuple[Callable, Callable] | None:
    """ClearML's `artifact_serialization_function` pair, when the pipeline sets one."""
    dumps = pipeline.policies.artifact_serialization_function
    loads = pipeline.policies.artifact_deserialization_function
    if dumps is None or loads is None:
        return None
    return load_callable(dumps), load_callable(loads)


class StoredRun:
    """A run as seen from any process: parameters from its IR, records from the store."""

    def __init__(self, store: Store, pipeline: Pipeline, run_id: str) -> None:
        self.store = store
        self.pipeline = pipeline
        self.run_id = run_id
        self.files = RunFiles(pipeline.name, run_id)
        self.custom = custom_serialization(pipeline)
        self._params = {p.name: p.default for p in pipeline.parameters}
        self._steps = {step.name: step for step in pipeline.steps}

    def parameter(self, name: str) -> Value:
        value = self._params.get(name)
        if value is None:
            raise LookupError(f"pipeline parameter {name!r} has no value in this run")
        return value

    def step_record(self, step: str) -> StepRecord:
        path = self.files.step_record(step)
        if not self.store.exists(path):
            raise LookupError(f"step {step!r} has not run in run {self.run_id}")
        return self.store.read_model(path, StepRecord)

    def step(self, name: str) -> Step:
        """The step's spec: from the IR in memory when it has the step, else the store (a
        step process reads the IR without its steps; steps a live logic adds exist only as
        specs)."""
        known = self._steps.get(name)
        return (
            known if known is not None else self.store.read_model(self.files.step_spec(name), Step)
        )

    def run_record(self) -> RunRecord:
        return self.store.read_model(self.files.record, RunRecord)

    def call(self, step: str, project_dir: str) -> StepCall:
        """What a process needs to run an attempt of `step` of this run."""
        return StepCall(
            store=self.store.url,
            pipeline=self.pipeline.name,
            run_id=self.run_id,
            step=step,
            project_dir=project_dir,
        )

    def write_record(self, record: RunRecord) -> None:
        self.store.write_model(self.files.record, record)

    def write_step(self, record: StepRecord) -> None:
        self.store.write_model(self.files.step_record(record.name), record)

    def write_spec(self, step: Step) -> None:
        """The step's spec, which every process running it reads (`step`)."""
        self.store.write_model(self.files.step_spec(step.name), step)

    def load(self, stored: StoredValue) -> Any:
        return self.store.get_value(stored, custom=self.custom)

    def put(self, step: str | None, kind: str, name: str, obj: Any) -> StoredValue:
        """Store a value of a step (`step` None: of the controller) under `kind`."""
        return self.store.put_value(
            f"{self.files.values(step, kind)}/{slug(name)}", obj, custom=self.custom
        )

    def put_file(self, step: str | None, kind: str, name: str, path: str) -> StoredValue:
        return self.store.put_file(f"{self.files.values(step, kind)}/{slug(name)}", path)

    def upload(self, step: str | None, kind: str, name: str, obj: Any) -> StoredValue:
        """ClearML's `upload_artifact` rule: a path to an existing file or folder uploads
        that file or folder; anything else is stored as a value."""
        if isinstance(obj, (str, os.PathLike)) and os.path.exists(obj):
            return self.put_file(step, kind, name, os.fspath(obj))
        return self.put(step, kind, name, obj)

    def drop_values(self, step: str, kinds: tuple[str, ...]) -> None:
        """Remove what an attempt stored that no record points at."""
        for kind in kinds:
            self.store.remove(self.files.values(step, kind))


def open_run(store: Store | str, pipeline: str, run_id: str, *, steps: bool = True) -> StoredRun:
    """A run `begin` opened, read back from the store; without `steps`, its IR has none
    (each step's spec is read on its own, `StoredRun.step`), which is all one step's
    attempt needs."""
    store = store if isinstance(store, Store) else Store(store)
    files = RunFiles(pipeline, run_id)
    return StoredRun(store, store.read_model(files.ir if steps else files.head, Pipeline), run_id)


def read_step(store: Store, step_id: str) -> StepRecord:
    """The record of a step of any run, by the id `${step.id}` gives."""
    pipeline, run_id, step = parse_step_id(step_id)
    path = f"runs/{pipeline}/{run_id}/steps/{step}/step.json"
    if not store.exists(path):
        raise LookupError(f"no task {step_id!r} in storage {store.shown}")
    return store.read_model(path, StepRecord)


def console_text(store: Store, pipeline: str, run_id: str, step: str, attempt: int) -> str | None:
    """What attempt `attempt` of `step` printed so far (stdout and stderr as the step wrote
    them); None when that attempt kept no console (it never started, or was a cache hit)."""
    path = RunFiles(pipeline, run_id).console(step, attempt)
    if not store.exists(path):
        return None
    return store.read_bytes(path).decode("utf-8", errors="replace")


def list_runs(
    store: Store, pipeline: str | None = None, skipped: Skipped | None = None
) -> list[RunRecord]:
    """Every run recorded in a store (of one pipeline, when named), newest first; a record
    that cannot be read is given to `skipped` (if any) instead."""
    found = []
    for folder in store.listdir("runs"):
        for run_id in store.listdir(f"runs/{folder}"):
            path = f"runs/{folder}/{run_id}/run.json"
            if store.exists(path):
                try:
                    record = store.read_model(path, RunRecord)
                except BadRecordError as exc:
                    if skipped is not None:
                        skipped(exc)
                    continue
                if pipeline in (None, record.pipeline):
                    found.append(record)
    return sorted(found, key=lambda r: r.started, reverse=True)


HEARTBEAT_EVERY = 10.0
"""Seconds between a local run's heartbeats (`$PIPEC_HEARTBEAT_SECONDS` overrides it): one
small write per interval per run, none per step."""

GONE_AFTER = 4
"""Heartbeats missed before a reader takes a running run's owner for gone."""


class Heartbeat:
    """The owner of a running run rewrites the run's `heartbeat` (the time, and how often
    it beats) from a daemon thread, so a reader can tell a run still running from one
    whose process died without recording it (SIGKILL, a lost machine)."""

    def __init__(self, run: StoredRun) -> None:
        self.every = float(os.environ.get("PIPEC_HEARTBEAT_SECONDS") or HEARTBEAT_EVERY)
        self._run = run
        self._stop = threading.Event()
        self._beat()  # before the thread: a run is judged by its heartbeat from the start
        self._thread = threading.Thread(target=self._beating, name="pipec-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        beat = json.dumps({"at": time.time(), "every": self.every})
        self._run.store.write_bytes(self._run.files.heartbeat, beat.encode())

    def _beating(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):  # a store hiccup: the next beat may pass
                self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def owner_gone(store: Store, record: RunRecord) -> float | None:
    """When a run recorded running was last heard of, if its owner has stopped beating for
    `GONE_AFTER` heartbeats; None while it beats, or for runs without a heartbeat (an
    engine's, whose scheduler keeps their state)."""
    if record.status != "running":
        return None
    try:
        beat = json.loads(store.read_bytes(RunFiles(record.pipeline, record.run_id).heartbeat))
        at, every = float(beat["at"]), float(beat["every"])
    except (OSError, StorageError, ValueError, KeyError, TypeError):
        return None
    return at if time.time() - at > GONE_AFTER * every else None


def find_run(
    store: Store, run_id: str, skipped: Skipped | None = None
) -> tuple[RunRecord, list[StepRecord]] | None:
    """A run and its step records (in the order the steps were added); a step record that
    cannot be read is given to `skipped` (if any). A run id that is not one path segment
    is an OutsideStoreError: it names no run."""
    for folder in store.listdir("runs"):
        root = f"runs/{folder}/{run_id}"
        if store.exists(f"{root}/run.json"):
            run = store.read_model(f"{root}/run.json", RunRecord)
            steps = []
            for name in store.listdir(f"{root}/steps"):
                path = f"{root}/steps/{name}/step.json"
                if store.exists(path):
                    try:
                        steps.append(store.read_model(path, StepRecord))
                    except BadRecordError as exc:
                        if skipped is not None:
                            skipped(exc)
            order = {name: i for i, name in enumerate(run.steps)}
            steps.sort(key=lambda s: order.get(s.name, len(order)))
            return run, steps
    return None


def succeeded_steps(store: Store, pipeline: str, run_id: str) -> dict[str, StepRecord]:
    """The steps that succeeded in a run of `pipeline`, by name: what resuming it reuses."""
    found = find_run(store, run_id)
    if found is None:
        raise UsageError(f"no run {run_id!r} in {store.url}")
    record, steps = found
    if record.pipeline != pipeline:
        raise UsageError(f"run {run_id} is a run of pipeline {record.pipeline!r}, not {pipeline!r}")
    return {step.name: step for step in steps if step.status in SUCCEEDED}


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def with_parameters(pipeline: Pipeline, values: dict[str, Any]) -> Pipeline:
    """The pipeline with this run's parameter values, cast to the parameters' types
    (`pipec.params`), as the parameters' defaults."""
    known = {p.name for p in pipeline.parameters}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(
            f"pipeline {pipeline.name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(sorted(known)) or 'none'}"
        )
    params = []
    for p in pipeline.parameters:
        if p.name in values:
            value = cast(p, values[p.name])
            p = p.model_copy(update={"default": literal(value), "required": False})
        elif p.required:
            raise UsageError(f"pipeline {pipeline.name!r} needs a value for parameter {p.name!r}")
        params.append(p)
    return pipeline.model_copy(update={"parameters": params})


def begin(
    store: Store,
    pipeline: Pipeline,
    run_id: str,
    target: str,
    params: dict[str, Any],
    *,
    resumed_from: str | None = None,
) -> tuple[StoredRun, RunRecord]:
    """Write the run's IR (with this run's parameter values) and its first record."""
    pipeline = with_parameters(pipeline, params)
    state = StoredRun(store, pipeline, run_id)
    record = RunRecord(
        run_id=run_id,
        pipeline=pipeline.name,
        target=target,
        started=time.time(),
        resumed_from=resumed_from,
        parameters={
            p.name: jsonable(resolve(state.parameter(p.name), state)) for p in pipeline.parameters
        },
    )
    _before_start(state, record)
    store.write_model(state.files.ir, pipeline)
    store.write_model(state.files.head, pipeline.model_copy(update={"steps": []}))
    state.write_record(record)
    _announce(state, record, "started")
    return state, record


def _announce(run: StoredRun, record: RunRecord, event: str) -> None:
    """Tell the observers; what they could not do goes into the record, written again."""
    notes = events.run_event(run.store.url, record, event)
    if notes:
        record.observer_notes.extend(notes)
        run.write_record(record)


BEFORE_START = "controller_reports", "controller_artifacts"
"""Pipeline options holding what `PipelineController.get_logger()` and `upload_artifact()`
were given before the pipeline started: the run record starts with them, on any target."""


def _before_start(run: StoredRun, record: RunRecord) -> None:
    options = run.pipeline.policies.options
    record.metrics.extend(Report.model_validate(r) for r in options.get(BEFORE_START[0]) or [])
    for name, value in (options.get(BEFORE_START[1]) or {}).items():  # type: ignore[union-attr]
        obj = literal_value(TypeAdapter(Value).validate_python(value))
        record.artifacts[name] = run.upload(None, "artifacts", name, obj)


def end_attempt(run: StoredRun, step: str, number: int, status: str, error: str) -> StepRecord:
    """Record an attempt the step itself could not record (killed, timed out).

    Whatever that attempt stored is in no record and may be half written: it goes."""
    record = run.step_record(step)
    run.drop_values(step, ("outputs", "artifacts", "models"))
    record.outputs, record.artifacts, record.models = {}, {}, {}
    now = time.time()
    started = record.started or now
    record.attempts.append(
        Attempt(number=number, status=status, started=started, ended=now, error=error)  # type: ignore[arg-type]
    )
    record.status, record.error = status, f"step {step!r}: {error}"  # type: ignore[assignment]
    run.write_step(record)
    return record


def callback_failed(run: StoredRun, step: str, exc: Exception) -> StepRecord:
    """A step whose callback raised: it fails, and the run goes on as for any failure."""
    return end_attempt(run, step, 1, "failed", f"a callback raised {type(exc).__name__}: {exc}")


KILLED = "the step process was killed by"
"""How an attempt whose process a signal ended is recorded (then the signal's name)."""


def ended_process(
    run: StoredRun, step: str, number: int, returncode: int, *, stopped: bool = False
) -> StepRecord:
    """The record of an attempt whose process has ended: the one it wrote, or one that
    says how it died (killed by a signal: aborted when the run was `stopped`, else failed;
    gone before writing its record: failed)."""
    if returncode < 0:
        status = "aborted" if stopped else "failed"
        error = f"{KILLED} {signal.Signals(-returncode).name}"
        return end_attempt(run, step, number, status, error)
    record = run.step_record(step)
    if record.status == "running":  # died before it could write its record
        error = f"the step process exited with {returncode}"
        return end_attempt(run, step, number, "failed", error)
    return record


def abort_step(run: StoredRun, step: str, reason: str) -> StepRecord | None:
    """The step's record once its run was ended from outside (an engine's cancel, a
    crash): an attempt still in flight, or one whose process the same kill ended
    (recorded failed: its watch could not tell that kill from a crash), is `aborted`;
    None when it ended otherwise, or never began."""
    try:
        record = run.step_record(step)
    except LookupError:
        return None
    if record.status == "running":
        return end_attempt(run, step, len(record.attempts) + 1, "aborted", reason)
    last = record.attempts[-1] if record.attempts else None
    if record.status != "failed" or last is None or not (last.error or "").startswith(KILLED):
        return None
    last.status, last.error = "aborted", f"{reason} ({last.error})"
    record.status, record.error = "aborted", f"step {step!r}: {reason}"
    run.write_step(record)
    return record


def first_failure(failed: list[StepRecord]) -> StepRecord:
    """The failure that matters: the one that ended first. What fails after it (a step
    `abort_on_failure` stopped, one that read what it left) is a consequence."""
    return min(failed, key=lambda s: s.ended or (s.attempts[-1].ended if s.attempts else 0))


def conclude(
    run: StoredRun,
    record: RunRecord,
    steps: list[tuple[Node, StepRecord]],
    *,
    error: str | None = None,
    stopped: str | None = None,
) -> RunRecord:
    """Write the final run record: its status from the steps' outcomes (or the logic's
    `error`, or a `stop()`), and the pipeline-level view of what `monitor_*` forwarded."""
    failed = [step for node, step in steps if is_fatal(node, step)]
    if error is not None:
        record.status, record.error = "failed", error
    elif stopped is not None:
        record.status, record.error = "aborted", stopped
    elif failed:
        first = first_failure(failed)
        record.status, record.failed_step = "failed", first.name
        record.error = first.error or f"step {first.name!r} {first.status}"
    else:
        record.status = "completed"
    for _, step in steps:
        record.metrics.extend(step.monitored.metrics)
        record.artifacts.update(step.monitored.artifacts)
        record.models.update(step.monitored.models)
    record.ended = time.time()
    run.write_record(record)
    _announce(run, record, record.status)
    return record


def summary(run: StoredRun, record: RunRecord, steps: list[StepRecord]) -> dict[str, Any]:
    """The `--json` view of a run."""
    out: dict[str, Any] = {
        "run_id": record.run_id,
        "pipeline": record.pipeline,
        "target": record.target,
        "status": record.status,
        "storage": run.store.shown,
        "steps": {
            step.name: {
                "status": step.status,
                "attempts": len(step.attempts),
                "duration": step.duration,
                "cache_hit": step.cache_hit,
                "outputs": {k: v.uri for k, v in step.outputs.items()},
                "error": step.error,
            }
            for step in steps
        },
    }
    if record.error:
        out["error"] = record.error
    if record.observer_notes:
        out["observer_notes"] = record.observer_notes
    if record.return_value is not None:
        value = jsonable(run.load(record.return_value))
        if value is not None:
            out["return_value"] = value
    return out
