"""Write notebooks/04_parameter_sweep.ipynb (clean: no outputs, no execution counts)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell(
        "# Parameter sweeps that never pay twice\n\n"
        "A sweep is a grid of predictions: every argument given as a list is an axis "
        "(`seed`, `guidance_scale`, `aspect_ratio`, `prompt`, image sets). Before anything is "
        "sent, kontext-widgets shows the number of cells, the cost (\\$0.04 an image) and the "
        "expected time, and refuses a plan above the budget (`max_cost_usd`, \\$5 by default).\n\n"
        "Every cell is recorded in a store (SQLite + content-addressed images): a rerun is free, "
        "and a sweep interrupted by a crash or a kernel restart resumes where it stopped. "
        "Without `WAVESPEED_API_KEY` the offline simulator answers and everything says SIMULATED."
    ),
    new_code_cell(
        "import kontext_widgets as kw\n\n"
        "plan = kw.sweeps.preview(\n"
        '    prompt="make it a rainy night",\n'
        '    images=[kw.samples.path("landscape")],\n'
        '    seed="1-4",  # range syntax; a plain number would draw that many random seeds\n'
        '    guidance_scale="2.0:5.0:1.5",  # START:STOP:STEP\n'
        ")\n"
        "print(plan.summary(concurrency=4, seconds_per_task=8.0, simulated=False))"
    ),
    new_code_cell(
        "result = await kw.sweep(\n"
        '    prompt="make it a rainy night",\n'
        '    images=[kw.samples.path("landscape")],\n'
        '    seed="1-4",\n'
        '    guidance_scale="2.0:5.0:1.5",\n'
        '    aspect_ratio=["1:1", "16:9"],\n'
        "    concurrency=4,\n"
        '    store="sweep-store",\n'
        ")\n"
        "result"
    ),
    new_markdown_cell("The grid: columns and rows are chosen from the axes, legends on both."),
    new_code_cell('result.grid(cols="seed", rows=["aspect_ratio", "guidance_scale"])'),
    new_markdown_cell("Every cell as a table (a pandas DataFrame when pandas is installed):"),
    new_code_cell('result.table()[["aspect_ratio", "guidance_scale", "seed", "state"]]'),
    new_markdown_cell(
        "Running the same sweep again costs nothing: every cell comes from the store."
    ),
    new_code_cell(
        "again = await kw.sweep(\n"
        '    prompt="make it a rainy night",\n'
        '    images=[kw.samples.path("landscape")],\n'
        '    seed="1-4",\n'
        '    guidance_scale="2.0:5.0:1.5",\n'
        '    aspect_ratio=["1:1", "16:9"],\n'
        "    concurrency=4,\n"
        '    store="sweep-store",\n'
        "    progress=False,\n"
        ")\n"
        "print(again.summary())"
    ),
    new_markdown_cell(
        "Exports: a contact sheet with axis legends, a self-contained HTML page, and the "
        "full-size images with their parameters in each PNG's text chunk."
    ),
    new_code_cell(
        'sheet = result.contact_sheet("sweep-contact-sheet.png")\n'
        'page = result.html("sweep.html")\n'
        'files = result.export_images("sweep-images")\n'
        'print(sheet, page, f"{len(files)} images")'
    ),
    new_markdown_cell(
        "A plan above the budget is refused before anything is sent; pass a higher "
        "`max_cost_usd` (or `None`) to allow it."
    ),
    new_code_cell(
        "try:\n"
        "    await kw.sweep(\n"
        '        prompt="x", images=[kw.samples.path("person")], seed="1-200", '
        'store="sweep-store"\n'
        "    )\n"
        "except kw.sweeps.BudgetExceededError as error:\n"
        "    print(error)"
    ),
]


def main() -> None:
    for number, cell in enumerate(CELLS):
        cell.id = f"sweep-{number:02d}"  # stable ids: regenerating changes nothing
    notebook = new_notebook(cells=CELLS)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    target = Path(__file__).resolve().parents[1] / "notebooks" / "04_parameter_sweep.ipynb"
    nbformat.write(notebook, target)
    print(target)


if __name__ == "__main__":
    main()
