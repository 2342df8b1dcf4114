"""The domain library's module imports form no cycle, and the connectors keep their core/adapter split.

Built from the source with `ast` (module-level imports only, as Python runs them), so a cycle or a forbidden
edge fails here, before it fails at import time in a Lambda or leaks one system into another.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "layers" / "roster"
CORE = "roster.connectors.core"
SALESFORCE = "roster.connectors.salesforce"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "roster").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _graph() -> dict[str, set[str]]:
    """Module → the roster modules it imports at module level (`from a import b` means a.b when b is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    edges.add(child if child in modules else node.module)
        graph[name] = edges - {name}
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for edge in graph[todo.pop()] - seen:
            seen.add(edge)
            todo.append(edge)
    return seen


def test_the_library_has_no_import_cycle() -> None:
    graph = _graph()
    assert len(graph) > 50
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_connector_core_knows_no_system() -> None:
    graph = _graph()
    for module in (name for name in graph if name.startswith(CORE)):
        leaks = sorted(
            edge
            for edge in _reach(graph, module)
            if edge.startswith("roster.connectors.") and not edge.startswith(CORE)
        )
        assert not leaks, f"{module} reaches {leaks}"


def test_salesforce_import_and_export_do_not_reach_each_other() -> None:
    graph = _graph()
    importer, exporter = f"{SALESFORCE}.importer", f"{SALESFORCE}.exporter"
    assert exporter not in _reach(graph, importer)
    assert importer not in _reach(graph, exporter)
    assert {f"{CORE}.runs", f"{CORE}.planner"} <= _reach(graph, exporter)


def test_hubspot_reaches_no_other_system() -> None:
    graph = _graph()
    for module in (name for name in graph if name.startswith("roster.connectors.hubspot")):
        leaks = sorted(edge for edge in _reach(graph, module) if edge.startswith(SALESFORCE))
        assert not leaks, f"{module} reaches {leaks}"
    assert not {edge for edge in _reach(graph, "roster.api.hubspot") if edge.startswith(SALESFORCE)}
