"""The import graph: no module imports itself back through others, and the protocol
packages never reach up to the package that reads captures for the analyses (rtcscope.scan),
to the analyses or to the CLI. Function-level imports count (they are cycles all the same);
imports under ``if TYPE_CHECKING:`` do not (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rtcscope"

PROTOCOL_PACKAGES = ("capture", "rtp", "sip", "media", "hep", "esl", "hepipe")
UPPER = ("rtcscope.scan", "rtcscope.analyze", "rtcscope.analyses", "rtcscope.cli")
# Known edges still to move up into rtcscope.scan; a new one fails the test.
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    out: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            module = node.module or ""
            if module.startswith("rtcscope"):
                out.add(module)
                out.update(f"{module}.{a.name}" for a in node.names)

        def visit_Import(self, node: ast.Import) -> None:
            out.update(a.name for a in node.names if a.name.startswith("rtcscope"))

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in out if name in known}


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_protocol_packages_do_not_reach_up() -> None:
    upward = set()
    for module, imported in _graph().items():
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in PROTOCOL_PACKAGES:
            continue
        for name in imported:
            if name.startswith(UPPER):
                upward.add(
                    (module, name if name.count(".") <= 2 else ".".join(name.split(".")[:3]))
                )
    assert upward <= ALLOWED_UPWARD, sorted(upward - ALLOWED_UPWARD)


def test_one_package_reads_captures_for_the_analyses() -> None:
    # The analyses and the commands read captures through rtcscope.scan; the protocol
    # packages may read a capture only through capture/ (reader, pipeline).
    graph = _graph()
    for name in ("rtcscope.analyze", *[m for m in graph if m.startswith("rtcscope.analyses")]):
        assert not any(i.startswith("rtcscope.capture.pipeline") for i in graph[name]), name
