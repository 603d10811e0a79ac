"""Per-step overhead of the `prefect` target against a hand-written Prefect flow.

    python benchmarks/prefect_overhead.py [--sizes 20 200] [--work-ms 0 20] [--rounds 5]
                                          [--settle 1]

(in the `prefect` environment: `pip install -e ./core -e ./adapters/prefect`).

Each pipeline is N steps of the same small function, chained (each step takes the
previous result) or fanned out (N independent steps), once with trivial steps
(`--work-ms 0`) and once with about 20 ms of pure Python work per step (see
`overhead.py`): with a pure-Python body, the hand-written flow's threads hold the GIL
while pipec's steps run in processes of their own on every core, which flatters pipec;
trivial steps show its own cost. The baseline is a hand-written flow with one `@task` per
step doing the same work, passing values through futures, with the same task runner
(Prefect's default `ThreadPoolTaskRunner`). Both sides run in this process against the
same API server ($PREFECT_API_URL, else the ephemeral one, started before timing).

Back to back, a flow run often waits ~2 s to be created: the API server is still
recording the last run's events in its database (the longer, the bigger that run) and
answers with a retryable error, and Prefect's client retries after a pause. That would
hit whichever run follows a big one and swamp the slope, so each timed run starts
`--settle` seconds after the last one ended, and once the machine's CPUs are quiet.

Every flow run pays a floor (~1 s: creating the run, the heartbeat join at its end)
whatever its steps do, and pipec a little more per run (its run record, the flow-run
artifacts); an empty flow shows the floor. "Per step" is the cost of one more step:
(time at the big size - time at the small size) / (big - small), for each side, so
per-run costs drop out. Each round runs both sizes of both sides in turn
(`alternate.py`), and the ratio of the two sides' per-step times is taken within a
round; printed is its median over `--rounds` rounds, with min and max. The target to
meet: pipec's per-step time at most 1.25x the hand-written flow's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from alternate import alternate, machine_load, pairwise, ratios
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


def per_step(
    folder: Path, shape: str, sizes: list[int], loops: int, rounds: int, wait: float
) -> None:
    """Both sides at both sizes, taking turns; one row per size and the per-step row."""
    sides: dict[str, Callable[[], float]] = {}
    for n in sizes:
        hand = hand_written(n, shape, loops)
        pipec = through_pipec(pipeline_file(folder, shape, n, loops), str(folder / "store"))
        sides[f"hand {n}"] = partial(timed, hand, wait)
        sides[f"pipec {n}"] = partial(timed, pipec, wait)
    took = alternate(sides, rounds)  # the store has no step caches: every step runs
    for n in sizes:
        h, p = took[f"hand {n}"], took[f"pipec {n}"]
        print(f"{shape:<8}{n:>12}{statistics.median(h):>9.2f}s{statistics.median(p):>9.2f}s"
              f"{ratios(p, h).show():>20}")  # fmt: skip
    # the difference between the two sizes leaves out every per-run cost
    small, big = sizes

    def slope(side: str) -> list[float]:
        pairs = zip(took[f"{side} {small}"], took[f"{side} {big}"], strict=True)
        return [(b - a) / (big - small) * 1000 for a, b in pairs]

    hand_ms, pipec_ms = slope("hand"), slope("pipec")
    ratio = pairwise(pipec_ms, hand_ms, lambda p, h: p / h if h > 0 else float("inf"))
    print(f"{shape:<8}{f'{small}->{big}':>12}{statistics.median(hand_ms):>7.1f}ms"
          f"{statistics.median(pipec_ms):>7.1f}ms{ratio.show():>20}  per step")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[20, 200], metavar=("N", "M"))
    parser.add_argument("--shapes", nargs="+", default=["fanout", "chain"])
    parser.add_argument("--work-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--rounds", type=int, default=5, help="of every run, taking turns")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between runs, at least")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.getLogger("prefect").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        empty = hand_written(0, "fanout", 1)
        timed(empty)  # starts the ephemeral server, if it is the one used
        timed(through_pipec(pipeline_file(folder, "chain", 1, 1), str(folder / "warm")))
        floor = statistics.median(timed(empty, args.settle) for _ in range(3))
        print(f"flow-run floor {floor:.2f} s (an empty flow), {args.rounds} rounds, each run "
              f"after {args.settle:g} s and the CPUs quiet, {machine_load()}")  # fmt: skip
        for work_ms in args.work_ms:
            loops = calibrate(work_ms) if work_ms else 1
            print(f"step body ~{work_ms:g} ms ({loops} loops)")
            print(f"{'shape':<8}{'steps':>12}{'hand':>10}{'pipec':>10}{'ratio':>20}")
            for shape in args.shapes:
                per_step(folder, shape, args.sizes, loops, args.rounds, args.settle)
    print(f"after: {machine_load()}")


if __name__ == "__main__":
    main()
