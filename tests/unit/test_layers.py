"""The import structure holds: callbridge's parts (its top-level modules and subpackages) import one another without
a cycle, so each part stands on the parts below it (what `farm-studio look` draws as no arrow running back up);
the vendor's portal imports nothing of callbridge and callbridge nothing of the portal (it reaches callbridge over
the wire only, as a vendor reaches Microsoft's cloud). Every import counts, a function's own included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def imported(path: Path) -> Iterator[str]:
    """The absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def part_of(module: str, top: str) -> str | None:
    """``callbridge.calling.call`` -> ``callbridge.calling``: the part of ``top`` a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == top and len(parts) > 1 else None


def parts_graph(top: str) -> dict[str, set[str]]:
    """Each part of ``top`` and the other parts it imports (names that are not parts, like a package's
    re-exported attribute, are left out)."""
    parts = {f"{top}.{p.stem}" for p in (SRC / top).iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    graph: dict[str, set[str]] = {}
    for path in (SRC / top).rglob("*.py"):
        source = part_of(".".join(path.relative_to(SRC).with_suffix("").parts), top)
        if source is None or "migrations" in path.parts:
            continue
        graph.setdefault(source, set()).update({part_of(m, top) for m in imported(path)} & parts - {source})
    return graph


def a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    seen: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if found := visit(target):
                return found
        path.pop()
        return None

    for start in sorted(graph):
        if found := visit(start):
            return found
    return None


def test_callbridge_parts_import_one_another_without_a_cycle() -> None:
    graph = parts_graph("callbridge")
    assert len(graph) > 20 and "callbridge.calling" in graph["callbridge.pstn"]  # the graph was read
    assert a_cycle(graph) is None, " -> ".join(a_cycle(graph) or [])


def test_the_portal_and_callbridge_import_nothing_of_each_other() -> None:
    for top, other in (("portal", "callbridge"), ("callbridge", "portal")):
        for path in (SRC / top).rglob("*.py"):
            crossing = [m for m in imported(path) if m == other or m.startswith(f"{other}.")]
            assert not crossing, f"{path.relative_to(SRC)} imports {crossing}"


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
