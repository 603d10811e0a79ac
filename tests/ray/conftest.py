"""A real Ray cluster for the session: a head node and a worker node on loopback.

Both are `ray start --block` processes, each the leader of a process group of its own,
so stopping them ends every process of the cluster and nothing else. `pipec run`
subprocesses (the conformance kit) reach the cluster through $RAY_ADDRESS. The worker
node serves the ClearML queue `gpu_queue` (a Ray resource of that name), which no other
node has, so a step sent there runs on the worker node.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RAY = str(Path(sys.executable).parent / "ray")
QUEUE = "gpu_queue"
"""The queue (Ray resource) only the worker node serves."""
OBJECT_STORE = str(80 * 1024 * 1024)


@dataclass(frozen=True)
class Cluster:
    address: str
    head_node: str
    worker_node: str
    """Ray node ids."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
             f"--object-store-memory={OBJECT_STORE}", *args],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The node's whole process group: `ray start --block` ends its processes on SIGTERM;
    what is left after a grace period is killed."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                proc.wait()
                return
            proc.poll()
            time.sleep(0.2)


def _nodes(address: str, env: dict[str, str]) -> list[dict[str, object]]:
    """The cluster's live nodes, asked from a short-lived driver."""
    probe = (
        "import json, sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(json.dumps([{'id': n['NodeID'], 'resources': n['Resources']} "
        "for n in ray.nodes() if n['Alive']]))"
    )
    try:  # a driver waits long for a cluster that is not there (yet)
        proc = subprocess.run(
            [sys.executable, "-c", probe, address],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return []
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wait_for(address: str, env: dict[str, str], count: int, procs: list[subprocess.Popen[bytes]]):
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a Ray node exited with {proc.returncode}")
        nodes = _nodes(address, env)
        if len(nodes) >= count:
            return nodes
        time.sleep(1)


@contextmanager
def cluster(where: Path, env: dict[str, str], *, worker_node: bool) -> Iterator[Cluster]:
    """A head node (2 CPUs) and, with `worker_node`, a second node (1 CPU) serving
    `QUEUE`, their logs and files in `where`; stopped on exit."""
    env = {**env, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Ray's socket paths live in its temp dir and may not exceed 107 bytes: a short one
    files = tempfile.mkdtemp(prefix="pipec-ray-")
    procs = [
        _start(["--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                f"--temp-dir={files}"], where / "head.log", env)
    ]  # fmt: skip
    try:
        nodes = _wait_for(address, env, 1, procs)
        if not worker_node:
            yield Cluster(address=address, head_node=str(nodes[0]["id"]), worker_node="")
            return
        procs.append(
            _start([f"--address={address}", "--num-cpus=1",
                    f"--resources={json.dumps({QUEUE: 1})}"], where / "worker.log", env)
        )  # fmt: skip
        nodes = _wait_for(address, env, 2, procs)
        worker = next(n["id"] for n in nodes if QUEUE in n["resources"])  # type: ignore[operator]
        head = next(n["id"] for n in nodes if n["id"] != worker)
        yield Cluster(address=address, head_node=str(head), worker_node=str(worker))
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(files, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("ray"), dict(os.environ), worker_node=True) as found:
        yield found


@pytest.fixture(autouse=True)
def on_cluster(ray_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """Every `pipec run` of a test goes to the session's cluster."""
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    return ray_cluster


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelines are addressed from the repository root, as in the README."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def start_cluster() -> Callable[..., AbstractContextManager[Cluster]]:
    """`cluster`, for a test that needs a cluster of its own (other nodes' environment)."""
    return cluster
