"""Step code as source: find a function's text in its file, normalise it, hash it.

A step runs without the user's module (as in ClearML), so its code is the
function's own source plus the helpers it is given, read here while capturing.
Whether that code is self-contained is checked by `pipec.validate`, with the
analysis in `pipec.source`.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import sys
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipec.errors import CaptureError, display_path
from pipec.ir import Helper, SourceLocation, StepCode
from pipec.source import file_index, free_globals, imported_packages, module_imports


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
    else:
        path = file or original_function(fn).__code__.co_filename
    name = getattr(fn, "__name__", repr(fn))
    if not os.path.exists(path):
        raise CaptureError(f"cannot find the source of {name!r}: its file {path!r} does not exist")
    index = file_index(path)
    if decorator_line is None:
        node = index.function(orig.__name__, orig.__code__.co_firstlineno)
        kept = node.decorator_list if node is not None else []
    else:
        found = index.decorated_at(decorator_line)
        if found is None:
            # `component(...)(fn)`: applied by a call, not stacked on the def
            return function_source(fn)
        node, at = found
        kept = node.decorator_list[at + 1 :]
    if node is None:
        raise CaptureError(f"cannot find the source of {name!r} in {display_path(path)}")
    start = kept[0].lineno if kept else node.lineno
    text = textwrap.dedent("\n".join(index.lines[start - 1 : node.end_lineno])) + "\n"
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


@functools.lru_cache(maxsize=1024)
def normalise(source: str) -> str:
    """Source with comments and layout removed, so reformatting does not change the hash
    (kept per source: a function shared by many steps is hashed once)."""
    return ast.unparse(ast.parse(textwrap.dedent(source)))


def code_hash(
    kind: str, entrypoint: str, source: str, helpers: list[Helper], imports: Sequence[str] = ()
) -> str:
    payload: dict[str, Any] = {
        "kind": kind,
        "entrypoint": entrypoint,
        "source": normalise(source) if source else "",
        "helpers": [[h.name, normalise(h.source)] for h in helpers],
    }
    if imports:  # a step without module imports keeps the hash it had before they shipped
        payload["imports"] = list(imports)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def global_imports(src: FunctionSource, helpers: list[Helper]) -> list[str]:
    """The module-level imports of the function's file that bind a name the function (or
    a helper from the same file) reads from module level: ClearML imports the pipeline
    file's imports at the start of every step (`skip_global_imports=False`), and these are
    the ones that can matter to this step. Helpers from other files are checked against
    their own code (`pipec.validate`)."""
    here = display_path(src.file)
    pieces = [src.source] + [h.source for h in helpers if h.location and h.location.file == here]
    read = {name for piece in pieces for name in free_globals(piece)}
    return [text for text, bound in module_imports(src.file) if read & set(bound)]


def step_packages(src: FunctionSource, helpers: list[Helper], imports: Sequence[str]) -> list[str]:
    """What a step imports that is neither the standard library, pipec itself nor a module
    of the project beside the pipeline file: ClearML records these as the step's
    requirements when the user gives no `packages`."""
    here = os.path.dirname(src.file)
    names = imported_packages("\n".join([*imports, src.source, *(h.source for h in helpers)]))
    third_party = [
        name
        for name in names
        if name not in sys.stdlib_module_names
        and name not in ("pipec", "clearml")
        and not os.path.exists(os.path.join(here, name + ".py"))
        and not os.path.isdir(os.path.join(here, name))
    ]
    # what to install, where this machine can tell: `sklearn` is `scikit-learn`
    return list(dict.fromkeys(d for name in third_party for d in _distributions(name)))


def local_modules(
    src: FunctionSource, helpers: list[Helper], imports: Sequence[str]
) -> dict[str, str]:
    """sha256 of the source of each module of the project beside the pipeline file that
    the step imports, and of those they import in turn: what the step's code hash cannot
    see, for the cache key (`pipec.cache`). A package counts as all its `.py` files."""
    here = os.path.dirname(src.file)
    found: dict[str, str] = {}
    todo = imported_packages("\n".join([*imports, src.source, *(h.source for h in helpers)]))
    while todo:
        name = todo.pop()
        if name in found or name in sys.stdlib_module_names:
            continue
        files = _module_files(here, name)
        if not files:
            continue
        digest = hashlib.sha256()
        for path in files:
            text_digest, imported = _module_file(path, os.stat(path).st_mtime_ns)
            digest.update(f"{os.path.relpath(path, here)}\0{text_digest}\0".encode())
            todo.extend(imported)
        found[name] = digest.hexdigest()
    return dict(sorted(found.items()))


@functools.lru_cache(maxsize=256)
def _module_file(path: str, mtime_ns: int) -> tuple[str, tuple[str, ...]]:
    """A module file's sha256 and the top-level names it imports, read once per version
    of the file however many steps import it."""
    with open(path, "rb") as handle:
        text = handle.read()
    imported: tuple[str, ...] = ()
    with contextlib.suppress(SyntaxError, ValueError):
        imported = tuple(imported_packages(text.decode("utf-8", "replace")))
    return hashlib.sha256(text).hexdigest(), imported


def _module_files(here: str, name: str) -> list[str]:
    """The source files of a top-level module `name` in folder `here` (none if it is not
    there)."""
    single = os.path.join(here, name + ".py")
    if os.path.isfile(single):
        return [single]
    folder = os.path.join(here, name)
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return []
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()  # a stable order, so a stable hash
        paths.extend(os.path.join(root, file) for file in sorted(files) if file.endswith(".py"))
    return paths


@functools.cache
def _installed() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def _distributions(module: str) -> list[str]:
    """The installed distributions that provide a top-level module (the module's own name
    when none here does)."""
    return _installed().get(module) or [module]


def step_code(
    kind: str, src: FunctionSource, helpers: list[Helper], imports: Sequence[str] = ()
) -> StepCode:
    return StepCode(
        kind=kind,  # type: ignore[arg-type]
        source=src.source,
        entrypoint=src.name,
        helpers=helpers,
        imports=list(imports),
        decorators=src.decorators,
        path=display_path(src.file),
        hash=code_hash(kind, src.name, src.source, helpers, imports),
        modules=local_modules(src, helpers, imports),
    )
