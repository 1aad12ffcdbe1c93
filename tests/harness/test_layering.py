"""The layering DESIGN.md states, read from the code's imports (every import statement, also inside functions):
no import cycle among the project's modules; the harness imports no search method; no baseline depends on the
method under test (falcon); live tuning has no search loop of its own."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "falcon", "baselines")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imported(name: str, path: Path) -> set[str]:
    """The project modules `name` imports: `from a import b` names module `a.b` when that is a module, else `a`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                      for a in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    return {name: imported(name, path) for name, path in MODULES.items()}


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` ([] when there is none)."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        return e.args[1]
    return []


def test_no_import_cycle(graph):
    assert cycle(graph) == []


@pytest.mark.parametrize("layer, forbidden", [("harness", ("falcon", "baselines")), ("baselines", ("falcon",))])
def test_imports_flow_one_way(graph, layer, forbidden):
    wrong = sorted((a, b) for a, targets in graph.items() for b in targets
                   if a.split(".")[0] == layer and b.split(".")[0] in forbidden)
    assert wrong == []


def test_live_tuning_drives_searches_through_the_one_loop():
    tree = ast.parse((ROOT / "harness" / "tune.py").read_text())
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not calls & {"ask", "tell", "start", "begin"}
    assert "harness.loop" in imported("harness.tune", ROOT / "harness" / "tune.py")


def test_the_checker_sees_a_cycle():
    assert sorted(set(cycle({"harness.a": {"harness.b"}, "harness.b": {"harness.a"}}))) == ["harness.a", "harness.b"]
    assert imported("harness.loop", MODULES["harness.loop"]) >= {"harness.search", "harness.slo"}
