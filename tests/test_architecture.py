"""The package's shape, checked on every run: imports point down, rooms stay small.

Reads the sources with ``ast`` (nothing is imported), so type-only imports under
``if TYPE_CHECKING:`` and lazy imports inside functions count like any other.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kontext_widgets"
JS_SRC = ROOT / "js" / "src"

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
MAX_TS_LINES = 400

#: Layers, lowest first (ARCHITECTURE.md's target). A module may import its own top-level
#: room (its package, or itself) and any room on a lower layer; never one above or beside it.
LAYERS: dict[str, int] = {
    "_version": 0,
    "_text": 0,
    "contract": 0,
    "errors": 1,
    "value_forms": 2,
    "checks": 2,
    "grammar": 2,
    "images": 2,
    "samples": 2,
    "fields": 3,
    "payload": 4,
    "request": 5,
    "prediction": 6,
    "store": 6,
    "field_text": 7,
    "labels": 7,
    "simulator": 7,
    "client": 8,
    "display": 8,
    "inputs": 8,
    "history": 9,
    "engine": 10,
    "sweeps": 11,
    "_frontend": 12,
    "widget": 13,
    "cli": 13,
    "__init__": 14,
}
#: Third-party imports that only one room may make.
ONLY_IN: dict[str, tuple[str, ...]] = {
    "ipyplot": ("display",),
    "IPython.display": ("display",),
    "PIL": ("images", "simulator"),
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(["kontext_widgets", *parts]), path


MODULES = dict(_modules())


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> Iterator[str]:
    """Every module ``module`` imports (any depth in the file), as dotted names."""
    path = MODULES[module]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for alias in node.names:
                # `from . import samples` imports the module `samples`, not the package
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in MODULES else target


def _internal(name: str) -> str | None:
    """The package module ``name`` refers to (the longest known prefix), if any."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        found = {_internal(n) for n in imports(module) if n.startswith("kontext_widgets")}
        edges[module] = {m for m in found if m and m != module}
    return edges


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_room_has_a_layer() -> None:
    missing = sorted({room(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"give these modules a layer in LAYERS: {missing}"


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_point_down() -> None:
    upward = []
    for module, targets in graph().items():
        here = room(module)
        for target in targets:
            there = room(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                upward.append(
                    f"{module} -> {target} ({here} {LAYERS[here]} -> {there} {LAYERS[there]})"
                )
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_one_room_imports_each_library(library: str) -> None:
    allowed = ONLY_IN[library]
    offenders = sorted(
        module
        for module in MODULES
        if room(module) not in allowed
        and any(n == library or n.startswith(library + ".") for n in imports(module))
    )
    assert not offenders, f"{library} is for {allowed} only; also imported by {offenders}"


def test_the_checks_see_real_edges() -> None:
    # Guards the checks above against passing because the graph came out empty.
    edges = graph()
    assert "kontext_widgets.errors" in edges["kontext_widgets.request"]
    assert any(room(t) == "client" for t in edges["kontext_widgets.engine.runner"])
    assert sum(len(v) for v in edges.values()) > 100


def test_python_modules_are_small() -> None:
    big = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines (split them by job): {big}"


def test_python_functions_are_short() -> None:
    long = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_typescript_files_are_small() -> None:
    files = sorted(JS_SRC.glob("**/*.ts"))
    assert files, "no TypeScript sources found"
    big = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_TS_LINES
    }
    assert not big, f"TypeScript files over {MAX_TS_LINES} lines: {big}"


def test_ruff_checks_complexity() -> None:
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^select = \[.*"C90"', config, re.M), "ruff must select C90 (mccabe)"
    assert re.search(r"^max-complexity = 12$", config, re.M)
