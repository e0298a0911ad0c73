"""The import graph stays a set of layers (README "Layers"): no package of `gantral`
imports another that imports it back, no module does, and the import-linter contracts in
pyproject.toml hold. Imports inside functions count: grimp reads them too."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gantral", cache_dir=None)


def _cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan's), each as one
    closed path through it so a failure shows the loop to cut."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(_loop(sorted(component), edges))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _loop(component: list[str], edges: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest path from the component's first node back to itself."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    return component


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_package_imports_a_package_that_imports_it_back(graph: grimp.ImportGraph) -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if _package(module) != _package(imported):
                edges[_package(module)].add(_package(imported))
    cycles = _cycles(edges)
    assert not cycles, "package cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    # Imports under `if TYPE_CHECKING:` never run: a module may name in its annotations a
    # type whose module imports it (policy.levels annotates with policy.models' Policy,
    # whose validator resolves every level).
    graph = grimp.build_graph("gantral", cache_dir=None, exclude_type_checking_imports=True)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    cycles = _cycles(edges)
    assert not cycles, "module cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_import_linter_contracts_hold() -> None:
    # A process of its own: lint-imports reconfigures logging (disabling every logger that
    # exists), which would leak into the tests that run after this one.
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_cycle_is_found_and_shown() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert _cycles(edges) == [["a", "b", "c", "a"]]


def test_every_area_has_a_place_in_the_layers(graph: grimp.ImportGraph) -> None:
    """import-linter checks only the modules a contract names: a new package left out of
    the layers could import anything."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["type"] == "layers"]
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    areas = {".".join(m.split(".")[:2]) for m in graph.modules if m.count(".") >= 1}
    assert sorted(areas - placed) == []
