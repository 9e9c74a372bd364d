"""The display package is the only importer of ipyplot and IPython.display; images.py (and the
simulator) the only importers of Pillow; data modules never import the display.

Imports are read from the source (lazy and type-only imports count too).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kontext_widgets"

#: Modules of other owners that still import these until the lead integrates their branches.
#: Remove an entry when its module switches to images.py or display/; never add one.
NOT_YET_SWITCHED = {
    "PIL": {"request.py"},
    "IPython": {"sweeps/progress.py"},
}


def imports(path: Path) -> set[str]:
    """Absolute module names imported by a file, relative imports resolved in the package."""
    rel = path.relative_to(PACKAGE)
    package = list(rel.parent.parts)  # the same for a package's __init__.py
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = ["kontext_widgets", *package][: len(package) + 2 - node.level]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def importers(prefix: str) -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name == prefix or name.startswith(prefix + ".") for name in imports(path))
    }


def test_only_display_imports_ipyplot() -> None:
    assert {p for p in importers("ipyplot") if not p.startswith("display/")} == set()
    assert importers("ipyplot") == {"display/ipyplot_grid.py"}


def test_only_display_imports_ipython_display() -> None:
    outside = {p for p in importers("IPython") if not p.startswith("display/")}
    assert outside == NOT_YET_SWITCHED["IPython"]
    assert {p for p in importers("IPython.display") if p.startswith("display/")} == {
        "display/notebook.py"
    }


def test_only_images_and_the_simulator_import_pillow() -> None:
    outside = {p for p in importers("PIL") if not p.startswith("simulator/")}
    assert outside == {"images.py"} | NOT_YET_SWITCHED["PIL"]


def test_data_modules_and_sweeps_grids_sit_below_or_beside_the_display() -> None:
    data = ["_text.py", "images.py", "labels.py", "prediction.py", "inputs.py", "history.py"]
    sweeps = ["sweeps/layout.py", "sweeps/export.py", "sweeps/results.py"]
    for rel in data + sweeps:
        view = {
            name
            for name in imports(PACKAGE / rel)
            if name.startswith(("kontext_widgets.display", "kontext_widgets.gallery"))
        }
        assert view == set(), rel
    for path in (PACKAGE / "display").glob("*.py"):
        upward = {
            name
            for name in imports(path)
            if name.startswith(
                ("kontext_widgets.sweeps", "kontext_widgets.widget", "kontext_widgets.jobs")
            )
        }
        assert upward == set(), path.name


def test_grid_and_export_do_not_import_the_result_that_calls_them() -> None:
    for rel in ("sweeps/grid.py", "sweeps/export.py", "sweeps/layout.py"):
        assert "kontext_widgets.sweeps.results" not in imports(PACKAGE / rel), rel
