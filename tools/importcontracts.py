"""Import-linter contract types of this repository (registered under `contract_types` in the
root pyproject.toml's `[tool.importlinter]`).

`acyclic`: no import cycle passes through a module of the given packages, counting every
import grimp sees (module level, inside functions, under `if TYPE_CHECKING:`). Import-linter's
own `acyclic_siblings` looks for cycles between the *siblings* of a package, each squashed
with its descendants, so it cannot see a cycle between a package's `__init__` and one of its
own modules (`pipec` -> `pipec.api` -> `pipec`, or `pkg` -> `pkg.mod` -> `pkg`): here the
graph is the modules themselves, and every strongly connected component of it is a cycle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import pairwise

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


class AcyclicContract(Contract):
    """No module of `packages` (a package and all its descendants) is on an import cycle.

    Configuration options:
        - packages:        the packages whose modules must not be on a cycle.
        - ignore_imports:  imports to leave out of the graph first (optional), as elsewhere.
        - unmatched_ignore_imports_alerting: "none", "warn" or "error" (the default).
    """

    type_name = "acyclic"

    packages = fields.ListField(subfield=fields.ModuleField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)
    unmatched_ignore_imports_alerting = fields.EnumField(
        contract_utils.AlertLevel, default=contract_utils.AlertLevel.ERROR
    )

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=self.unmatched_ignore_imports_alerting,  # type: ignore[arg-type]
        )
        checked: set[str] = set()
        for package in self.packages:  # type: ignore[attr-defined]
            if package.name not in graph.modules:
                raise ValueError(f"Module '{package.name}' does not exist.")
            checked |= {package.name} | graph.find_descendants(package.name)

        # Every module of the graph takes part, so a cycle that leaves the packages and comes
        # back (through another root package) is found too.
        edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
        cycles = []
        for component in _strongly_connected_components(edges):
            if len(component) > 1 and checked & component:
                cycle = _shortest_cycle(min(checked & component), component, edges)
                links = [
                    {
                        "importer": importer,
                        "imported": imported,
                        "line_numbers": sorted(
                            d["line_number"]
                            for d in graph.get_import_details(importer=importer, imported=imported)
                        ),
                    }
                    for importer, imported in pairwise(cycle)
                ]
                cycles.append({"modules": sorted(component), "links": links})

        output.verbose_print(verbose, f"Checked {len(checked)} modules for import cycles.")
        return ContractCheck(
            kept=not cycles,
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
            metadata={"cycles": sorted(cycles, key=lambda c: c["modules"])},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            modules = cycle["modules"]
            output.print_error(f"Import cycle between {len(modules)} modules:", bold=True)
            output.print_error(", ".join(modules), bold=False)
            output.new_line()
            output.print_error("for example:", bold=False)
            for link in cycle["links"]:
                lines = ", ".join(str(n) for n in link["line_numbers"]) or "?"
                output.print_error(
                    f"- {link['importer']} -> {link['imported']} (l.{lines})", bold=False
                )
            output.new_line()


def _strongly_connected_components(edges: dict[str, list[str]]) -> Iterable[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on long import chains)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, ()))))
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    yield component


def _shortest_cycle(start: str, component: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest cycle from `start` back to itself inside `component` (breadth first)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in edges[node]:
            if successor not in component or successor == node:
                continue
            if successor == start:
                path = [node]  # back from the last module to start
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"{start} is on no cycle of its component")
