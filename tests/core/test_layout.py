"""Core stays engine-free: no Airflow or Prefect import anywhere in the pipec distribution."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "src" / "pipec"
ENGINES = ("airflow", "prefect", "pipec_airflow", "pipec_prefect")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_engine() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert files, "core sources not found"
    offenders = {
        str(f.relative_to(CORE)): sorted(
            m for m in imported_modules(f) if m.split(".")[0] in ENGINES
        )
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}
