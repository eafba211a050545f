"""The sandbox's modules import each other without a cycle.

A cycle between module-level imports makes the import order matter (a half-initialised module
raises ``ImportError`` or ``AttributeError`` depending on who is imported first) and hides
which module owns what. The graph is read from the source with ``ast``: only imports executed
at import time count (module body, including ``if``/``try`` blocks such as ``TYPE_CHECKING``);
imports inside functions are deferred and do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "ml_connector_sandbox"
SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def _module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (``__init__`` as the package)."""
    modules: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _top_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements that run on import: the body and the blocks of its ``if``/``try``/``with``."""
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.If):
            out += _top_level_statements(stmt.body) + _top_level_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            out += _top_level_statements(stmt.body) + _top_level_statements(stmt.orelse)
            out += _top_level_statements(stmt.finalbody)
            for handler in stmt.handlers:
                out += _top_level_statements(handler.body)
        elif isinstance(stmt, ast.With):
            out += _top_level_statements(stmt.body)
    return out


def _resolve(module: str, importer: str, is_package: bool, level: int) -> str:
    if level == 0:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_graph(root: Path = SANDBOX) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at module level."""
    modules = _module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for stmt in _top_level_statements(tree.body):
            if isinstance(stmt, ast.Import):
                deps |= {alias.name for alias in stmt.names if alias.name in modules}
            elif isinstance(stmt, ast.ImportFrom):
                source = _resolve(stmt.module or "", name, is_package, stmt.level)
                for alias in stmt.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:
                        deps.add(submodule)  # ``from pkg import module``
                    elif source in modules:
                        deps.add(source)  # ``from module import name``
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_sandbox_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 40, "the scan did not read the sandbox package"
    assert f"{PACKAGE}.dynamics.service" in graph[f"{PACKAGE}.dynamics"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_dynamics_app_and_its_service_import_one_way() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.dynamics.app" in graph[f"{PACKAGE}.dynamics.service"]
    assert f"{PACKAGE}.dynamics.service" not in graph[f"{PACKAGE}.dynamics.app"]


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_reads_module_level_imports_only(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text(
        "from typing import TYPE_CHECKING\n"
        f"from {PACKAGE} import two\n"
        "if TYPE_CHECKING:\n"
        f"    from {PACKAGE}.three import Thing\n"
        "def later():\n"
        f"    from {PACKAGE}.four import x\n"
    )
    for name in ("two", "three", "four"):
        (pkg / f"{name}.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.one"] == {f"{PACKAGE}.two", f"{PACKAGE}.three"}
