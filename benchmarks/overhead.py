"""Per-step overhead of the `debug` and `local` targets against calling the functions directly.

    python benchmarks/overhead.py [--sizes 10 100] [--work-ms 20]

Each pipeline is N steps of the same small function (about `--work-ms` of pure
Python work) in two shapes: a chain (each step takes the previous result) and a
fan-out (N independent steps). The baseline is the same functions called
directly in this process, measured in the same run, so the printed ratios hold
on a noisy shared machine. Overhead per step = (target time - direct time) / N.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from pipec.capture.session import load_pipeline
from pipec.plugins import get_target
from pipec.runtime.runner import RunOptions
from pipec.runtime.start import Logic

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


def direct(shape: str, n: int, loops: int) -> float:
    namespace: dict[str, object] = {}
    exec(STEP, namespace)
    work = namespace["work"]
    start = time.perf_counter()
    x = 1
    for _ in range(n):
        x = work(x if shape == "chain" else 1, loops)  # type: ignore[operator]
    return time.perf_counter() - start


def through(target: str, path: Path, store: str) -> float:
    pipeline = load_pipeline(str(path))
    options = RunOptions(target=target, storage=store, quiet=True)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        result = get_target(target).run(pipeline, options, Logic())
    took = time.perf_counter() - start
    if not result.succeeded:
        sys.exit(f"{path.name} on {target} did not succeed: {result.record.error}")
    return took


def calibrate(work_ms: float) -> int:
    """Loop count that takes about `work_ms` here."""
    namespace: dict[str, object] = {}
    exec(STEP, namespace)
    loops = 10_000
    start = time.perf_counter()
    namespace["work"](1, loops)  # type: ignore[operator]
    per_loop = (time.perf_counter() - start) / loops
    return max(1, int(work_ms / 1000 / per_loop))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--work-ms", type=float, default=20.0)
    parser.add_argument("--targets", nargs="+", default=["debug", "local"])
    args = parser.parse_args()
    loops = calibrate(args.work_ms)
    print(f"step body ~{args.work_ms:g} ms ({loops} loops), {os.cpu_count()} CPUs")
    print(f"{'shape':<8}{'N':>5}  {'target':<7}{'direct s':>10}{'target s':>10}"
          f"{'ratio':>8}{'overhead/step ms':>18}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for shape in ("chain", "fanout"):
            for n in args.sizes:
                path = pipeline_file(folder, shape, n, loops)
                base = direct(shape, n, loops)
                for target in args.targets:
                    took = through(target, path, str(folder / f"store-{target}"))
                    overhead_ms = (took - base) / n * 1000
                    print(f"{shape:<8}{n:>5}  {target:<7}{base:>10.3f}{took:>10.3f}"
                          f"{took / base:>8.2f}{overhead_ms:>18.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
