"""docs/adapters.md, followed word for word: its example target `tinyray` is written out
of the guide's marked code blocks into an empty folder, installed, and passes the whole
conformance kit on a Ray cluster.

"Installed" is what `pip install -e .` leaves: the package importable and its
distribution's metadata (name, version and the entry points of the guide's
pyproject.toml) on the path, here through PYTHONPATH for `pipec run`, the Ray nodes and
this process, so nothing is written into the test environment itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import tomllib
from pipec import plugins, testing
from pipec.testing.run import pipec_command

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"
BLOCK = re.compile(r"<!-- tinyray: (\S+) -->\n```\w*\n(.*?)\n```", re.DOTALL)


def guide_files() -> dict[str, str]:
    """The example's files, by path, as the guide shows them."""
    return {path: text + "\n" for path, text in BLOCK.findall(GUIDE.read_text("utf-8"))}


def install(project: Path, site: Path) -> list[Path]:
    """`pip install -e project` into `site`: the paths to put on sys.path."""
    meta = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))["project"]
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    groups = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
            for group, entries in groups.items()
        )
    )
    return [site, project / "src"]


@pytest.fixture(scope="module")
def tinyray(
    tmp_path_factory: pytest.TempPathFactory, start_cluster: Callable[..., Any]
) -> Iterator[str]:
    """The guide's target, built and installed, and a Ray cluster whose nodes have it;
    the cluster's address."""
    project = tmp_path_factory.mktemp("pipec-tinyray")
    files = guide_files()
    assert {"pyproject.toml", "src/pipec_tinyray/target.py", "tests/test_conformance.py"} <= set(
        files
    ), sorted(files)
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    paths = [str(p) for p in install(project, tmp_path_factory.mktemp("site"))]
    pythonpath = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])
    sys.path[:0] = paths  # this process asks the target's capabilities too
    import pipec_tinyray.target

    pm = plugins.plugin_manager()  # a new one loads the entry point just installed
    added = pm.get_plugin("tinyray") is None  # one made earlier in this session did not
    if added:
        pm.register(pipec_tinyray.target, name="tinyray")
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = pythonpath
    try:
        with start_cluster(tmp_path_factory.mktemp("tinyray-ray"), dict(os.environ),
                           worker_node=False) as found:  # fmt: skip
            yield found.address
    finally:
        if added:
            pm.unregister(pipec_tinyray.target)
        sys.path[:] = [p for p in sys.path if p not in paths]
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture
def on_tinyray(tinyray: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", tinyray)


def test_pipec_targets_lists_the_installed_example(on_tinyray: None) -> None:
    done = subprocess.run(
        [*pipec_command(), "targets"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    row = next(line for line in done.stdout.splitlines() if "│ tinyray " in line)
    assert "pipec-tinyray" in row and "0.1.0" in row
    assert version("pipec-tinyray") == "0.1.0"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in testing.cases()])
def test_the_example_passes_the_conformance_kit(
    case: testing.Case, tmp_path: Path, on_tinyray: None
) -> None:
    assert testing.refusal(case, "tinyray") is None  # nothing refused, nothing skipped
    testing.check(case, testing.run_case(case, "tinyray", workdir=tmp_path))
