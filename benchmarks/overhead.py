"""Per-step overhead of the `debug` and `local` targets against calling the functions directly.

    python benchmarks/overhead.py [--sizes 10 100] [--work-ms 20] [--rounds 3] [--attempts 40]

Each pipeline is N steps of the same small function (about `--work-ms` of pure Python
work; 0 makes them trivial) in two shapes, a chain (each step takes the previous result)
and a fan-out (N independent steps), each written as a `PipelineController` and as a
decorator pipeline. The baseline is the same function called directly in this process.
In each of `--rounds` rounds the direct calls and every style on every target run in
turn (`alternate.py`). Printed, as the median over rounds with min and max: the ratio to
the direct calls of the same round, the overhead per step ((run time - direct time) /
N), and for a decorator pipeline its time over the controller's on the same target.

Then the cost of one attempt in each implementation of step processes
(`pipec.runtime.processes`): a trivial step's attempt started and waited for, its
output read, `--attempts` times after a warm-up, the implementations taking turns.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from alternate import alternate, machine_load, pairwise, ratios
from pipec.adapter import EngineRun
from pipec.capture.session import capture_file, load_pipeline
from pipec.contract import Logic, RunOptions
from pipec.plugins import get_target
from pipec.records import StepRecord
from pipec.runtime.processes import IMPLEMENTATIONS
from pipec.runtime.runstore import StepCall
from pipec.store import Store

STEP = """
def work(x: int, loops: int) -> int:
    total = 0
    for i in range(loops):
        total += (i * x) % 7
    return x + 1
"""


def pipeline_file(folder: Path, shape: str, n: int, loops: int) -> Path:
    """A controller pipeline of n `work` steps, chained or fanned out."""
    lines = [
        "from pipec import PipelineController",
        STEP,
        f"pipe = PipelineController(name='bench-{shape}-{n}', project='bench')",
    ]
    for i in range(n):
        parent = repr(f"${{s{i - 1}.result}}") if shape == "chain" and i else "1"
        lines.append(
            f"pipe.add_function_step(name='s{i}', function=work, function_return=['result'], "
            f"function_kwargs={{'x': {parent}, 'loops': {loops}}})"
        )
    path = folder / f"bench_{shape}_{n}.py"
    path.write_text(textwrap.dedent("\n".join(lines)) + "\n")
    return path


def decorator_file(folder: Path, shape: str, n: int, loops: int) -> Path:
    """The same pipeline as `pipeline_file`'s, as a decorator pipeline."""
    if shape == "chain":
        body = ["    x = 1", f"    for _ in range({n}):", f"        x = work(x, {loops})"]
    else:
        body = [f"    for _ in range({n}):", f"        work(1, {loops})"]
    lines = [
        "from pipec import PipelineDecorator",
        "",
        "",
        '@PipelineDecorator.component(return_values=["result"])',
        STEP.strip(),
        "",
        "",
        f"@PipelineDecorator.pipeline(name='bench-decorator-{shape}-{n}', project='bench')",
        "def pipeline():",
        *body,
    ]
    path = folder / f"bench_decorator_{shape}_{n}.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def direct(shape: str, n: int, loops: int) -> float:
    namespace: dict[str, object] = {}
    exec(STEP, namespace)
    work = namespace["work"]
    start = time.perf_counter()
    x = 1
    for _ in range(n):
        x = work(x if shape == "chain" else 1, loops)  # type: ignore[operator]
    return time.perf_counter() - start


def through(target: str, path: Path, store: str) -> Callable[[], float]:
    """A run of the file's pipeline on `target` (with its logic, for a decorator
    pipeline), timed from its start to its end."""
    session = capture_file(str(path))
    (name,) = session.names()
    pipeline = session.get(name)
    assert pipeline is not None
    logic = Logic(function=session.logic[name]) if name in session.logic else Logic()
    options = RunOptions(target=target, storage=store, quiet=True)

    def run() -> float:
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            result = get_target(target).run(pipeline, options, logic)
        took = time.perf_counter() - start
        if not result.succeeded:
            sys.exit(f"{path.name} on {target} did not succeed: {result.record.error}")
        return took

    return run


def calibrate(work_ms: float) -> int:
    """Loop count that takes about `work_ms` here."""
    namespace: dict[str, object] = {}
    exec(STEP, namespace)
    loops = 10_000
    start = time.perf_counter()
    namespace["work"](1, loops)  # type: ignore[operator]
    per_loop = (time.perf_counter() - start) / loops
    return max(1, int(work_ms / 1000 / per_loop))


def step_overheads(
    folder: Path, shape: str, n: int, loops: int, targets: list[str], rounds: int
) -> None:
    """The table's rows for `shape` at size `n`: each target, each style."""
    files = {
        "controller": pipeline_file(folder, shape, n, loops),
        "decorator": decorator_file(folder, shape, n, loops),
    }
    sides: dict[str, Callable[[], float]] = {"direct": lambda: direct(shape, n, loops)}
    for target in targets:
        for style, path in files.items():
            sides[f"{target} {style}"] = through(target, path, str(folder / f"store-{target}"))
    took = alternate(sides, rounds)
    base = took["direct"]
    for target in targets:
        for style in files:
            times = took[f"{target} {style}"]
            overhead = pairwise(times, base, lambda t, b: (t - b) / n * 1000)
            versus = ratios(times, took[f"{target} controller"]).show()
            versus = versus if style == "decorator" else ""
            # against trivial direct calls (microseconds) a ratio says nothing
            ratio = ratios(times, base).show() if statistics.median(base) > 1e-3 else "-"
            print(f"{shape:<8}{n:>5}  {target:<7}{style:<12}{statistics.median(base):>9.3f}"
                  f"{statistics.median(times):>9.3f}{ratio:>20}"
                  f"{overhead.show(1):>20}{versus:>18}")  # fmt: skip


def attempt_call(folder: Path, how: str) -> StepCall:
    """The call of a one-step run's step (`work` with one loop), set running for its
    attempts, in a run of its own for `how`'s attempts."""
    pipeline = load_pipeline(str(pipeline_file(folder, "attempt", 1, 1)))
    store = Store.resolve(str(folder / "store-processes"))
    run = EngineRun.begin(store, pipeline, f"attempts-{how}", "local", {})
    step = run.pipeline.steps[0].name
    run.state.write_step(StepRecord(name=step, id=run.state.files.step_id(step), status="running"))
    return run.call(step, str(folder))


def attempt_took(how: str, call: StepCall, number: int) -> float:
    """Seconds from starting attempt `number` (what `spawn` starts for `how`) to having
    read its output and its exit status."""
    start = time.perf_counter()
    proc = IMPLEMENTATIONS[how](call, number)
    assert proc.stdout is not None
    output = proc.stdout.read()
    code = proc.wait()
    took = time.perf_counter() - start
    if code != 0:
        sys.exit(f"attempt {number} through {how} exited with {code}:\n{output}")
    return took


def attempt_costs(folder: Path, attempts: int) -> None:
    """Median and 90th percentile of an attempt's cost in each implementation."""
    calls = {how: attempt_call(folder, how) for how in IMPLEMENTATIONS}
    for how, call in calls.items():  # the warm-up (a fork server starts)
        attempt_took(how, call, 1)
    took: dict[str, list[float]] = {how: [] for how in IMPLEMENTATIONS}
    for number in range(2, attempts + 2):
        for how, call in calls.items():
            took[how].append(attempt_took(how, call, number))
    print(f"one-step run, {attempts} attempts each after a warm-up, taking turns")
    print(f"{'processes':<12}{'median ms':>10}{'p90 ms':>10}")
    for how, times in took.items():
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{how:<12}{statistics.median(times) * 1000:>10.1f}{p90 * 1000:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--work-ms", type=float, default=20.0, help="0: trivial steps")
    parser.add_argument("--targets", nargs="+", default=["debug", "local"])
    parser.add_argument("--rounds", type=int, default=3, help="of every run, taking turns")
    parser.add_argument("--attempts", type=int, default=40, help="per implementation, at least 2")
    args = parser.parse_args()
    if args.attempts < 2:
        parser.error("--attempts takes at least 2 (a median and a 90th percentile)")
    loops = calibrate(args.work_ms) if args.work_ms else 1
    print(f"step body ~{args.work_ms:g} ms ({loops} loops), {args.rounds} rounds, "
          f"{machine_load()}")  # fmt: skip
    print(f"{'shape':<8}{'N':>5}  {'target':<7}{'style':<12}{'direct s':>9}{'run s':>9}"
          f"{'ratio':>20}{'overhead/step ms':>20}{'vs controller':>18}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for shape in ("chain", "fanout"):
            for n in args.sizes:
                step_overheads(folder, shape, n, loops, args.targets, args.rounds)
        attempt_costs(folder, args.attempts)
    print(f"after: {machine_load()}")


if __name__ == "__main__":
    main()
