"""Per-step overhead of the `prefect` target against a hand-written Prefect flow.

    python benchmarks/prefect_overhead.py [--sizes 20 200] [--work-ms 20] [--repeat 5]
                                          [--settle 1]

(in the `prefect` environment: `pip install -e ./core -e ./adapters/prefect`).

Each pipeline is N steps of the same small function (about `--work-ms` of pure Python
work; see `overhead.py`), chained (each step takes the previous result) or fanned out
(N independent steps). The baseline is a hand-written flow with one `@task` per step
doing the same work, passing values through futures, with the same task runner
(Prefect's default `ThreadPoolTaskRunner`). Both sides run in this process against
the same API server ($PREFECT_API_URL, else the ephemeral one, started before timing),
interleaved in rounds over sizes and sides, best of `--repeat`, so the printed ratios hold
on a noisy machine.

Back to back, a flow run often waits ~2 s to be created: the API server is still
recording the last run's events in its database (the longer, the bigger that run) and
answers with a retryable error, and Prefect's client retries after a pause. That would
hit whichever run follows a big one and swamp the slope, so each timed run starts
`--settle` seconds after the last one ended, and once the machine's CPUs are quiet.

Every flow run pays a floor (~1 s: creating the run, the heartbeat join at its end)
whatever its steps do, and pipec a little more per run (its run record, the flow-run
artifacts); an empty flow shows the floor. "Per step" is the cost of one more step:
(time at the big size - time at the small size) / (big - small), for each side, so
per-run costs drop out. The target to meet: pipec's per-step time at most 1.25x the
hand-written flow's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overhead import STEP, calibrate, pipeline_file
from pipec.capture.session import load_pipeline
from pipec.contract import Logic, RunOptions
from pipec_prefect.target import PrefectTarget
from prefect import flow, task
from prefect.cache_policies import NO_CACHE


def hand_written(n: int, shape: str, loops: int) -> Callable[[], Any]:
    """The flow a Prefect user would write for the same pipeline."""
    namespace: dict[str, Any] = {}
    exec(STEP, namespace)
    work = task(namespace["work"], name="work", cache_policy=NO_CACHE, persist_result=False)

    @flow(name=f"hand-{shape}-{n}", persist_result=False)
    def pipeline() -> int:
        futures = []
        for i in range(n):
            x = futures[-1] if shape == "chain" and i else 1
            futures.append(work.submit(x, loops))
        return [f.result() for f in futures][-1] if futures else 0

    return pipeline


def _busy() -> tuple[int, int] | None:
    """The machine's (busy, total) CPU time so far, from Linux's /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def settle(seconds: float, quiet: float = 0.15, limit: float = 20.0) -> None:
    """Wait `seconds`, then until the machine's CPUs are quiet (busy less than `quiet` of
    a quarter second), at most `limit` seconds: the API server records the last run's
    events after that run has ended, the more the bigger the run."""
    time.sleep(seconds)
    deadline = time.monotonic() + limit
    before = _busy()
    while before is not None and time.monotonic() < deadline:
        time.sleep(0.25)
        after = _busy()
        assert after is not None
        busy, total = after[0] - before[0], after[1] - before[1]
        if total and busy / total < quiet:
            return
        before = after


def timed(call: Callable[[], Any], wait: float = 0.0) -> float:
    """The wall time of `call`, started once the machine has settled (`settle`)."""
    if wait:
        settle(wait)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        call()
    return time.perf_counter() - start


def through_pipec(path: Path, store: str) -> Callable[[], None]:
    pipeline = load_pipeline(str(path))
    options = RunOptions(target="prefect", storage=store, quiet=True)

    def run() -> None:
        result = PrefectTarget().run(pipeline, options, Logic())
        if not result.succeeded:
            sys.exit(f"{path.name} did not succeed: {result.record.error}")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[20, 200], metavar=("N", "M"))
    parser.add_argument("--shapes", nargs="+", default=["fanout", "chain"])
    parser.add_argument("--work-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs each")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between runs, at least")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.getLogger("prefect").setLevel(logging.ERROR)
    loops = calibrate(args.work_ms)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        empty = hand_written(0, "fanout", loops)
        timed(empty)  # starts the ephemeral server, if it is the one used
        timed(through_pipec(pipeline_file(folder, "chain", 1, loops), str(folder / "warm")))
        floor = min(timed(empty, args.settle) for _ in range(args.repeat))
        print(f"step body ~{args.work_ms:g} ms ({loops} loops), {os.cpu_count()} CPUs, "
              f"flow-run floor {floor:.2f} s (an empty flow), best of {args.repeat}, "
              f"each run after {args.settle:g} s and the CPUs quiet")  # fmt: skip
        print(f"{'shape':<8}{'steps':>12}{'hand':>10}{'pipec':>10}{'ratio':>7}")
        for shape in args.shapes:
            runs = {
                n: (
                    hand_written(n, shape, loops),
                    through_pipec(pipeline_file(folder, shape, n, loops), str(folder / "store")),
                )  # the store has no step caches: every step runs
                for n in args.sizes
            }
            best = {(side, n): float("inf") for side in ("hand", "pipec") for n in args.sizes}
            # rounds over every size and side, so a slow spell of the machine (minutes, on a
            # shared VM) does not take all the samples of one of them
            for _ in range(args.repeat):
                for n, (hand, pipec) in runs.items():
                    best["hand", n] = min(best["hand", n], timed(hand, args.settle))
                    best["pipec", n] = min(best["pipec", n], timed(pipec, args.settle))
            took = {side: [best[side, n] for n in args.sizes] for side in ("hand", "pipec")}
            for n in args.sizes:
                h, p = best["hand", n], best["pipec", n]
                print(f"{shape:<8}{n:>12}{h:>9.2f}s{p:>9.2f}s{p / h:>7.2f}")
            # the difference between the two sizes leaves out every per-run cost
            small, big = args.sizes
            hs, ps = ((t[1] - t[0]) / (big - small) * 1000 for t in (took["hand"], took["pipec"]))
            label = f"{small}->{big}"
            print(f"{shape:<8}{label:>12}{hs:>7.1f}ms{ps:>7.1f}ms{ps / hs:>7.2f}  per step")


if __name__ == "__main__":
    main()
