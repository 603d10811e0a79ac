"""Parse time of pipec's Airflow DAG file against a hand-written TaskFlow DAG of the same shape.

    .venv-airflow/bin/python benchmarks/airflow_parse.py [--sizes 10 100 1000] [--repeat 7]

For each size N both DAG files are generated: pipec's (a chain of N function steps
compiled with `pipec_airflow`) and a hand-written TaskFlow DAG of the same chain (one
`@task` function, N `.override(task_id=...)` calls, each fed the previous task's
output). Each file is parsed the way Airflow's DAG processor parses it,
`DagBag(dag_folder=FILE)`, in this process, the two taking turns for `--rounds` rounds
(`alternate.py`); printed is the median of the per-round ratios, with min and max.

Garbage collection is paused in each timed parse, the same for both (`alternate.py`'s
`collector_paused`): left on, a collection of the oldest generation, which walks every
object alive (all of Airflow's), lands on whichever parse happens to trigger it, and the
ratio measures that instead of the parse.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import textwrap
import time
from functools import partial
from pathlib import Path

from alternate import alternate, collector_paused, machine_load, ratios


def pipec_dag(folder: Path, n: int) -> Path:
    """pipec's DAG file of an N-step chain, compiled from a controller pipeline."""
    from pipec.capture.session import load_pipeline
    from pipec_airflow.target import AirflowTarget

    lines = [
        "from pipec import PipelineController",
        "def work(x):",
        "    return x + 1",
        f"pipe = PipelineController(name='pipec_chain_{n}', project='bench')",
    ]
    for i in range(n):
        x = repr(f"${{s{i - 1}.result}}") if i else "1"
        lines.append(
            f"pipe.add_function_step(name='s{i}', function=work, function_return=['result'], "
            f"function_kwargs={{'x': {x}}})"
        )
    source = folder / f"pipeline_{n}.py"
    source.write_text("\n".join(lines) + "\n")
    out = folder / f"pipec_{n}"
    out.mkdir()
    dag_file, _ = AirflowTarget().compile(load_pipeline(str(source)), out, {"storage": str(folder)})
    return dag_file


def hand_dag(folder: Path, n: int) -> Path:
    """The TaskFlow DAG someone would write for the same chain."""
    lines = [
        textwrap.dedent(f'''\
            """An N-step chain, written by hand with the TaskFlow API."""

            from airflow.sdk import DAG, task


            @task
            def work(x: int) -> int:
                return x + 1


            with DAG(dag_id="hand_chain_{n}", schedule=None, catchup=False, tags=["bench"]):
                s0 = work.override(task_id="s0")(1)'''),
    ]
    lines += [f"    s{i} = work.override(task_id='s{i}')(s{i - 1})" for i in range(1, n)]
    path = folder / f"hand_{n}" / f"hand_chain_{n}.py"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    return path


def parse(path: Path, tasks: int) -> float:
    from airflow.dag_processing.dagbag import DagBag

    with collector_paused():
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(path))
        took = time.perf_counter() - start
    if bag.import_errors or len(bag.dags) != 1:
        raise SystemExit(f"{path} did not parse: {bag.import_errors}")
    (dag,) = bag.dags.values()
    if len(dag.tasks) != tasks:
        raise SystemExit(f"{path}: {len(dag.tasks)} tasks, expected {tasks}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=7, help="of both parses, taking turns")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipec-bench-") as tmp:
        folder = Path(tmp)
        from pipec_airflow.target import throwaway_home

        os.environ.update(throwaway_home(folder / "airflow"))  # before Airflow is imported
        print(f"DagBag parse time, {args.rounds} rounds, garbage collection paused while "
              f"timed, {machine_load()}")  # fmt: skip
        print(f"{'N':>6}{'pipec ms':>11}{'hand ms':>10}{'ratio':>20}{'pipec KB':>10}"
              f"{'hand KB':>9}")  # fmt: skip
        for n in args.sizes:
            ours, theirs = pipec_dag(folder, n), hand_dag(folder, n)
            # pipec's DAG has pipec_begin and pipec_end besides the steps; alternate's
            # warm-up round loads the imports and caches
            sides = {"pipec": partial(parse, ours, n + 2), "hand": partial(parse, theirs, n)}
            took = alternate(sides, args.rounds)
            a, b = statistics.median(took["pipec"]), statistics.median(took["hand"])
            print(
                f"{n:>6}{a * 1000:>11.1f}{b * 1000:>10.1f}"
                f"{ratios(took['pipec'], took['hand']).show():>20}"
                f"{ours.stat().st_size / 1024:>10.1f}{theirs.stat().st_size / 1024:>9.1f}"
            )
    print(f"after: {machine_load()}")


if __name__ == "__main__":
    main()
