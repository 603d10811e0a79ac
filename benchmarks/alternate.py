"""Timing pipec against a baseline on a shared machine: alternate them, compare in pairs.

A slow spell of a shared VM (another job, a noisy neighbour) lasts seconds to minutes.
Timing all of pipec's runs and then all of the baseline's would put a spell on one side
only; here the two sides take turns (A B A B ...), each ratio is taken between the two
runs of one round, which the same spell would slow alike, and the median of those ratios
is reported with their min and max, so the spread shows how far to trust it. Every
benchmark prints the machine's load beside its figures.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


def machine_load() -> str:
    """The load averages (1, 5, 15 min) and CPUs, for a benchmark's header line."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs"


@dataclass(frozen=True)
class Spread:
    """The median of some per-round figures, with their min and max."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def show(self, digits: int = 2) -> str:
        """`1.23 (1.10-1.40)`."""
        low, high = min(self.values), max(self.values)
        return f"{self.median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def pairwise(
    numerator: Sequence[float], denominator: Sequence[float], of: Callable[[float, float], float]
) -> Spread:
    """`of(a, b)` for the two sides' figures of each round."""
    assert len(numerator) == len(denominator) and numerator
    return Spread(tuple(of(a, b) for a, b in zip(numerator, denominator, strict=True)))


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> Spread:
    """Each round's `numerator / denominator`."""
    return pairwise(numerator, denominator, lambda a, b: a / b)


def alternate(sides: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run each side once per round, in turn, for `rounds` rounds, after one untimed
    warm-up round; each side returns the seconds it measured (so it times only what it
    means to), and each side's list holds its figures in round order."""
    if rounds < 1:
        raise SystemExit("--rounds takes at least 1")
    for run in sides.values():
        run()
    took: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            took[name].append(run())
    return took


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in the timed part, and none of what was allocated before it
    to be walked by a collection: a collection of the older generations costs in
    proportion to everything alive, and lands on whichever side happens to trigger it."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def timed(call: Callable[[], object]) -> float:
    """The wall time of `call()`."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start
