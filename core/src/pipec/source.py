"""Static analysis of Python source: what a piece of code reads, returns and where.

Plain functions over source text and files, with no knowledge of pipelines, so that
capture (finding a step's code), validation (checking it is self-contained) and the
runtime (replaying a pipeline's logic) can share them.

Internal.
"""

from __future__ import annotations

import ast
import builtins
import collections
import functools
import os
import symtable

from pipec.errors import display_path
from pipec.ir import SourceLocation

_MODULE_DUNDERS = frozenset({"__name__", "__file__", "__doc__"})
_BUILTINS = frozenset(dir(builtins)) | _MODULE_DUNDERS


_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _def_start(node: _FunctionNode) -> int:
    """The first line of a def: its first decorator's, else the `def`'s."""
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


class FileIndex:
    """One parse of a file and the lookups capture makes in it, each built in one walk.

    A pipeline file with N steps is asked about N functions and N decorator lines:
    walking its whole tree for each one made capture quadratic in the file's size.
    """

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.tree = ast.parse(text, filename=path)
        self.statements = _statements(self.tree)
        self.functions = [node for node in self.statements if isinstance(node, _FunctionNode)]
        self._by_start: dict[tuple[str, int], _FunctionNode] = {}
        self._by_decorator_line: dict[int, tuple[_FunctionNode, int]] = {}
        for node in self.functions:  # walk order: the first match wins, as a search would
            self._by_start.setdefault((node.name, _def_start(node)), node)
            for index, d in enumerate(node.decorator_list):
                for line in range(d.lineno, (d.end_lineno or d.lineno) + 1):
                    self._by_decorator_line.setdefault(line, (node, index))

    def function(self, name: str, start: int) -> _FunctionNode | None:
        """The def named `name` whose first line (decorators included) is `start`."""
        return self._by_start.get((name, start))

    def decorated_at(self, line: int) -> tuple[_FunctionNode, int] | None:
        """The def with a decorator spanning `line`, and that decorator's index."""
        return self._by_decorator_line.get(line)

    @functools.cached_property
    def _statements(self) -> dict[int, ast.stmt]:
        """Each line's innermost statement (the one starting last among those covering it)."""
        found: dict[int, ast.stmt] = {}
        for node in self.statements:
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                if line not in found or node.lineno >= found[line].lineno:
                    found[line] = node
        return found

    def statement(self, line: int) -> ast.stmt | None:
        return self._statements.get(line)

    @functools.cached_property
    def imports(self) -> list[tuple[str, list[str]]]:
        """See `module_imports`."""
        found: list[tuple[str, list[str]]] = []
        pending: list[ast.stmt] = list(self.tree.body)
        while pending:
            node = pending.pop(0)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                    found.append((ast.unparse(node), _bound_names(node)))
            elif isinstance(node, (ast.Try, ast.If, ast.With)) and not _is_main_guard(node):
                inner = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
                for handler in getattr(node, "handlers", []):
                    inner.extend(handler.body)
                pending[:0] = inner
        return found


_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _statements(tree: ast.Module) -> list[ast.stmt]:
    """Every statement of a module, breadth first as `ast.walk` finds them, without
    visiting expressions (no statement is inside one): most of a pipeline file's nodes
    are the arguments of its `add_function_step` calls."""
    found: list[ast.stmt] = []
    pending: collections.deque[ast.AST] = collections.deque(tree.body)
    while pending:
        node = pending.popleft()
        if isinstance(node, ast.stmt):
            found.append(node)
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                pending.extend(item for item in value if isinstance(item, _BLOCKS))
    return found


@functools.lru_cache(maxsize=64)
def _index(path: str, mtime: float) -> FileIndex:
    with open(path, encoding="utf-8") as handle:
        return FileIndex(path, handle.read())


def file_index(path: str) -> FileIndex:
    """The file's index, parsed again only when the file has changed."""
    return _index(path, os.path.getmtime(path))


def statement_at(path: str, line: int) -> ast.stmt | None:
    """The innermost statement covering a line of a file (None when unreadable)."""
    try:
        return file_index(path).statement(line)
    except (OSError, SyntaxError, ValueError):
        return None


def decorator_location(path: str, line: int) -> SourceLocation:
    """Where a decorator call starts (Python 3.10 reports another line of a multi-line call)."""
    try:
        found = file_index(path).decorated_at(line)
    except (OSError, SyntaxError, ValueError):
        found = None
    if found is not None:
        node, index = found
        line = node.decorator_list[index].lineno
    return SourceLocation(file=display_path(path), line=line)


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
    return dict(_free_globals(source))


@functools.lru_cache(maxsize=1024)
def _free_globals(source: str) -> tuple[tuple[str, int], ...]:
    """`free_globals`, once per source: a function shared by many steps is asked each time."""
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
    return tuple((name, lines.get(name, 1)) for name in sorted(free))


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


def _bound_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The names an import statement binds (`import a.b` binds `a`); none for `*`."""
    if isinstance(node, ast.Import):
        return [alias.asname or alias.name.partition(".")[0] for alias in node.names]
    return [alias.asname or alias.name for alias in node.names if alias.name != "*"]


def bound_names(statement: str) -> list[str]:
    """The names an import statement's source binds."""
    node = ast.parse(statement).body[0]
    assert isinstance(node, (ast.Import, ast.ImportFrom)), statement
    return _bound_names(node)


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, whose imports belong to the script, not its module."""
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def module_imports(path: str) -> list[tuple[str, list[str]]]:
    """The module-level import statements of a file, as (source, names bound), in file
    order: those at top level and inside top-level `try` / `if` / `with` blocks (a
    `try: import torch` is still a module import), not those in functions, classes or the
    `if __name__ == "__main__":` block, and not `from __future__` ones."""
    try:
        return list(file_index(path).imports)
    except (OSError, SyntaxError, ValueError):
        return []


def imported_packages(source: str) -> list[str]:
    """The top-level names of the absolute imports anywhere in `source`, in order."""
    return list(_imported_packages(source))


@functools.lru_cache(maxsize=1024)
def _imported_packages(source: str) -> tuple[str, ...]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.partition(".")[0])
    return tuple(dict.fromkeys(names))


def calls_after(path: str, line: int) -> list[tuple[str, int]]:
    """(name, line) of each call by name (`f(...)`) that can run after the statement at
    `line` of a file, in the function around it: the rest of that statement, everything
    below it, and the whole of each loop around it (it may come round again). Empty
    when the file is unreadable or the line is in no function."""
    try:
        index = file_index(path)
    except (OSError, SyntaxError, ValueError):
        return []
    functions = [
        node for node in index.functions if node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    if not functions:
        return []
    function = max(functions, key=lambda node: node.lineno)
    loops = (ast.For, ast.AsyncFor, ast.While)
    start = min(
        [line]
        + [
            node.lineno
            for node in ast.walk(function)
            if isinstance(node, loops) and node.lineno <= line <= (node.end_lineno or line)
        ]
    )
    return sorted(
        (node.func.id, node.lineno)
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.lineno >= start
    )
