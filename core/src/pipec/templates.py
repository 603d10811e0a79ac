"""Task templates: how `add_step(base_task_project=..., base_task_name=...)` finds a script.

In ClearML a task script becomes a template when it runs once (`Task.init` registers
it on the server). pipec keeps the same habit without a server: a script becomes a
template when it is run by hand (its `Task.init` registers it) or with
`pipec task register SCRIPT`. The index lives in `$PIPEC_HOME/templates` (default
`.pipec/` in the working directory). When a name is not registered, `.py` files
beside the pipeline file are searched for a matching literal
`Task.init(project_name=..., task_name=...)`, so a checked-out project works as is.
The step carries the script's source, so it runs anywhere.

Internal.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipec.errors import PipelineError, display_path


@dataclass(frozen=True)
class TaskTemplate:
    id: str
    project: str
    name: str
    script: str
    task_type: str | None
    line: int
    registered_at: float = 0.0


def pipec_home() -> Path:
    return Path(os.environ.get("PIPEC_HOME", ".pipec"))


def registry_dir() -> Path:
    return pipec_home() / "templates"


def template_id(project: str, name: str) -> str:
    """Stable for a (project, name) pair, in ClearML's 32-hex task id shape."""
    return hashlib.sha256(f"{project}\0{name}".encode()).hexdigest()[:32]


_INIT_ARGS = ("project_name", "task_name", "task_type")


def find_task_init(script: str | Path) -> TaskTemplate | None:
    """The script's `Task.init(...)` call, when its project and task names are literals
    or expressions the script's module-level imports and assignments give."""
    path = os.path.abspath(script)
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "init"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "Task"
        ):
            continue
        values: dict[str, ast.expr] = dict(zip(_INIT_ARGS, node.args, strict=False))
        values.update({kw.arg: kw.value for kw in node.keywords if kw.arg in _INIT_ARGS})
        literal = {
            key: value.value
            for key, value in values.items()
            if isinstance(value, ast.Constant) and isinstance(value.value, str)
        }
        literal.update(_evaluated(tree, node, values, path, skip=set(literal)))
        task_type = values.get("task_type")
        if isinstance(task_type, ast.Attribute):  # TaskTypes.training
            literal["task_type"] = task_type.attr
        if "project_name" in literal and "task_name" in literal:
            project, name = literal["project_name"], literal["task_name"]
            return TaskTemplate(
                id=template_id(project, name),
                project=project,
                name=name,
                script=path,
                task_type=literal.get("task_type", "training"),  # Task.init's default
                line=node.lineno,
            )
    return None


def _evaluated(
    tree: ast.Module, call: ast.Call, values: dict[str, ast.expr], path: str, skip: set[str]
) -> dict[str, str]:
    """The `Task.init` names written as expressions (`project_name=CONFIG.PROJECT`), worked
    out the way running the script would: its module-level imports and assignments before
    the call run, with the script's folder importable, and the expressions are evaluated
    there. What cannot be worked out this way (the call is inside a function, or the
    statements fail) is left out: the script then has to be registered by running it."""
    wanted = {key: expr for key, expr in values.items() if key not in skip and key != "task_type"}
    at_top = any(
        isinstance(stmt, (ast.Expr, ast.Assign))
        and stmt.lineno <= call.lineno <= (stmt.end_lineno or stmt.lineno)
        for stmt in tree.body
    )
    if not wanted or not at_top:
        return {}
    simple = (ast.Import, ast.ImportFrom, ast.Assign)
    before = [stmt for stmt in tree.body if stmt.lineno < call.lineno and isinstance(stmt, simple)]
    namespace: dict[str, object] = {"__name__": "__pipec_template__", "__file__": path}
    saved = list(sys.path)
    sys.path.insert(0, os.path.dirname(path))
    try:
        exec(compile(ast.Module(body=before, type_ignores=[]), path, "exec"), namespace)
        found = {key: eval(compile(ast.Expression(expr), path, "eval"), namespace)
                 for key, expr in wanted.items()}  # fmt: skip
    except Exception:
        return {}
    finally:
        sys.path[:] = saved
    return {key: value for key, value in found.items() if isinstance(value, str)}


def register(script: str | Path) -> TaskTemplate:
    """Register a task script as a template (what running it once does in ClearML)."""
    found = find_task_init(script)
    if found is None:
        raise PipelineError(
            f"{display_path(str(script))} has no module-level Task.init(project_name=..., "
            "task_name=...) with names it can work out (literals, or values of the script's "
            "module-level imports and assignments), so it cannot be found as a template"
        )
    found = TaskTemplate(**{**asdict(found), "registered_at": time.time()})
    registry_dir().mkdir(parents=True, exist_ok=True)
    target = registry_dir() / f"{found.id}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(found), indent=2))
    os.replace(tmp, target)
    return found


def registered() -> list[TaskTemplate]:
    if not registry_dir().is_dir():
        return []
    out = []
    for entry in sorted(registry_dir().glob("*.json")):
        try:
            out.append(TaskTemplate(**json.loads(entry.read_text())))
        except (ValueError, TypeError):
            continue
    return out


def lookup(
    *,
    task_id: str | None = None,
    project: str | None = None,
    name: str | None = None,
    search_dirs: list[str] = (),  # type: ignore[assignment]
) -> TaskTemplate | None:
    """A template by id, or by (project, name): registered first, then scripts nearby."""
    candidates = [t for t in registered() if os.path.isfile(t.script)]
    for directory in search_dirs:
        for script in sorted(Path(directory).glob("*.py")):
            found = find_task_init(script)
            if found is not None:
                candidates.append(found)
    for template in candidates:
        if task_id is not None:
            if template.id == task_id:
                return template
        elif template.name == name and (project is None or template.project == project):
            return template
    return None
