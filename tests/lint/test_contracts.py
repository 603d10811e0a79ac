"""pipec's import contracts (`[tool.importlinter]` in the root pyproject.toml) hold on the
real tree, and each one fails on a deliberate bad import in a copy of it.

import-linter only reads the sources (grimp parses them), so no engine is needed: the
packages are found through PYTHONPATH, which each run sets to the tree it checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    "core/src",
    "adapters/airflow/src",
    "adapters/prefect/src",
    "plugins/mlflow/src",
    "plugins/ray/src",
)
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}
FLAGS = ("--no-cache", "--no-logo")
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(tree: Path) -> tuple[int, str]:
    """Run `lint-imports` on `tree` (its sources, its pyproject.toml, its tools/)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(tree / source) for source in SOURCES),
        "COLUMNS": "200",  # fewer wrapped lines in the report
    }
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(tree / "pyproject.toml"), *FLAGS],
        cwd=tree,  # import-linter puts the working directory on sys.path: tools.importcontracts
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def status(report: str, contract_id: str) -> str:
    """KEPT or BROKEN, as the report's summary says of the contract."""
    flat = " ".join(report.split())
    name = " ".join(CONTRACTS[contract_id]["name"].split())
    found = re.search(re.escape(name) + r" (KEPT|BROKEN)", flat)
    assert found, f"contract {contract_id!r} is not in the report:\n{report}"
    return found.group(1)


def test_real_tree_keeps_every_contract() -> None:
    returncode, report = lint_imports(ROOT)
    assert returncode == 0, report


@dataclass(frozen=True)
class BadImport:
    contract: str  # the id of the contract it must break
    edits: dict[str, str]  # file of the tree -> code appended to it
    links: tuple[str, ...]  # "importer -> imported" the report must name
    kept: tuple[str, ...] = ()  # contracts that must not see it (the break is this kind alone)


BAD_IMPORTS = {
    "capture imports the runtime": BadImport(
        "capture-runtime",
        {"core/src/pipec/capture/__init__.py": "from pipec.runtime import local\n"},
        ("pipec.capture -> pipec.runtime.local",),
    ),
    "a low layer imports a higher one": BadImport(
        "pipec-layers",
        {"core/src/pipec/ir.py": "from pipec.store import Store\n"},
        ("pipec.ir -> pipec.store",),
    ),
    "the runtime's values import a step": BadImport(
        "runtime-layers",
        {"core/src/pipec/runtime/values.py": "from pipec.runtime.step import run_node\n"},
        ("pipec.runtime.values -> pipec.runtime.step",),
    ),
    "a cycle closed inside a function": BadImport(
        "acyclic",
        {
            # two bottom-layer siblings, which may import each other, but not both ways
            "core/src/pipec/_version.py": "import pipec.ir\n",
            "core/src/pipec/ir.py": "\n\ndef _late():\n    from pipec import _version\n",
        },
        ("pipec._version -> pipec.ir", "pipec.ir -> pipec._version"),
        kept=("pipec-layers",),
    ),
    "a cycle closed under TYPE_CHECKING": BadImport(
        "acyclic",
        {
            "core/src/pipec/exprs.py": "import pipec.refs\n",
            "core/src/pipec/refs.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                "    from pipec.exprs import OPERATORS\n"
            ),
        },
        ("pipec.exprs -> pipec.refs", "pipec.refs -> pipec.exprs"),
        kept=("pipec-layers",),
    ),
    "a cycle through a package's __init__": BadImport(
        "acyclic",
        {"core/src/pipec/api/task.py": "\n\ndef _late():\n    import pipec\n"},
        ("pipec -> pipec.api", "pipec.api.task -> pipec"),
    ),
    "the Airflow adapter imports the engine": BadImport(
        "adapters",
        {"adapters/airflow/src/pipec_airflow/__init__.py": "from pipec.runtime import engine\n"},
        ("pipec_airflow -> pipec.runtime.engine",),
    ),
    "the Prefect adapter imports the package root": BadImport(
        "adapters",
        {"adapters/prefect/src/pipec_prefect/__init__.py": "from pipec import __version__\n"},
        ("pipec_prefect -> pipec",),
    ),
    "the MLflow plugin reads the store's internals": BadImport(
        "adapters",
        {"plugins/mlflow/src/pipec_mlflow/hooks.py": "from pipec.runtime import runstore\n"},
        ("pipec_mlflow.hooks -> pipec.runtime.runstore",),
    ),
    "the Ray plugin imports the runtime": BadImport(
        "adapters",
        {"plugins/ray/src/pipec_ray/queues.py": "from pipec.runtime.local import PipelineRun\n"},
        ("pipec_ray.queues -> pipec.runtime.local",),
    ),
    "a pipec module imports the package root": BadImport(
        "package-root",
        {"core/src/pipec/targets/__init__.py": "from pipec import __version__\n"},
        ("pipec.targets -> pipec",),
    ),
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the sources, the configuration and the custom contract types."""
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for source in (*SOURCES, "tools"):
        shutil.copytree(ROOT / source, tmp_path / source, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize("bad", BAD_IMPORTS.values(), ids=BAD_IMPORTS.keys())
def test_contract_fails_on_a_bad_import(tree: Path, bad: BadImport) -> None:
    for path, code in bad.edits.items():
        with (tree / path).open("a", encoding="utf-8") as module:
            module.write(f"\n# deliberately bad, for tests/lint/test_contracts.py\n{code}")

    returncode, report = lint_imports(tree)

    assert returncode != 0, report
    assert status(report, bad.contract) == "BROKEN", report
    flat = " ".join(report.split())
    for link in bad.links:
        assert f"{link} (l." in flat, f"{link} not named:\n{report}"
    for contract in bad.kept:
        assert status(report, contract) == "KEPT", report


def modules_of(package: str) -> set[str]:
    """The modules and subpackages directly in `package` (a package of core/src)."""
    directory = ROOT / "core" / "src" / package.replace(".", "/")
    return {
        f"{package}.{path.stem}"
        for path in directory.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file()
    }


@pytest.mark.parametrize(
    ("package", "contract"), [("pipec", "pipec-layers"), ("pipec.runtime", "runtime-layers")]
)
def test_every_module_has_a_layer(package: str, contract: str) -> None:
    layered = {
        module.strip()
        for layer in CONTRACTS[contract]["layers"]
        for module in re.split("[|:]", layer)
    }
    assert modules_of(package) - layered == set(), f"place these in the {contract!r} contract"
    assert layered - modules_of(package) == set(), f"no such modules, in the {contract!r} contract"
