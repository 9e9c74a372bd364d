"""Issue 11: the saved copy of the results, sessions that come back, older runs, one run per
double click (the browser side is in tests/browser/test_lifecycle.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import kontext_widgets
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.widget.runs import MAX_ROWS
from kontext_widgets.widget.session import session_path

from .helpers import PERSON, WidgetFactory, from_front_end, settled


async def test_a_widget_of_the_same_session_brings_back_runs_history_and_outputs(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[1, 2], store=tmp_path, session="c1")
    first = await w.generate()
    w.use_as_input(first[0])
    await w.generate(prompt="day", seeds=[3])
    await settled(w)
    assert session_path(w.store, "c1").is_file()
    keys = [[o["key"] for o in row["outputs"]] for row in w.rows]

    again = make_widget(images=[PERSON], store=tmp_path, session="c1")
    assert [[o["key"] for o in row["outputs"]] for row in again.rows] == keys
    assert [row["html"] for row in again.rows] == [row["html"] for row in w.rows]
    assert "2 earlier runs from the store" in again.status
    assert [s.key for s in again.history] == [s.key for s in w.history]
    assert again.history[0].label == w.history[0].label  # "step 1 · …", not "step 1 · step 1"
    assert again.output(keys[0][0]).data == first[0].images[0].data  # readable: from the store
    await again.generate(prompt="dusk", seeds=[4])
    assert [row["id"] for row in again.rows] == ["run1", "run2", "run3"]  # no id used twice

    other = make_widget(store=tmp_path, session="c2")  # another cell: its own runs
    assert other.rows == []
    assert other.history == []
    assert make_widget(store=tmp_path, session=False).rows == []


async def test_the_saved_copy_holds_finished_runs_as_small_thumbnails(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[1, 2], store=tmp_path)
    assert w.saved_output == w._life.saved.display_id
    await w.generate()
    await settled(w)
    w._life.runs_ended()
    html = w._life.saved.bundle()["text/html"]
    assert f'data-kw-saved="{w.saved_output}"' in html
    assert html.count("<img") == 2
    assert "SIMULATED" in html
    assert "iVBORw0KGgo" not in html  # no PNG (full-size outputs are PNGs), only thumbnails
    assert len(html) < 60_000


async def test_older_runs_are_counted_and_come_back(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path, session="many")
    for seed in range(1, MAX_ROWS + 3):
        await w.generate(seeds=[seed])
    assert len(w.rows) == MAX_ROWS
    assert w.older_runs == 2
    assert w.rows[0]["id"] == "run3"
    from_front_end(w, {"type": "show_older"})
    assert len(w.rows) == MAX_ROWS + 2
    assert w.older_runs == 0
    assert w.rows[0]["id"] == "run1"
    again = make_widget(store=tmp_path, session="many")  # the session keeps them all
    assert len(again.rows) == MAX_ROWS
    assert again.older_runs == 2


async def test_a_double_click_on_generate_starts_one_run(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path)  # random seed, "replace"
    from_front_end(w, {"type": "generate"})
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert [row["id"] for row in w.rows] == ["run1"]
    assert [job["state"] for job in w.jobs] == ["done"]
    assert simulator.stats()["submits"] == 1
    await asyncio.sleep(0)


def test_a_notebook_run_headless_holds_the_saved_copy_beside_the_view(tmp_path: Path) -> None:
    """A real kernel (nbclient): two outputs, the second updated in place when the run ends."""
    root = Path(kontext_widgets.__file__).resolve().parent.parent
    notebook = new_notebook(
        cells=[
            new_code_cell(
                "import kontext_widgets as kw\n"
                "w = kw.KontextWidget(prompt='make it night', images=[kw.samples.path('person')],"
                " seeds=[1, 2], store='store')\nw"
            ),
            new_code_cell("await w.generate();"),
        ]
    )
    env_path = os.pathsep.join([str(root), *sys.path])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_path
    try:
        NotebookClient(
            notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    outputs = notebook.cells[0].outputs
    assert [sorted(o["data"]) for o in outputs] == [
        ["application/vnd.jupyter.widget-view+json", "text/plain"],
        ["text/html", "text/plain"],
    ]
    saved = outputs[1]["data"]["text/html"]
    assert saved.count("<img") == 2
    assert "SIMULATED" in saved
    assert "seed 1" in saved
    path = tmp_path / "saved.ipynb"
    notebook.metadata.pop("widgets", None)  # JupyterLab's default: no widget state
    nbformat.write(notebook, path)
    size = path.stat().st_size
    print(json.dumps({"saved_notebook_bytes": size, "results": 2}))
    assert size < 80_000
