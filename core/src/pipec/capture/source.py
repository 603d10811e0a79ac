"""Step code as source: find it, normalise it, hash it, and check it is self-contained.

A step runs without the user's module (as in ClearML), so its code is the
function's own source plus the helpers it is given. What the function reads
from module level without importing it would fail far away at run time; here
it is found while capturing, with the line it is on.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import inspect
import json
import os
import symtable
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

from pipec.errors import CaptureError, display_path
from pipec.ir import Helper, SourceLocation, StepCode

_MODULE_DUNDERS = frozenset({"__name__", "__file__", "__doc__"})
_BUILTINS = frozenset(dir(builtins)) | _MODULE_DUNDERS


@dataclass(frozen=True)
class FunctionSource:
    """A function's text as it will be shipped, and where it came from."""

    name: str
    source: str
    file: str
    first_line: int
    decorators: list[str] = field(default_factory=list)

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(file=display_path(self.file), line=self.first_line)

    def file_line(self, source_line: int) -> SourceLocation:
        return SourceLocation(file=display_path(self.file), line=self.first_line + source_line - 1)


@functools.lru_cache(maxsize=64)
def _parse_file(path: str, mtime: float) -> tuple[list[str], ast.Module]:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text.splitlines(), ast.parse(text, filename=path)


def _file_tree(path: str) -> tuple[list[str], ast.Module]:
    return _parse_file(path, os.path.getmtime(path))


def statement_at(path: str, line: int) -> ast.stmt | None:
    """The innermost statement covering a line of a file (None when unreadable)."""
    try:
        _, tree = _file_tree(path)
    except (OSError, SyntaxError, ValueError):
        return None
    found = None
    for node in ast.walk(tree):
        covers = isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or line)
        if covers and (found is None or node.lineno >= found.lineno):
            found = node
    return found


def decorator_location(path: str, line: int) -> SourceLocation:
    """Where a decorator call starts (Python 3.10 reports another line of a multi-line call)."""
    try:
        _, tree = _file_tree(path)
    except (OSError, SyntaxError, ValueError):
        return SourceLocation(file=display_path(path), line=line)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                if d.lineno <= line <= (d.end_lineno or d.lineno):
                    return SourceLocation(file=display_path(path), line=d.lineno)
    return SourceLocation(file=display_path(path), line=line)


def original_function(fn: Any) -> types.FunctionType:
    """The user's own function under wrappers (functools.wraps, or a plain closure)."""
    fn = inspect.unwrap(fn)
    if isinstance(fn, types.FunctionType) and "<locals>" in fn.__qualname__ and fn.__closure__:
        inner = [
            cell.cell_contents
            for cell in fn.__closure__
            if isinstance(cell.cell_contents, types.FunctionType)
            and "<locals>" not in cell.cell_contents.__qualname__
        ]
        if len(inner) == 1:
            return original_function(inner[0])
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"expected a Python function, got {type(fn).__name__}")
    return fn


def _def_start(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def function_source(
    fn: Any, *, decorator_line: int | None = None, file: str | None = None
) -> FunctionSource:
    """The source of `fn` from its file.

    With `decorator_line` (the line of `@PipelineDecorator.component`), the def
    carrying that decorator is taken and only the decorators below it are kept:
    they wrap the step, so they are part of its code. Without it, the function's
    own def is found and all its decorators are kept.
    """
    if decorator_line is None:
        orig = original_function(fn)
        path = orig.__code__.co_filename
        first = orig.__code__.co_firstlineno

        def matches(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
            return node.name == orig.__name__ and _def_start(node) == first

    else:
        path = file or original_function(fn).__code__.co_filename

        def matches(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
            return any(
                d.lineno <= decorator_line <= (d.end_lineno or d.lineno)
                for d in node.decorator_list
            )

    name = getattr(fn, "__name__", repr(fn))
    if not os.path.exists(path):
        raise CaptureError(f"cannot find the source of {name!r}: its file {path!r} does not exist")
    lines, tree = _file_tree(path)
    node = next(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and matches(n)
        ),
        None,
    )
    if node is None and decorator_line is not None:
        # `component(...)(fn)`: applied by a call, not stacked on the def
        return function_source(fn)
    if node is None:
        raise CaptureError(f"cannot find the source of {name!r} in {display_path(path)}")
    kept = node.decorator_list
    if decorator_line is not None:
        index = next(
            i
            for i, d in enumerate(node.decorator_list)
            if d.lineno <= decorator_line <= (d.end_lineno or d.lineno)
        )
        kept = node.decorator_list[index + 1 :]
    start = kept[0].lineno if kept else node.lineno
    text = textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno])) + "\n"
    return FunctionSource(
        name=node.name,
        source=text,
        file=path,
        first_line=start,
        decorators=[ast.unparse(d) for d in kept],
    )


def decorator_roots(src: FunctionSource) -> list[str]:
    """The module-level names the kept decorators are built from."""
    roots = []
    for text in src.decorators:
        expr = ast.parse(text, mode="eval").body
        while isinstance(expr, (ast.Call, ast.Attribute)):
            expr = expr.func if isinstance(expr, ast.Call) else expr.value
        if isinstance(expr, ast.Name):
            roots.append(expr.id)
    return roots


def normalise(source: str) -> str:
    """Source with comments and layout removed, so reformatting does not change the hash."""
    return ast.unparse(ast.parse(textwrap.dedent(source)))


def code_hash(kind: str, entrypoint: str, source: str, helpers: list[Helper]) -> str:
    payload = {
        "kind": kind,
        "entrypoint": entrypoint,
        "source": normalise(source) if source else "",
        "helpers": [[h.name, normalise(h.source)] for h in helpers],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def step_code(kind: str, src: FunctionSource, helpers: list[Helper]) -> StepCode:
    return StepCode(
        kind=kind,  # type: ignore[arg-type]
        source=src.source,
        entrypoint=src.name,
        helpers=helpers,
        decorators=src.decorators,
        path=display_path(src.file),
        hash=code_hash(kind, src.name, src.source, helpers),
    )


class _StripAnnotations(ast.NodeTransformer):
    """Annotations are never evaluated in step code (it runs with postponed annotations)."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)


def _annotation_ids(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        parts: list[ast.AST | None] = []
        if isinstance(node, ast.arg):
            parts.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            parts.append(node.annotation)
        ids.update(id(sub) for part in parts if part is not None for sub in ast.walk(part))
    return ids


def _reads_global(table: symtable.SymbolTable, name: str) -> bool:
    """Whether `name` in this scope is read from module level.

    `is_local()` is checked too: symtable treats any scope named "top" as the module.
    """
    if table.get_type() == "module":
        return True
    try:
        symbol = table.lookup(name)
    except KeyError:
        return True
    return symbol.is_global() and not symbol.is_local()


_SCOPES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip


def _child_scope(table: symtable.SymbolTable, node: ast.AST) -> symtable.SymbolTable:
    """The symbol table of a nested scope (comprehensions may be inlined: then the same)."""
    name = getattr(node, "name", None)
    for child in table.get_children():
        if child.get_lineno() == node.lineno and (name is None or child.get_name() == name):
            return child
    return table


def free_globals(source: str) -> dict[str, int]:
    """Names the code reads from module level without defining them, with their first line.

    Builtins are not counted; annotations are not counted (they are not evaluated).
    """
    tree = ast.parse(source)
    stripped = _StripAnnotations().visit(ast.parse(source))
    table = symtable.symtable(ast.unparse(stripped), "<step>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    free = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_referenced() and s.get_name() not in defined
    }
    pending = list(table.get_children())
    while pending:
        child = pending.pop()
        pending.extend(child.get_children())
        free.update(
            s.get_name()
            for s in child.get_symbols()
            if s.is_referenced()
            and s.get_name() not in defined
            and _reads_global(child, s.get_name())
        )
    free -= _BUILTINS
    lines = _global_read_lines(source, tree, free)
    return {name: lines.get(name, 1) for name in sorted(free)}


def _global_read_lines(source: str, tree: ast.Module, names: set[str]) -> dict[str, int]:
    """First line where each name is read in a scope where it is global."""
    skip = _annotation_ids(tree)
    lines: dict[str, int] = {}
    pending: list[tuple[ast.AST, symtable.SymbolTable]] = [
        (tree, symtable.symtable(source, "<step>", "exec"))
    ]
    while pending:
        node, scope = pending.pop()
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.Name)
                and child.id in names
                and id(child) not in skip
                and _reads_global(scope, child.id)
            ):
                lines[child.id] = min(lines.get(child.id, child.lineno), child.lineno)
            inner = _child_scope(scope, child) if isinstance(child, _SCOPES) else scope
            pending.append((child, inner))
    return lines


def returned_tuple_sizes(source: str) -> list[tuple[int, int]]:
    """(size, line) of each `return a, b, ...` in the function's own body."""
    tree = ast.parse(source)
    func = tree.body[0]
    out = []
    pending: list[ast.AST] = list(ast.iter_child_nodes(func))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Tuple)
            and not any(isinstance(e, ast.Starred) for e in node.value.elts)
        ):
            out.append((len(node.value.elts), node.lineno))
        pending.extend(ast.iter_child_nodes(node))
    return sorted(out, key=lambda item: item[1])
