"""Capture time of a `PipelineController` with N function steps, per step.

    python benchmarks/capture.py [--sizes 10 100 1000 5000] [--repeat 3]

For each N a pipeline file is generated: N functions and N `add_function_step` calls,
each step taking the previous one's result (`--shared` makes every step call the same
function, as `overhead.py`'s pipelines do). Capture is `load_pipeline` on that file:
the file runs in capture mode and its IR is built (each step's source found, normalised,
hashed, its global reads and imports found). The best of `--repeat` is printed with the
time per step: a flat column means capture grows linearly with the pipeline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from pipec.capture.session import load_pipeline


def pipeline_file(folder: Path, n: int, shared: bool) -> Path:
    """A controller pipeline of n chained function steps (n functions, or one shared)."""
    lines = ["import math", "from pipec import PipelineController", ""]
    for i in range(1 if shared else n):
        lines += [f"def work{i}(x: int) -> int:", f"    return x + int(math.sqrt({i}))", ""]
    lines.append(f"pipe = PipelineController(name='capture-{n}', project='bench')")
    for i in range(n):
        parent = repr(f"${{s{i - 1}.result}}") if i else "1"
        lines.append(
            f"pipe.add_function_step(name='s{i}', function=work{0 if shared else i}, "
            f"function_return=['result'], function_kwargs={{'x': {parent}}})"
        )
    path = folder / f"capture_{n}{'_shared' if shared else ''}.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def captured(path: Path, n: int) -> float:
    start = time.perf_counter()
    pipeline = load_pipeline(str(path))
    took = time.perf_counter() - start
    if len(pipeline.steps) != n:
        raise SystemExit(f"{path.name}: {len(pipeline.steps)} steps, expected {n}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many captures")
    parser.add_argument("--shared", action="store_true", help="every step calls one function")
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    kind = "one shared function" if args.shared else "one function per step"
    print(f"capture of a PipelineController, {kind}, best of {args.repeat}, "
          f"{os.cpu_count()} CPUs, load {load}")  # fmt: skip
    print(f"{'N':>6}{'capture ms':>12}{'per step us':>13}")
    with tempfile.TemporaryDirectory(prefix="pipec-bench-") as tmp:
        for n in args.sizes:
            path = pipeline_file(Path(tmp), n, args.shared)
            best = min(captured(path, n) for _ in range(args.repeat))
            print(f"{n:>6}{best * 1000:>12.1f}{best / n * 1e6:>13.1f}")


if __name__ == "__main__":
    main()
