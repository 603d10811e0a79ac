"""Values through the artifact store against numpy's and pandas' own files, on the same disk.

    python benchmarks/artifacts.py [--size 1024] [--rows 5000000] [--rounds 3] [--dir .]

A `--size` MiB float64 array goes through `Store.put_value` + `Store.get_value` (a
local store: write streamed and hashed, read checked against the recorded hash) and
through `np.save` + `np.load`; a `--rows` DataFrame through the store and through
`to_parquet` + `read_parquet`. Every read touches the whole value (a sum), since a
mapped read costs nothing until then. Each measurement runs in a fresh process, so its
peak RSS is its own, and pipec and the baseline take turns (A B A B); the ratios are
medians of the pairwise ratios, with min and max. Then the cost of checking a read:
the store's read with and without the hash check, as a ratio, and the throughput of
the hashes that could do it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipec.records import StoredValue
from pipec.store import Store, _read_local
from pipec.store.serializers import NUMPY

MiB = 1 << 20


def make_array(size_mib: int) -> Any:
    import numpy as np

    return np.random.default_rng(0).random(size_mib * MiB // 8)


def make_frame(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.random(rows),
            "n": rng.integers(0, 1 << 40, rows),
            "c": pd.Categorical.from_codes(rng.integers(0, 4, rows), ["a", "b", "c", "d"]),
        }
    )


def touch(value: Any) -> None:
    """Read every byte of a value, as a step using it would."""
    if hasattr(value, "sum") and not hasattr(value, "columns"):
        value.sum()
    else:
        value[["x", "n"]].sum()
        value["c"].cat.codes.sum()


def child(op: str, folder: Path, size: int, rows: int) -> dict[str, float]:
    """One measurement in this (fresh) process: seconds and peak RSS in MiB."""
    import numpy as np
    import pandas as pd

    store = Store(str(folder / "store"))
    kind, who, what = op.split("-", 2)
    value = None
    if what == "write":
        value = make_array(size) if kind == "np" else make_frame(rows)
    start = time.perf_counter()
    if (kind, who, what) == ("np", "raw", "write"):
        np.save(folder / "raw.npy", value)
    elif (kind, who, what) == ("np", "raw", "read"):
        touch(np.load(folder / "raw.npy"))
    elif (kind, who, what) == ("df", "raw", "write"):
        value.to_parquet(folder / "raw.parquet", engine="pyarrow")
    elif (kind, who, what) == ("df", "raw", "read"):
        touch(pd.read_parquet(folder / "raw.parquet", engine="pyarrow"))
    elif what == "write":
        stored = store.put_value(f"bench/{kind}", value)
        (folder / f"{kind}.stored.json").write_text(stored.model_dump_json())
    else:
        stored = StoredValue.model_validate_json((folder / f"{kind}.stored.json").read_text())
        if what == "read-unchecked":  # the same read and parse, without the hash
            path = stored.uri
            touch(NUMPY.load(_read_local(path, stored.size)))
        else:
            touch(store.get_value(stored))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak}


def measure(op: str, folder: Path, size: int, rows: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", op, "--dir", str(folder)]
    argv += ["--size", str(size), "--rows", str(rows)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_mib() -> float:
    """Peak RSS of a process that imports what a measurement imports and does nothing."""
    code = (
        "import resource, numpy, pandas, pyarrow, pipec.store;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(done.stdout)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def compare(kind: str, folder: Path, size: int, rows: int, rounds: int, mib: float) -> None:
    """pipec against the raw calls, taking turns; ratios of throughput and of peak RSS."""
    ratios: list[float] = []
    rss: dict[str, list[float]] = {"write": [], "read": []}
    for _ in range(rounds):
        raw = {what: measure(f"{kind}-raw-{what}", folder, size, rows) for what in rss}
        ours = {what: measure(f"{kind}-pipec-{what}", folder, size, rows) for what in rss}
        raw_time = raw["write"]["seconds"] + raw["read"]["seconds"]
        ours_time = ours["write"]["seconds"] + ours["read"]["seconds"]
        ratios.append(raw_time / ours_time)
        base = baseline_mib()
        for what in rss:
            rss[what].append((ours[what]["peak_mib"] - base) / mib)
        print(
            f"  round: raw {raw['write']['seconds']:.2f}+{raw['read']['seconds']:.2f} s "
            f"(peak {raw['write']['peak_mib']:.0f}/{raw['read']['peak_mib']:.0f} MiB), "
            f"pipec {ours['write']['seconds']:.2f}+{ours['read']['seconds']:.2f} s "
            f"(peak {ours['write']['peak_mib']:.0f}/{ours['read']['peak_mib']:.0f} MiB)",
            flush=True,
        )
    print(f"{kind}: pipec write+read throughput / raw: {spread(ratios)}")
    for what, values in rss.items():
        print(f"{kind}: pipec {what} peak RSS above an idle process / value size: {spread(values)}")


def check_cost(folder: Path, size: int, rounds: int) -> None:
    """The store's numpy read with the hash check over the same read without it."""
    measure("np-pipec-write", folder, size, 1)
    ratios = []
    for _ in range(rounds):
        unchecked = measure("np-pipec-read-unchecked", folder, size, 1)["seconds"]
        checked = measure("np-pipec-read", folder, size, 1)["seconds"]
        ratios.append(checked / unchecked)
    print(f"np: read checked / unchecked (time): {spread(ratios)}")


def hash_speeds(size: int) -> None:
    """GB/s of the candidate hashes on `size` MiB (at most 256) already in memory."""
    data = os.urandom(min(size, 256) * MiB)
    candidates: dict[str, Any] = {"sha256": hashlib.sha256, "blake2b": hashlib.blake2b}
    if importlib.util.find_spec("xxhash"):
        import xxhash

        candidates["xxh3_128 (not collision-resistant)"] = xxhash.xxh3_128
    if importlib.util.find_spec("blake3"):
        import blake3

        candidates["blake3"] = blake3.blake3
    for name, new in candidates.items():
        start = time.perf_counter()
        new(data).hexdigest()
        print(f"hash {name}: {len(data) / (time.perf_counter() - start) / 1e9:.2f} GB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="array size in MiB")
    parser.add_argument("--rows", type=int, default=5_000_000, help="DataFrame rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=".", help="a folder on the disk to measure")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size < 1 or args.rows < 1 or args.rounds < 1:
        parser.error("--size, --rows and --rounds must be at least 1")
    if args.child:
        print(json.dumps(child(args.child, Path(args.dir), args.size, args.rows)))
        return
    folder = Path(tempfile.mkdtemp(prefix="pipec-bench-", dir=args.dir))
    try:
        print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, disk {folder}")
        print(f"array {args.size} MiB, frame {args.rows} rows, {args.rounds} rounds")
        compare("np", folder, args.size, args.rows, args.rounds, float(args.size))
        frame_mib = make_frame(args.rows).memory_usage(deep=True).sum() / MiB
        compare("df", folder, args.size, args.rows, args.rounds, frame_mib)
        check_cost(folder, args.size, args.rounds)
        hash_speeds(args.size)
        print(f"load average {os.getloadavg()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
