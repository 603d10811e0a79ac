"""Running a pipeline on this machine: the scheduler behind the `debug` and `local` targets.

A `PipelineRun` owns one run: it writes the run's IR and record to the store,
starts each step once its parents have finished, skips children the way
ClearML's `continue_behaviour` says, stops everything on `abort_on_failure`,
and writes the final run record. How an attempt runs is the executor's
business: in this process (`debug`) or in a subprocess (`local`). Steps can be
added while the run is going, which is how decorator pipelines run their real
controller logic.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import os
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from pipec.contract import RunOptions
from pipec.errors import StepFailedError, UsageError
from pipec.ir import Pipeline, Step
from pipec.naming import unique_name
from pipec.records import SUCCEEDED, RunRecord, StepRecord, StoredValue
from pipec.runtime import attempt as attempts
from pipec.runtime import runstore
from pipec.runtime.console import ConsoleLog, capturing
from pipec.runtime.console import limit as console_limit
from pipec.runtime.node import Node, is_fatal, skip_reason
from pipec.runtime.progress import Progress
from pipec.runtime.runstore import StepCall
from pipec.runtime.step import AttemptFn, Lifecycle
from pipec.runtime.view import ControllerView
from pipec.runtime.watch import watch
from pipec.store import Store


class Executor(Protocol):
    """How a run's attempts execute: `serial` runs steps one at a time in the caller."""

    serial: bool

    def attempt(self, run: PipelineRun, step: Step) -> AttemptFn: ...


class InProcess:
    """`debug`: each attempt is a call in this process, one step at a time."""

    serial = True

    def attempt(self, run: PipelineRun, step: Step) -> AttemptFn:
        def attempt(number: int, time_limit: float | None) -> StepRecord:
            call = run.call(step.name)
            log = ConsoleLog(run.state, step.name, number)
            stopped = threading.Event()

            def body() -> StepRecord:
                here = threading.current_thread() is threading.main_thread()
                try:
                    with capturing(log):
                        _SIGNALS.step_here = here  # a signal now aborts this attempt
                        return attempts.execute(
                            call, number, cancelled=stopped.is_set, run=run.state
                        )
                finally:
                    if here:
                        _SIGNALS.step_here = False
                    log.close()

            if time_limit is None:
                return log.stamp(run.state, body())
            result: list[StepRecord] = []
            worker = threading.Thread(target=lambda: result.append(body()), daemon=True)
            worker.start()
            worker.join(time_limit)
            if result:
                return log.stamp(run.state, result[0])
            stopped.set()  # the body cannot be interrupted in-process; its results are dropped
            ended = run.attempt_ended(
                step.name, number, "aborted", f"time_limit {time_limit}s exceeded"
            )
            return log.stamp(run.state, ended)

        return attempt


class Subprocesses:
    """`local`: each attempt runs in a step process on this machine, watched
    (`pipec.runtime.watch`), independent steps in parallel."""

    serial = False

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo

    def attempt(self, run: PipelineRun, step: Step) -> AttemptFn:
        def attempt(number: int, time_limit: float | None) -> StepRecord:
            return watch(
                run.state,
                run.call(step.name),
                number,
                echo=lambda line: self.echo(f"[{step.name}] {line}"),
                time_limit=time_limit,
                stopped=lambda: run.stopping,
            )

        return attempt


class _Signals:
    """What `ending_on_signals` keeps: the runs of this process, the signal that arrived,
    and whether the main thread (where a handler runs) is inside a `debug` step."""

    def __init__(self) -> None:
        self.runs: weakref.WeakSet[PipelineRun] = weakref.WeakSet()
        self.received: int | None = None
        self.step_here = False

    def handle(self, signum: int, _frame: object) -> None:
        # no lock and no store write here: the main thread may hold either; each run
        # only learns it is stopping, and its watchers and `finish` do the rest
        self.received = signum
        reason = f"the run was interrupted by {signal.Signals(signum).name}"
        for run in list(self.runs):
            run.interrupt(reason)
        if self.step_here:
            self.step_here = False
            raise attempts.Interrupted(reason)


_SIGNALS = _Signals()


@contextlib.contextmanager
def ending_on_signals() -> Iterator[Callable[[], int | None]]:
    """While in it, SIGINT (Ctrl-C) and SIGTERM stop this process's runs instead of
    killing it mid-write: running steps are killed and recorded `aborted`, steps not
    started are skipped, and the run is recorded `aborted`. Yields what tells which
    signal arrived (None: none), for the caller's exit code."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None  # handlers can only be set there
        return
    caught = (signal.SIGINT, signal.SIGTERM)
    saved = {number: signal.getsignal(number) for number in caught}
    _SIGNALS.received = None
    for number in caught:
        signal.signal(number, _SIGNALS.handle)
    try:
        yield lambda: _SIGNALS.received
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


class PipelineRun(ControllerView):
    """One run of a pipeline on this machine."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: RunOptions,
        executor: Executor,
        controller: Any = None,
        *,
        run_id: str | None = None,
        project_dir: str | None = None,
    ) -> None:
        self.options = options
        self.store = Store.resolve(options.storage)
        self.store.check()
        if not executor.serial and not self.store.shared_between_processes:
            raise UsageError(
                f"storage {self.store.url} lives inside one process, but target "
                f"{options.target!r} runs steps in subprocesses: use a folder or an object "
                "store, or the debug target"
            )
        console_limit()  # a wrong console setting is an error before anything runs
        self.run_id = run_id or runstore.new_run_id()
        resumes = (
            {}
            if options.resume_from is None
            else runstore.succeeded_steps(self.store, pipeline.name, options.resume_from)
        )
        self.state, self.record = runstore.begin(
            self.store,
            pipeline,
            self.run_id,
            options.target,
            options.params,
            resumed_from=options.resume_from,
        )
        self.pipeline = self.state.pipeline
        self.files = self.state.files
        self.executor = executor
        # once: a debug step may still be running elsewhere
        self.project_dir = project_dir or os.getcwd()
        self.lifecycle = Lifecycle(
            run=self.state,
            controller=controller if controller is not None else self,
            target=options.target,
            refresh=options.refresh,
            resumes=resumes,
        )
        self.nodes: dict[str, Node] = {}
        self.steps: dict[str, Step] = {}
        self.records: dict[str, StepRecord] = {}
        self.stopping = False
        self.stop_reason = "the pipeline was stopped"
        limit = self.pipeline.policies.options.get("pipeline_execution_time_limit")
        self._time_limit = (
            threading.Timer(float(limit), self._out_of_time, args=(float(limit),))
            if limit
            else None
        )
        self.error: str | None = None
        self._cond = threading.Condition()
        self._record_lock = threading.Lock()
        # what is added and not started yet: each step's count of unfinished parents, its
        # waiting children, and the steps whose parents all finished, by when they were
        # added, so the scheduler starts them in the order they were added
        self._unfinished: dict[str, int] = {}
        self._children: dict[str, list[str]] = {}
        self._ready: list[tuple[int, str]] = []
        self._order: dict[str, int] = {}
        self._pool = (
            None
            if executor.serial
            else ThreadPoolExecutor(max_workers=options.max_workers or os.cpu_count() or 2)
        )
        self.progress = Progress(self.pipeline.name, self.run_id, quiet=options.quiet)
        self.progress.start()
        _SIGNALS.runs.add(self)
        self._heartbeat = runstore.Heartbeat(self.state)
        if self._time_limit is not None:
            self._time_limit.daemon = True
            self._time_limit.start()

    # ------------------------------------------------------------- plumbing

    @property
    def id(self) -> str:
        return self.run_id

    def call(self, step: str) -> StepCall:
        return self.state.call(step, self.project_dir)

    def attempt_ended(self, step: str, number: int, status: str, error: str) -> StepRecord:
        """Record an attempt the step itself could not record (killed, timed out)."""
        return runstore.end_attempt(self.state, step, number, status, error)

    def _write_record(self) -> None:
        # its own lock, not the scheduler's: steps finish while the record is written
        with self._record_lock:
            self.record.steps = list(self.steps)
            self.state.write_record(self.record)

    # ------------------------------------------------------------- steps

    def add(self, step: Step) -> Node:
        """Add a step; it starts as soon as its parents have finished."""
        with self._cond:
            self._check_new(step)
        self.state.write_spec(step)  # unlocked: the steps running finish meanwhile
        node = Node.of(step)
        with self._cond:
            self._check_new(step)
            self.steps[step.name] = step
            self.nodes[step.name] = node
            self._order[step.name] = len(self._order)
            unfinished = [p for p in step.parents if p not in self.records]
            self._unfinished[step.name] = len(unfinished)
            for parent in unfinished:
                self._children.setdefault(parent, []).append(step.name)
            if not unfinished:
                heapq.heappush(self._ready, (self._order[step.name], step.name))
            self.progress.add(step.name)
        self._write_record()
        self._schedule()
        return node

    def _check_new(self, step: Step) -> None:
        if step.name in self.steps:
            raise UsageError(f"step {step.name!r} was added twice")
        missing = [p for p in step.parents if p not in self.steps]
        if missing:
            raise UsageError(f"step {step.name!r} depends on unknown steps {missing}")

    def unique_name(self, base: str) -> str:
        """ClearML's naming of a component's step (`pipec.naming`)."""
        return unique_name(base, self.steps)

    def _blocked_by(self, node: Node) -> str | None:
        """Why a ready step must be skipped instead of run, if it must."""
        if self.stopping:
            return "the pipeline was stopped"
        return skip_reason([(self.nodes[p], self.records[p]) for p in node.parents])

    def _schedule(self) -> None:
        """Start every step whose parents are done (inline when serial)."""
        while True:
            with self._cond:
                if not self._ready:
                    return
                _, name = heapq.heappop(self._ready)
                del self._unfinished[name]
                reason = self._blocked_by(self.nodes[name])
            if reason is not None:
                self._done(name, self.lifecycle.skip(self.nodes[name], self.steps[name], reason))
            elif self._pool is None:
                self._run(name)
            else:  # in this context: an engine's run context reaches the attempts
                self._pool.submit(contextvars.copy_context().run, self._run, name)

    def _run(self, name: str) -> None:
        step, node = self.steps[name], self.nodes[name]
        self.progress.running(name)
        try:
            record = self.lifecycle.run_node(node, step, self.executor.attempt(self, step))
        except Exception as exc:  # a callback raised
            record = runstore.callback_failed(self.state, name, exc)
            node.status = "failed"
        self._done(name, record)
        if self._pool is not None:
            self._schedule()

    def _done(self, name: str, record: StepRecord) -> None:
        node = self.nodes[name]
        self.progress.finished(record)
        with self._cond:
            self.records[name] = record
            for child in self._children.pop(name, []):
                self._unfinished[child] -= 1
                if not self._unfinished[child]:
                    heapq.heappush(self._ready, (self._order[child], child))
            self._cond.notify_all()
        if is_fatal(node, record) and self.pipeline.policies.abort_on_failure and not self.stopping:
            self.stop(status="failed")

    def wait_step(self, name: str) -> StepRecord:
        with self._cond:
            self._cond.wait_for(lambda: name in self.records)
            return self.records[name]

    def value(self, step: str, output: str) -> Any:
        """A step output's value, for the pipeline logic (blocks until the step is done)."""
        record = self.wait_step(step)
        node = self.nodes[step]
        if record.status in SUCCEEDED:
            return self.state.load(record.outputs[output])
        if (record.status == "failed" and node.continue_on_fail) or (
            record.status == "aborted" and node.continue_on_abort
        ):
            return None
        if record.status == "skipped":
            return None
        raise StepFailedError(record.error or f"step {step!r} {record.status}")

    # ------------------------------------------------------------- the run

    def wait(self, timeout: float | None = None) -> bool:
        """Until every added step has finished; False on timeout."""
        with self._cond:
            # a record is only ever of an added step
            return self._cond.wait_for(
                lambda: len(self.records) == len(self.nodes), timeout=timeout
            )

    def _out_of_time(self, limit: float) -> None:
        """`set_pipeline_execution_time_limit`: the run is stopped, as ClearML aborts it."""
        self.stop_reason = f"the pipeline's execution time limit ({limit / 60:g} min) was exceeded"
        self.stop()

    def stop(self, status: str = "aborted") -> None:
        """ClearML's `stop()`: abort running steps and skip those not started."""
        self.stopping = True
        self.record.status = status  # type: ignore[assignment]
        self._write_record()  # what engine-run steps watch; local attempts watch `stopping`

    def interrupt(self, reason: str) -> None:
        """A signal stops the run: as `stop()`, with the record written at `finish`."""
        self.stop_reason = reason
        self.stopping = True
        self.record.status = "aborted"

    def is_successful(self) -> bool:
        return self.record.status == "completed"

    def failed_steps(self) -> list[str]:
        return [name for name, record in self.records.items() if is_fatal(self.nodes[name], record)]

    def finish(self, return_value: Any = None, error: str | None = None) -> RunRecord:
        """Wait for the steps, then write the final run record (status, monitored, result)."""
        self.wait()
        _SIGNALS.runs.discard(self)
        self._heartbeat.stop()
        if self._time_limit is not None:
            self._time_limit.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if return_value is not None:
            self.record.return_value = self.state.put(None, "outputs", "return_value", return_value)
        self.record.steps = list(self.steps)
        runstore.conclude(
            self.state,
            self.record,
            [(self.nodes[name], self.records[name]) for name in self.steps],
            error=error,
            stopped=self.stop_reason if self.stopping and self.record.status == "aborted" else None,
        )
        self.progress.stop(self.record, self.records)
        return self.record

    # ------------------------------------------------------------- the controller's own reports

    def upload_artifact(self, name: str, obj: Any) -> StoredValue:
        stored = self.state.upload(None, "artifacts", name, obj)
        self.record.artifacts[name] = stored
        return stored

    # ------------------------------------------------------------- ClearML controller view

    def get_pipeline_dag(self) -> dict[str, Node]:
        return dict(self.nodes)

    def summary(self) -> dict[str, Any]:
        """The `--json` view of the run."""
        steps = [self.records.get(name) or self.state.step_record(name) for name in self.steps]
        return runstore.summary(self.state, self.record, steps)
