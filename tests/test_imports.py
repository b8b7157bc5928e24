"""Every module under ponder/ imports, and the package's import graph has no cycle.

Two graphs, built statically from each module's source (`ast`), with an edge A -> B for every
`import ponder.B` / `from ponder... import ...` in A:

- the top-level graph (imports run when A is imported; not those inside functions or under
  `if TYPE_CHECKING:`): a cycle here is a partially initialised module at import time;
- the whole graph (also the deferred imports inside functions and the type-only ones): a cycle
  here is two layers that lean on each other (a lower module reaching up into the one that
  drives it), which deferring the import hides but does not remove.

The folders follow the data flow (DESIGN.md "Layout"), so both must be acyclic.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ponder"


def module_files() -> dict[str, tuple[Path, bool]]:
    """Module name -> (source file, is a package)."""
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return out


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], deferred: bool):
    """Import statements of `body`: those executed at import time, or with `deferred` all of them."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _type_checking(node):
            if deferred:
                yield from _imports(node.body, deferred)
            yield from _imports(node.orelse, deferred)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if deferred:
                yield from _imports(node.body, deferred)
        else:  # if / try / with / for / class bodies all run at import time
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []) or []:
                    yield from _imports([child], deferred) if isinstance(child, ast.stmt) else _imports(child.body, deferred)


def import_graph(deferred: bool) -> dict[str, set[str]]:
    """module -> the ponder modules it imports (a `from pkg import name` counts as pkg.name when
    that is a module, else as pkg)."""
    mods = module_files()
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        package = name if is_pkg else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body, deferred):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in mods)
                continue
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                if f"{base}.{a.name}" in mods:
                    edges.add(f"{base}.{a.name}")
                elif base in mods:
                    edges.add(base)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the directed graph, or None."""
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)) is not None:
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)) is not None:
            return found
    return None


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_every_module_imports():
    for name in module_files():
        if name.endswith("__main__"):  # a script: importing it runs the CLI
            continue
        importlib.import_module(name)


@pytest.mark.parametrize("deferred", [False, True], ids=["top-level", "with-deferred-imports"])
def test_no_import_cycle(deferred):
    cycle = find_cycle(import_graph(deferred))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
