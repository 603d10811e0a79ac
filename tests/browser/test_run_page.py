"""The iris example's run page in a real headless Chromium (Debian's `chromium`), as a
file and served by `pipec ui` on loopback: the DAG's 4 nodes, the accuracy plot and the
reported image show, with no console error and no network request.

Chromium is driven through Playwright's Python package with the system browser
(`executable_path`); no browser is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORTS = REPO_ROOT / "tests" / "core" / "pipelines" / "report" / "reports.py"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

if not CHROMIUM.is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`; "
        ".ci/run does) to check the run page in a browser",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser env (tox -e browser) installs playwright"
)


def pipec(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "pipec"
    return subprocess.run(
        [str(exe), *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True, **kw
    )


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One run of the iris example on the local target: (store, run id)."""
    store = tmp_path_factory.mktemp("iris") / "store"
    done = pipec("run", "examples/iris_pipeline.py", "--storage", store, "--json")
    assert done.returncode == 0, done.stderr
    return store, json.loads(done.stdout)["run_id"]


class Browser:
    """One Chromium page, with every console message, page error and request it saw."""

    def __init__(self, page: sync_api.Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: sync_api.ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
        )
        context.set_default_timeout(0)  # no wall-clock limit: wait as long as the page takes
        try:
            yield Browser(context.pages[0] if context.pages else context.new_page())
        finally:
            context.close()


def check_iris_page(browser: Browser) -> None:
    page = browser.page
    nodes = page.locator("svg.dag g.node")
    assert nodes.count() == 4
    assert sorted(nodes.evaluate_all("ns => ns.map(n => n.dataset.step)")) == [
        "load_data", "score_model", "split_data", "train_model"
    ]  # fmt: skip
    assert all(nodes.nth(i).is_visible() for i in range(4))
    plot = page.locator('svg.plot[data-title="accuracy"]')
    assert plot.is_visible()
    assert plot.locator("circle").count() == 1
    image = page.locator("img.report.image")
    assert image.count() == 1
    image.scroll_into_view_if_needed()
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert browser.problems == []


def test_the_report_file_shows_the_iris_run(
    iris: tuple[Path, str], tmp_path: Path, browser: Browser
) -> None:
    store, run_id = iris
    written = pipec("runs", "report", run_id, "--storage", store, "-o", tmp_path / "run.html")
    assert written.returncode == 0, written.stderr
    url = (tmp_path / "run.html").as_uri()

    browser.page.goto(url)

    check_iris_page(browser)
    assert browser.requests == [url]  # the file itself, and nothing else


@pytest.fixture
def ui(iris: tuple[Path, str]) -> Iterator[str]:
    """`pipec ui` on a free loopback port; its base URL."""
    store, _ = iris
    exe = Path(sys.executable).parent / "pipec"
    proc = subprocess.Popen(
        [str(exe), "ui", "--storage", str(store), "--port", "0"],
        cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "500"},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        assert match, f"pipec ui said {line!r}"
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait() == 0


def test_pipec_ui_serves_the_runs_list_and_the_iris_page(
    iris: tuple[Path, str], ui: str, browser: Browser
) -> None:
    _, run_id = iris

    browser.page.goto(ui + "/")
    link = browser.page.locator(f'a[href="/runs/{run_id}"]')
    assert link.count() == 1
    link.click()
    browser.page.wait_for_load_state()

    assert browser.page.url == f"{ui}/runs/{run_id}"
    check_iris_page(browser)
    assert browser.requests == [ui + "/", f"{ui}/runs/{run_id}"]


def test_a_page_with_every_kind_of_report_runs_its_plotly_figure_offline(
    tmp_path: Path, browser: Browser
) -> None:
    store, page_file = tmp_path / "store", tmp_path / "reports.html"
    done = pipec("run", REPORTS, "--target", "debug", "--storage", store, "--json")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    assert pipec("runs", "report", run_id, "--storage", store, "-o", page_file).returncode == 0

    browser.page.goto(page_file.as_uri())

    assert browser.page.locator('svg.plot[data-title="loss"] g.series').count() == 2
    if importlib.util.find_spec("plotly") is not None:  # plotly.js inlined from the package
        browser.page.locator("div.plotly svg.main-svg").first.wait_for()
    assert browser.problems == []
    assert browser.requests == [page_file.as_uri()]  # the reported URL is never fetched
