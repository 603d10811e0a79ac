"""Same work once: concurrent runs that miss the same cache key run the step's body once
(a lease on the key in the store), and a lease whose holder died blocks no one for long."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PIPELINES, REPO_ROOT, cli_env, pipec_executable, rel
from pipec import cache
from pipec.store import Store

SAME_WORK = PIPELINES / "run" / "same_work.py"


def start(
    store: Path, ledger: Path, pipec_home: Path, target: str = "local", **env: str
) -> subprocess.Popen[str]:
    """`pipec run` of the pipeline on `target`, as its own process group."""
    return subprocess.Popen(
        [pipec_executable(), "run", rel(SAME_WORK), "--target", target, "--storage", str(store),
         "--param", f"ledger={ledger}", "--json"],
        cwd=REPO_ROOT, env=cli_env(pipec_home, {"PYTHONDONTWRITEBYTECODE": "", **env}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["local", "debug"])
def test_ten_concurrent_runs_run_the_cached_step_once(
    target: str, tmp_path: Path, pipec_home: Path
) -> None:
    store, ledger = tmp_path / "store", tmp_path / "ledger.txt"
    runs = [start(store, ledger, pipec_home, target) for _ in range(10)]
    outputs = [run.communicate() for run in runs]
    summaries = []
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
        summaries.append(json.loads(stdout))
    assert [s["return_value"] for s in summaries] == [6 * 7 + 1] * 10
    assert len(ledger.read_text().splitlines()) == 1  # the body ran once
    statuses = sorted(s["steps"]["work"]["status"] for s in summaries)
    assert statuses == ["cached"] * 9 + ["completed"]
    assert not list((store / "cache").rglob("*.lease"))  # released


def test_a_lease_whose_holder_was_killed_expires(tmp_path: Path, pipec_home: Path) -> None:
    store, ledger = tmp_path / "store", tmp_path / "ledger.txt"
    holder = start(store, ledger, pipec_home, PIPEC_CACHE_LEASE="1", SAME_WORK_SECONDS="600")
    while holder.poll() is None and not (ledger.exists() and ledger.read_text()):
        time.sleep(0.1)
    assert holder.poll() is None, holder.communicate()
    assert list((store / "cache").rglob("*.lease"))  # held while the body runs
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate()

    second = start(store, ledger, pipec_home, SAME_WORK_SECONDS="0")
    stdout, stderr = second.communicate()
    assert second.returncode == 0, stderr
    assert json.loads(stdout)["steps"]["work"]["status"] == "completed"
    assert len(ledger.read_text().splitlines()) == 2


@pytest.mark.parametrize("where", ["folder", "memory"])
def test_a_released_or_expired_lease_can_be_claimed(where: str, tmp_path: Path) -> None:
    """On a folder (a hard link) and on an fsspec store (`pipe_file(mode="create")`)."""
    url = str(tmp_path / "store") if where == "folder" else f"memory://{tmp_path.name}"
    store, key = Store(url), "ab" * 32
    first = cache.claim(store, key)
    assert first is not None
    assert cache.claim(store, key) is None  # live: the second waits
    first.release()  # the holder failed: no entry, the lease is gone
    second = cache.claim(store, key)
    assert second is not None
    second.release()
    # what a killed holder leaves: a lease nobody renews any more
    gone = {"holder": "gone", "pid": 1, "expires": time.time() - 1}
    store.write_bytes(f"cache/ab/{key}.lease", json.dumps(gone).encode())
    third = cache.claim(store, key)
    assert third is not None
    third.release()


def test_a_garbage_lease_blocks_no_one(tmp_path: Path) -> None:
    store, key = Store(str(tmp_path / "store")), "cd" * 32
    store.write_bytes(f"cache/cd/{key}.lease", b"\x00 not a lease")
    assert cache.claim(store, key) is not None


def test_a_wait_that_is_not_a_number_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipec.errors import UsageError

    monkeypatch.setenv(cache.WAIT_ENV, "soon")
    with pytest.raises(UsageError, match="PIPEC_CACHE_WAIT"):
        cache.wait(Store(str(tmp_path / "store")), "ef" * 32, lambda: None)
