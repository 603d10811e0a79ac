"""`dag.test()` wall time of a pipeline through pipec against a hand-written DAG's, same work.

    .venv-airflow/bin/python benchmarks/airflow_run.py [--steps 20] [--rounds 3] [--work-ms 20]

Both DAGs are a chain of `--steps` tasks, each running the same function (about
`--work-ms` of pure Python work) on the previous task's result. pipec's DAG is
compiled from a controller pipeline: its tasks open the run, go through pipec's
runtime (store, records, cache key) and conclude it. The hand-written one is plain
TaskFlow passing the values through XCom. Both run with Airflow's own `dag.test()` on
SQLite in a throwaway AIRFLOW_HOME, taking turns for `--rounds` rounds after a
warm-up round (`alternate.py`); printed is the median of the per-round ratios, with min
and max. `--work-ms 0` makes the steps trivial.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from alternate import alternate, machine_load, pairwise, ratios

WORK = """\
def work(x, loops):
    total = 0
    for i in range(loops):
        total += (i * x) % 7
    return x + 1
"""


def calibrate(work_ms: float) -> int:
    """Loop count that takes about `work_ms` here."""
    namespace: dict[str, object] = {}
    exec(WORK, namespace)
    start = time.perf_counter()
    namespace["work"](1, 100_000)  # type: ignore[operator]
    return max(1, int(work_ms / 1000 / ((time.perf_counter() - start) / 100_000)))


def pipec_dag(folder: Path, dags: Path, n: int, loops: int) -> Path:
    from pipec.capture.session import load_pipeline
    from pipec_airflow.target import AirflowTarget

    lines = [
        "from pipec import PipelineController",
        WORK,
        "pipe = PipelineController(name='pipec_run_bench', project='bench')",
    ]
    for i in range(n):
        x = repr(f"${{s{i - 1}.result}}") if i else "1"
        lines.append(
            f"pipe.add_function_step(name='s{i}', function=work, function_return=['result'], "
            f"function_kwargs={{'x': {x}, 'loops': {loops}}})"
        )
    source = folder / "pipeline.py"
    source.write_text("\n".join(lines) + "\n")
    pipeline = load_pipeline(str(source))
    dag_file, _ = AirflowTarget().compile(pipeline, dags, {"storage": str(folder / "store")})
    return dag_file


def hand_dag(dags: Path, n: int, loops: int) -> Path:
    lines = [
        "from airflow.sdk import DAG, task",
        "",
        "",
        "@task",
        WORK,
        'with DAG(dag_id="hand_run_bench", schedule=None, catchup=False):',
        f"    s0 = work.override(task_id='s0')(1, {loops})",
    ]
    lines += [f"    s{i} = work.override(task_id='s{i}')(s{i - 1}, {loops})" for i in range(1, n)]
    path = dags / "hand_run_bench.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(dag_file: Path, dag_id: str) -> float:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(dag_file)).get_dag(dag_id)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        dag_run = dag.test()
    took = time.perf_counter() - start
    if dag_run.state != "success":
        raise SystemExit(f"{dag_id} ended {dag_run.state}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="of both runs, taking turns")
    parser.add_argument("--work-ms", type=float, default=20.0, help="0: trivial steps")
    args = parser.parse_args()
    loops = calibrate(args.work_ms) if args.work_ms else 1
    load = machine_load()
    with tempfile.TemporaryDirectory(prefix="pipec-bench-") as tmp:
        folder = Path(tmp)
        from pipec_airflow.target import migrate, throwaway_home

        env = throwaway_home(folder / "airflow")
        os.environ.update(env)  # before Airflow is imported
        migrate()
        dags = Path(env["AIRFLOW__CORE__DAGS_FOLDER"])
        ours = pipec_dag(folder, dags, args.steps, loops)
        theirs = hand_dag(dags, args.steps, loops)
        took = alternate(
            {
                "pipec": lambda: run(ours, "pipec_run_bench"),
                "hand": lambda: run(theirs, "hand_run_bench"),
            },
            args.rounds,
        )
    a, b = statistics.median(took["pipec"]), statistics.median(took["hand"])
    overhead = pairwise(took["pipec"], took["hand"], lambda p, h: (p - h) / args.steps * 1000)
    print(f"dag.test() of a {args.steps}-step chain, step body ~{args.work_ms:g} ms, "
          f"{args.rounds} rounds, {load}")  # fmt: skip
    print(f"pipec {a:.2f} s  hand-written {b:.2f} s  ratio "
          f"{ratios(took['pipec'], took['hand']).show()}  overhead/step "
          f"{overhead.show(0)} ms")  # fmt: skip
    print(f"after: {machine_load()}")


if __name__ == "__main__":
    main()
