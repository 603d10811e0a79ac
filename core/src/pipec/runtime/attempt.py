"""One attempt of one step, the same in every engine task.

`execute` loads the step's inputs from the store, runs its code in a scratch
directory, stores its outputs atomically, records what happened, selects what
`monitor_*` forwards, and only then writes the cache entry. It is the body of a
local subprocess, of an Airflow task and of a Prefect task alike:

    python -m pipec.runtime.attempt '<StepCall JSON>' ATTEMPT

Retries, callbacks and skipping live one level up, in `pipec.runtime.step`.
"""

from __future__ import annotations
import __future__

import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from pipec import cache
from pipec.errors import describe_error, user_exception, user_traceback
from pipec.ir import Pipeline, SourceLocation, Step
from pipec.records import (
    Attempt,
    CacheEntry,
    Monitored,
    StepRecord,
    StoredValue,
    clear_results,
    jsonable,
    results,
)
from pipec.runtime.context import StepContext, StepEnded, enter_step, leave_step
from pipec.runtime.runstore import StepCall, StoredRun, open_run
from pipec.runtime.values import InputError, resolve, step_inputs
from pipec.source import bound_names
from pipec.store import slug


class StepAborted(Exception):
    """The attempt was stopped from outside (time limit, pipeline stop)."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached pipec while this attempt ran in its process (`debug`): the
    attempt is aborted. A BaseException, as KeyboardInterrupt is, so that a step's
    `except Exception` does not swallow it; a KeyboardInterrupt the step raises itself,
    with no signal, is a failure at its line like any other exception."""


ISOLATE = "PIPEC_ISOLATE_STEPS"
"""Set to 1, each attempt runs in a scratch directory of its own (kept when it fails),
for steps that would collide writing the same relative file when they run at once."""


def working_dir(step: Step, pipeline: Pipeline, project_dir: str) -> str:
    """Where a step runs, as in ClearML: the step's, else the pipeline's `working_dir`
    (relative to the project directory), else the project directory itself (the directory
    the pipeline was launched from), so `open("data/train.csv")` reads the repository's."""
    chosen = step.policies.working_dir or pipeline.policies.options.get("working_dir")
    return os.path.normpath(os.path.join(project_dir, str(chosen))) if chosen else project_dir


@contextlib.contextmanager
def _in_workdir(step: str, where: str, paths: list[str]) -> Iterator[str | None]:
    """The attempt in its working directory (`where`, or a scratch directory under
    `ISOLATE`: given as the context's value), with the user's directories importable, as
    ClearML's `enable_local_imports` does."""
    scratch = (
        tempfile.mkdtemp(prefix=f"pipec-{slug(step)}-") if os.environ.get(ISOLATE) == "1" else None
    )
    old_cwd, old_path = os.getcwd(), list(sys.path)
    os.chdir(scratch or where)
    sys.path[:0] = [p for p in paths if p not in sys.path]
    try:
        yield scratch
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def _compile(source: str, filename: str, first_line: int) -> Any:
    """Compiled so tracebacks and debuggers show the user's file and line numbers;
    annotations are never evaluated (the step may not import what they name)."""
    padded = "\n" * max(first_line - 1, 0) + source
    return compile(
        padded, filename, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True
    )


def _abspath(path: str | None, project_dir: str) -> str:
    if not path:
        return "<step>"
    return path if os.path.isabs(path) else os.path.join(project_dir, path)


class _FailedImport:
    """What a name of a module-level import that failed in the step process stands for:
    as in ClearML, the step fails only if it uses the name, with that import's error."""

    def __init__(self, statement: str, error: Exception) -> None:
        self._statement, self._error = statement, error

    def _fail(self) -> Any:
        raise ImportError(f"{self._statement!r} failed in the step process: {self._error}")

    def __getattr__(self, name: str) -> Any:
        return self._fail()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail()


def import_globals(statements: list[str], namespace: dict[str, Any]) -> None:
    """Module-level imports shipped with step code or pipeline logic, each one guarded."""
    for statement in statements:
        try:
            exec(compile(statement, "<module imports>", "exec"), namespace)
        except Exception as exc:
            for name in bound_names(statement):
                namespace[name] = _FailedImport(statement, exc)


def _function(step: Step, project_dir: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__name__": f"pipec_step_{slug(step.name)}"}
    import_globals(step.code.imports, namespace)
    for helper in step.code.helpers:
        where = helper.location
        code = _compile(
            helper.source,
            _abspath(where.file if where else None, project_dir),
            where.line if where else 1,
        )
        exec(code, namespace)
    first = step.definition.line if step.definition else 1
    exec(_compile(step.code.source, _abspath(step.code.path, project_dir), first), namespace)
    return namespace[step.code.entrypoint]


def _run_script(step: Step, project_dir: str) -> None:
    path = _abspath(step.code.path, project_dir)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path}
    saved = list(sys.argv)
    sys.argv[:] = [path]
    try:
        exec(_compile(step.code.source, path, 1), namespace)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise RuntimeError(f"the task script exited with status {exc.code}") from None
    finally:
        sys.argv[:] = saved


def _importable(step: Step) -> Callable[..., Any]:
    module, _, qualname = step.code.entrypoint.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _outputs(step: Step, result: Any) -> dict[str, Any]:
    names = step.outputs
    if not names:
        return {}
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else "one value"
        raise ValueError(
            f"step {step.name!r} returned {got}, but its return_values name {len(names)} "
            f"({', '.join(names)})"
        )
    return dict(zip(names, result, strict=True))


def monitored(step: Step, record: StepRecord) -> Monitored:
    """The step's reports, artifacts and models that `monitor_*` forwards, renamed."""
    policies = step.policies
    metrics = [
        report.model_copy(update={"title": sel.target_title, "series": sel.target_series})
        for sel in policies.monitor_metrics
        for report in record.reports
        if report.kind == "scalar" and (report.title, report.series) == (sel.title, sel.series)
    ]
    artifacts = {
        pair.target: record.artifacts[pair.source]
        for pair in policies.monitor_artifacts
        if pair.source in record.artifacts
    }
    models = {
        pair.target: record.models[pair.source]
        for pair in policies.monitor_models
        if pair.source in record.models
    }
    sent = record.for_pipeline
    return Monitored(
        metrics=[*metrics, *sent.metrics],
        artifacts={**artifacts, **sent.artifacts},
        models={**models, **sent.models},
    )


def _store_outputs(run: StoredRun, step: Step, values: dict[str, Any]) -> dict[str, StoredValue]:
    stored = {}
    for name, value in values.items():
        try:
            stored[name] = run.put(step.name, "outputs", name, value)
        except Exception as exc:
            raise TypeError(
                f"step {step.name!r}: cannot store its return value {name!r} "
                f"({type(value).__name__}): {exc}"
            ) from exc
    return stored


def end_left_processes() -> list[int]:
    """Kill what the step started and left running, once its function has returned: a
    child holds the step's output open, so the run would wait for it (forever, for a
    daemon). Only where the step process leads a process group of its own (a fork
    server's step process), whose other members are then the step's; found in `/proc`
    (Linux). The pids killed."""
    me = os.getpid()
    if os.getpgrp() != me or not os.path.isdir("/proc"):
        return []
    killed = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(int(name)) == me:
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
    for pid in killed:  # reap the step's own children: no zombie stays behind
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return sorted(killed)


def execute(
    call: StepCall,
    attempt: int,
    *,
    cancelled: Callable[[], bool] = lambda: False,
    run: StoredRun | None = None,
) -> StepRecord:
    """Run one attempt of a step whose record the lifecycle has set to `running`. `run` is
    the call's run when the caller has it open already (an attempt in the scheduler's own
    process, `debug`): a step process opens it from the store."""
    run = run or open_run(call.store, call.pipeline, call.run_id, steps=False)
    step = run.step(call.step)
    record = run.step_record(call.step)
    clear_results(record)
    record.monitored, record.for_pipeline = Monitored(), Monitored()
    started = time.time()
    error: str | None = None
    status = "completed"
    workdir: str | None = None
    shown: str | None = None
    where_raised: SourceLocation | None = None
    left: list[int] = []
    pipeline_dir = os.path.dirname(_abspath(run.pipeline.source.file, call.project_dir))
    where = working_dir(step, run.pipeline, call.project_dir)
    script_dir = os.path.dirname(_abspath(step.code.path, call.project_dir))
    try:
        kwargs = step_inputs(step, run, resolve)
        record.parameters = {name: jsonable(value) for name, value in kwargs.items()}
        ctx = StepContext(run=run, step=step, record=record)
        token = enter_step(ctx)
        try:
            paths = [script_dir, pipeline_dir, call.project_dir]
            with _in_workdir(step.name, where, paths) as workdir:
                if step.code.kind == "script":
                    ctx.overrides = kwargs
                    _run_script(step, call.project_dir)
                    result = None
                elif step.code.kind == "importable":
                    result = _importable(step)(**kwargs)
                else:
                    result = _function(step, call.project_dir)(**kwargs)
                values = _outputs(step, result)
                stored = _store_outputs(run, step, values)
        finally:
            leave_step(token)
            left = end_left_processes()
        if cancelled():
            raise StepAborted(f"step {step.name!r} was stopped")
        record.outputs = stored
        record.monitored = monitored(step, record)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    except (StepAborted, Interrupted) as exc:
        status, error = "aborted", str(exc)
    except StepEnded as ended:  # Task.mark_completed() / mark_failed(): the code ends there
        status, error = ended.status, ended.describe(f"in step {step.name!r}")
        if status == "completed":
            record.monitored = monitored(step, record)
    except InputError as exc:
        status, error = "failed", str(exc)
    # sys.exit() or KeyboardInterrupt raised in a step fails it at that line
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        status, error = "failed", describe_error(exc, f"in step {step.name!r}")
        shown = user_traceback(exc)
        where_raised = user_exception(exc, "").location
        sys.stderr.write(shown)  # as Python shows an uncaught exception: in the console
        sys.stderr.flush()
        record.workdir = workdir
    if status != "completed":  # outputs this attempt stored are in no record: drop them
        run.drop_values(step.name, ("outputs",))
    record.attempts.append(
        Attempt(
            number=attempt,
            status=status,
            started=started,
            ended=time.time(),
            error=error,
            traceback=shown,
            location=None if where_raised is None else str(where_raised),
            note=None
            if not left
            else f"ended {len(left)} process(es) the step started and left running: "
            + ", ".join(map(str, left)),
        )
    )
    record.status, record.error = status, error  # type: ignore[assignment]
    run.write_step(record)
    if status == "completed" and step.policies.cache and record.cache_key:
        cache.record(
            run.store,
            CacheEntry(
                key=record.cache_key,
                pipeline=run.pipeline.name,
                step=step.name,
                step_id=record.id,
                created=time.time(),
                **results(record),
            ),
        )
    return record


def main(argv: list[str] | None = None) -> int:
    """Subprocess entry: the exit status says whether the attempt completed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m pipec.runtime.attempt STEP_CALL_JSON ATTEMPT", file=sys.stderr)
        return 2
    record = execute(StepCall.model_validate_json(args[0]), int(args[1]))
    return 0 if record.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
