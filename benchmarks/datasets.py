"""ClearML `Dataset` in pipec's store against plain copies of the same folder.

    python benchmarks/datasets.py [--size 1G] [--files 1000] [--rounds 3] [--dir DIR]

A folder of `--files` files of random bytes, `--size` in all, in `--dir` (default: the
system's temporary folder), with the store and the download cache on the same disk.
Each round times, taking turns: a plain copy of the folder (`shutil.copytree`),
`add_files` + `upload()` into a new store, another plain copy, and a cold
`get_local_copy()` (an empty download cache). It prints the medians and their ratios
to the plain copy, so the figures hold on a shared machine. Then it makes a child
version in which one file changed, and prints how many bytes the store grew by: about
that one file, not the folder. The machine's load is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipec import Dataset

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def size_of(text: str) -> int:
    """`1G`, `200M`, `64K` or a number of bytes."""
    unit = text[-1].upper()
    return int(float(text[:-1]) * UNITS[unit]) if unit in UNITS else int(text)


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def make_folder(folder: Path, files: int, size: int) -> None:
    each = max(1, size // files)
    for i in range(files):
        sub = folder / f"part-{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file-{i:05}.bin").write_bytes(os.urandom(each))


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def upload(data: Path, store: Path) -> tuple[float, float]:
    """A new version of the folder in a new store: the time of `add_files` (which
    hashes every file) and of `upload()` + `finalize()`."""
    os.environ["PIPEC_STORAGE"] = str(store)
    dataset = Dataset.create(dataset_name="bench", dataset_project="bench")
    adding = timed(lambda: dataset.add_files(data))
    return adding, timed(lambda: (dataset.upload(), dataset.finalize()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="total size of the folder (default 1G)")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the folder, stores and copies go")
    args = parser.parse_args()
    if args.rounds < 1 or args.files < 1:
        parser.error("--rounds and --files must be at least 1")
    size = size_of(args.size)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    root = Path(tempfile.mkdtemp(prefix="pipec-bench-datasets-", dir=args.dir))
    try:
        data = root / "data"
        make_folder(data, args.files, size)
        total = folder_bytes(data)
        print(f"folder: {args.files} files, {human(total)} in {root}")
        copies, adds, uploads, gets = [], [], [], []
        for i in range(args.rounds):
            copies.append(timed(lambda i=i: shutil.copytree(data, root / f"copy-a{i}")))
            store = root / f"store-{i}"
            adding, uploading = upload(data, store)
            adds.append(adding)
            uploads.append(uploading)
            copies.append(timed(lambda i=i: shutil.copytree(data, root / f"copy-b{i}")))
            os.environ["PIPEC_CACHE_DIR"] = str(root / f"cache-{i}")  # cold: nothing cached
            found = Dataset.get(dataset_project="bench", dataset_name="bench")
            gets.append(timed(found.get_local_copy))
            for name in (f"copy-a{i}", f"copy-b{i}", f"cache-{i}"):
                shutil.rmtree(root / name)
            if i < args.rounds - 1:
                shutil.rmtree(store)
        copy = statistics.median(copies)
        add, up = statistics.median(adds), statistics.median(uploads)
        both = statistics.median(a + u for a, u in zip(adds, uploads, strict=True))
        get = statistics.median(gets)
        print(f"plain copy             {copy:7.2f} s  (median of {len(copies)})")
        print(f"add_files (hashing)    {add:7.2f} s  ratio {add / copy:.2f}")
        print(f"upload() + finalize()  {up:7.2f} s  ratio {up / copy:.2f}")
        print(f"both                   {both:7.2f} s  ratio {both / copy:.2f}")
        print(f"cold get_local_copy()  {get:7.2f} s  ratio {get / copy:.2f}")

        store = root / f"store-{args.rounds - 1}"
        before = folder_bytes(store)
        changed = next(iter(sorted(data.rglob("*.bin"))))
        changed.write_bytes(os.urandom(changed.stat().st_size))
        parent = Dataset.get(dataset_project="bench", dataset_name="bench")
        child = Dataset.create(
            dataset_name="bench", dataset_project="bench", parent_datasets=[parent.id]
        )
        child.add_files(data)
        child.upload()
        child.finalize()
        grown = folder_bytes(store) - before
        print(
            f"child version {child.version} with one file changed: the store grew by "
            f"{human(grown)} ({grown} bytes; the file is {changed.stat().st_size} bytes, the "
            f"folder {total}; {grown / total:.4%} of the folder)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
