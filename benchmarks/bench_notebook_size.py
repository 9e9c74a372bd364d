"""Size of a saved notebook holding a 64-cell sweep grid (1024 px simulator outputs).

Executes a two-cell notebook headless against the offline simulator, saves it, and
prints its size as a ratio to the 3 MB target and to the full-size images it shows.

    python benchmarks/bench_notebook_size.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

SWEEP = """
import kontext_widgets as kw
result = await kw.sweep(prompt="make it a rainy night", images=[kw.samples.path("landscape")],
                        seed="1-8", guidance_scale="2.0:5.5:0.5", concurrency=8,
                        store="store", progress=False)
result.grid(cols="seed", rows="guidance_scale")
"""
FULL_SIZE = "print(sum(len(result.image_bytes(o)) for o in result.done))"


def main() -> None:
    notebook = new_notebook(cells=[new_code_cell(SWEEP), new_code_cell(FULL_SIZE)])
    with tempfile.TemporaryDirectory() as workdir:
        env_key = os.environ.pop("WAVESPEED_API_KEY", None)
        # The kernel's simulator keeps nothing in the user cache.
        os.environ.setdefault("KONTEXT_WIDGETS_SIMULATOR_DIR", "off")
        try:
            NotebookClient(
                notebook, timeout=600, resources={"metadata": {"path": workdir}}
            ).execute()
        finally:
            if env_key is not None:
                os.environ["WAVESPEED_API_KEY"] = env_key
        path = Path(workdir) / "grid.ipynb"
        nbformat.write(notebook, path)
        size = path.stat().st_size
    full = int(notebook.cells[1].outputs[0]["text"])
    print(
        f"64-cell grid: saved notebook {size / 1e6:.2f} MB (target < 3 MB: ratio "
        f"{size / 3e6:.2f}); the full-size images it shows total {full / 1e6:.1f} MB "
        f"({size / full:.3f} of them)"
    )


if __name__ == "__main__":
    main()
