"""The shipped notebooks run headless from top to bottom against the offline simulator.

Each runs in a real kernel (the ``python3`` kernel of this environment, via nbclient) with
no ``WAVESPEED_API_KEY``, in a temporary directory so nothing is written beside the
notebooks. The committed files themselves must be clean: no outputs, no execution counts,
no saved widget state.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from kontext_widgets.contract import API_KEY_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = [
    "01_quickstart.ipynb",
    "02_seed_comparison.ipynb",
    "03_successive_edits.ipynb",
    "04_parameter_sweep.ipynb",
]
CELL_TIMEOUT_S = 120
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: Text each notebook's outputs must contain (beyond running without an error).
EXPECTED: dict[str, list[str]] = {
    "01_quickstart.ipynb": ["SIMULATED", "seed 1", "seed 2", "seed 3", "completed", "3 of 3 done"],
    "02_seed_comparison.ipynb": [
        "SIMULATED",
        "4 of 4 done",
        "seed 4",
        "guidance 6",
        "async with kw.Client() as client:",
        "seed=2,",
    ],
    "04_parameter_sweep.ipynb": [
        "12 cells (3 guidance values × 4 seeds); cost $0.48; about 24 s at concurrency 4",
        "SIMULATED",
        "24 of 24 cells done, 0 failed, 0 from the store",
        "columns: seed · rows: aspect ratio × guidance",
        "16:9 · guidance 3.5",
        "24 of 24 cells done, 0 failed, 24 from the store",
        "24 images",
        "would cost $8.00",
    ],
    "03_successive_edits.ipynb": [
        "SIMULATED",
        "step 1 · seed 7",
        "step 3 · seed 7",
        "made from person.png",
        "made from step 2 · seed 7, landscape.png",
        "Edit history, oldest first",
        "landscape.png",
    ],
}


def texts(outputs: list[Any]) -> Iterator[str]:
    for output in outputs:
        if "text" in output:
            yield str(output["text"])
        for value in output.get("data", {}).values():
            yield value if isinstance(value, str) else json.dumps(value)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, nbformat.NotebookNode]:
    """Every notebook, executed once (in parallel kernels would only share one simulator)."""
    env_key = "WAVESPEED_API_KEY"
    saved = {k: os.environ.pop(k) for k in (env_key, "WAVESPEED_BASE_URL") if k in os.environ}
    try:
        results = {}
        for name in NAMES:
            nb = nbformat.read(NOTEBOOKS / name, as_version=4)
            workdir = tmp_path_factory.mktemp(name.split("_")[0])
            client = NotebookClient(
                nb,
                timeout=CELL_TIMEOUT_S,
                kernel_name="python3",
                resources={"metadata": {"path": str(workdir)}},
                allow_errors=True,  # collect every error, then report them with their cell
            )
            client.execute()
            results[name] = nb
        return results
    finally:
        os.environ.update(saved)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_without_errors(
    name: str, executed: dict[str, nbformat.NotebookNode]
) -> None:
    nb = executed[name]
    errors = [
        f"cell {i} ({cell.source.splitlines()[0]!r}): {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    everything = "\n".join(
        t for cell in nb.cells if cell.cell_type == "code" for t in texts(cell.outputs)
    )
    missing = [text for text in EXPECTED[name] if text not in everything]
    assert missing == []
    assert f"{API_KEY_ENV}=" not in everything  # no notebook prints a key assignment


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["01_quickstart.ipynb", "02_seed_comparison.ipynb", "03_successive_edits.ipynb"]
)
def test_the_widget_is_displayed(name: str, executed: dict[str, nbformat.NotebookNode]) -> None:
    first_code = next(c for c in executed[name].cells if c.cell_type == "code")
    assert any(WIDGET_VIEW in out.get("data", {}) for out in first_code.outputs)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_are_clean(name: str) -> None:
    raw = (NOTEBOOKS / name).read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
        assert cell.metadata == {}
    assert "widgets" not in nb.metadata
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert raw.endswith("\n")


@pytest.mark.parametrize("name", NAMES)
def test_no_notebook_closes_its_widget_or_renders_dollars_as_math(name: str) -> None:
    """ "Run All" leaves the widget usable; JupyterLab reads "$0.04 … $0.12" as LaTeX."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "w.close()" not in code
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            unescaped = [m.start() for m in re.finditer(r"(?<!\\)\$", cell.source)]
            assert unescaped == [], f"unescaped $ in {cell.source[:60]!r}"


def test_the_quickstart_opens_with_the_widget_comparing_three_seeds() -> None:
    nb = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "kw.KontextWidget(" in first_code.source
    assert "seeds=[1, 2, 3]" in first_code.source
    assert first_code.source.rstrip().endswith("\nw")  # shown by the cell itself
