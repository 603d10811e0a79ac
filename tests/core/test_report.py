"""Run pages (`pipec runs report`) and `pipec ui`, read from the records of real runs.

What a browser shows of them (no console error, no network request) is checked in
tests/browser with a real Chromium.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES, PIPELINES, cli_env, marked_line, pipec_executable, rel, run_pipec
from pipec.report import read_run, run_page
from pipec.report.server import make_server
from pipec.runtime.runstore import list_runs
from pipec.store import Store

FAST = {"PYTHONDONTWRITEBYTECODE": ""}
REPORTS = PIPELINES / "report" / "reports.py"
RAISES = PIPELINES / "run" / "raises.py"


def run(path: Path, store: Path, home: Path, target: str = "debug") -> str:
    """Run a pipeline and return its run id."""
    result = run_pipec(
        "run", path, "--target", target, "--storage", store, "--json", pipec_home=home, env=FAST
    )
    assert result.returncode in (0, 1), result
    return json.loads(result.stdout)["run_id"]


def report(run_id: str, store: Path, home: Path, out: Path) -> str:
    result = run_pipec(
        "runs", "report", run_id, "--storage", store, "-o", out, pipec_home=home, env=FAST
    )
    assert result.returncode == 0, result
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One run of the iris example on the local target: (store, run id)."""
    root = tmp_path_factory.mktemp("iris")
    (root / "home").mkdir()
    store = root / "store"
    return store, run(EXAMPLES / "iris_pipeline.py", store, root / "home", target="local")


def nodes(page: str) -> dict[str, str]:
    """The DAG's nodes: step name -> status."""
    return dict(re.findall(r'<g class="node" data-step="([^"]+)" data-status="([^"]+)"', page))


@pytest.mark.examples
def test_the_iris_page_draws_the_graph_the_accuracy_plot_and_the_image(
    iris: tuple[Path, str], tmp_path: Path, pipec_home: Path
) -> None:
    store, run_id = iris
    page = report(run_id, store, pipec_home, tmp_path / "run.html")

    assert nodes(page) == dict.fromkeys(
        ["load_data", "split_data", "train_model", "score_model"], "completed"
    )
    # load-split, split-train, train-score, split-score
    assert page.count('<path class="edge"') == 4
    assert '<svg class="plot" data-title="accuracy"' in page
    assert re.search(r"<img class='report image' alt='confusion matrix / test' "
                     r"src='data:image/png;base64,[A-Za-z0-9+/=]+'>", page)  # fmt: skip
    # the small accuracy value is previewed; the pickled model is not loaded
    accuracy = re.search(r"<th>accuracy</th><td><pre class='preview'>(.*?)</pre>", page)
    assert accuracy is not None and 0.5 <= float(accuracy.group(1)) <= 1.0
    assert re.search(r"<th>model</th><td><span class='muted'>not previewed", page)
    # one file, nothing to fetch: the policy forbids every load, and no tag asks for one
    assert "default-src 'none'" in page and "script-src 'none'" in page
    assert not re.search(r"<(script|link|iframe)\b[^>]*\b(src|href)=", page)


def test_a_failed_run_shows_its_error_and_each_status(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"
    run_id = run(RAISES, store, pipec_home)
    page = report(run_id, store, pipec_home, tmp_path / "run.html")

    assert nodes(page) == {
        "prepare": "completed", "boom": "failed", "side": "completed", "after": "skipped"
    }  # fmt: skip
    error = re.search(r'<div class="error" id="run-error">(.*?)</div>', page, re.S)
    assert error is not None and "bad row 3" in error.group(1)
    assert '<th>failed step</th><td><a href="#step-boom">boom</a>' in page
    line = marked_line(RAISES)
    assert "attempt 1: failed, " in page and f"at <code>{rel(RAISES)}:{line}</code>" in page
    traceback = re.search(r'<pre class="traceback">(.*?)</pre>', page, re.S)
    assert traceback is not None
    assert traceback.group(1).rstrip().endswith("ValueError: bad row 3")
    assert "pipec/runtime" not in traceback.group(1)  # pipec's own frames are left out


def test_reports_are_shown_and_every_text_is_escaped(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"
    run_id = run(REPORTS, store, pipec_home)
    page = report(run_id, store, pipec_home, tmp_path / "run.html")

    loss = re.search(r'<svg class="plot" data-title="loss".*?</svg>', page, re.S)
    assert loss is not None
    assert re.findall(r'data-series="([^"]+)"', loss.group(0)) == ["train", "eval"]
    assert loss.group(0).count("<circle") == 6
    if importlib.util.find_spec("matplotlib") is not None:  # the PNG pipec rendered of it
        image = "<img class='report line_plot' alt='curve / line' src='data:image/png"
        assert image in page
    else:  # drawn from its data
        assert '<svg class="plot" data-title="curve"' in page
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in page
    # a reported URL is named, never loaded
    assert "https://example.invalid/picture.png" in page
    assert "src='https://" not in page and 'src="https://' not in page
    assert "&lt;i&gt;small&lt;/i&gt;" in page  # the JSON output's preview
    assert re.search(r"<th>opaque</th><td><span class='muted'>not previewed", page)


def test_an_attempts_console_is_shown_escaped(tmp_path: Path, pipec_home: Path) -> None:
    store = tmp_path / "store"
    run_id = run(REPORTS, store, pipec_home, target="local")  # printed in a step process
    page = run_page(read_run(Store(str(store)), run_id))

    console = re.search(r"<pre class='console'>(.*?)</pre>", page, re.S)
    assert console is not None
    assert "&lt;b&gt;printed, not bold&lt;/b&gt;" in console.group(1)
    assert "<b>printed" not in page


def test_report_of_an_unknown_run_is_a_usage_error(tmp_path: Path, pipec_home: Path) -> None:
    result = run_pipec(
        "runs", "report", "nope", "--storage", tmp_path, "-o", tmp_path / "x.html",
        pipec_home=pipec_home,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert "no run 'nope'" in result.stderr
    assert not (tmp_path / "x.html").exists()


@pytest.fixture
def served(tmp_path: Path, pipec_home: Path) -> Iterator[tuple[str, Store, str]]:
    """A store with one run, served on loopback: (base URL, store, run id)."""
    run_id = run(PIPELINES / "run" / "tiny.py", tmp_path / "store", pipec_home)
    store = Store(str(tmp_path / "store"))
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store, run_id
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_ui_serves_the_runs_list_and_each_run_page(served: tuple[str, Store, str]) -> None:
    base, store, run_id = served

    status, listing = get(base + "/")
    assert status == 200
    assert f'<a href="/runs/{run_id}">{run_id}</a>' in listing
    assert [r.run_id for r in list_runs(store)] == [run_id]

    status, page = get(f"{base}/runs/{run_id}")
    assert status == 200
    assert page == run_page(read_run(store, run_id), runs_link="/")
    assert get(base + "/runs/nope")[0] == 404
    assert get(base + "/etc/passwd")[0] == 404


def test_ui_answers_only_to_loopback_names(served: tuple[str, Store, str]) -> None:
    base, _, _ = served
    port = base.rsplit(":", 1)[1]
    assert get(base + "/", host=f"localhost:{port}")[0] == 200
    assert get(base + "/", host=f"evil.example:{port}")[0] == 403


def test_pipec_ui_serves_a_store_on_a_free_loopback_port(tmp_path: Path, pipec_home: Path) -> None:
    run_id = run(PIPELINES / "run" / "tiny.py", tmp_path / "store", pipec_home)
    proc = subprocess.Popen(
        [pipec_executable(), "ui", "--storage", str(tmp_path / "store"), "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=cli_env(pipec_home, {"COLUMNS": "500"}),
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"serving .* at (http://127\.0\.0\.1:\d+)/ \(Ctrl\+C stops\)", line)
        assert match, line
        status, listing = get(match.group(1) + "/")
        assert status == 200 and f"/runs/{run_id}" in listing
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait() == 0
