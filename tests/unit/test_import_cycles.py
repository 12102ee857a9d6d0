"""No circle of imports inside jcbot (STYLE.md: "a circle of imports hidden inside functions").

Every module of the package is parsed with `ast`; every import counts, at module level
or inside a function (an import hidden in a function is still a dependency, only a
later one). Imports under `if TYPE_CHECKING:` do not run and are left out. What two
modules share belongs in a third that both import.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "jcbot"
CHECKED = ("jcbot.services", "jcbot.channels")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports_of(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The jcbot modules `source` (module `name`) imports, at any depth, outside TYPE_CHECKING blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            for child in node.orelse:  # type: ignore[attr-defined]
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    found.add(full)  # `from jcbot.services import queries`: the submodule
                elif base in known:
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    found.discard(name)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(paths)
    return {name: imports_of(p.read_text(encoding="utf-8"), name, p.name == "__init__.py", known)
            for name, p in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_import_cycle_in_services_and_channels():
    found = [c for c in cycles(import_graph()) if any(m.startswith(CHECKED) for m in c)]
    assert not found, "modules importing each other (move what they share into a module both import): " + \
        "; ".join(" <-> ".join(c) for c in found)


def test_no_import_cycle_anywhere_in_the_package():
    assert cycles(import_graph()) == []


def test_a_function_level_import_is_a_dependency(tmp_path):
    pkg = tmp_path / "jcbot"
    (pkg / "services").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "services" / "__init__.py").write_text("")
    (pkg / "services" / "a.py").write_text("from jcbot.services.b import f\n")
    (pkg / "services" / "b.py").write_text("def f():\n    from jcbot.services import a\n    return a\n")
    (pkg / "services" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jcbot.services.a import f\n")
    graph = import_graph(pkg)
    assert graph["jcbot.services.b"] == {"jcbot.services.a"}
    assert graph["jcbot.services.c"] == set()
    assert cycles(graph) == [["jcbot.services.a", "jcbot.services.b"]]
