"""Plain words and layout the widget shows (issue 11, items 4 and 7), against the simulator.

A refusal still names its field, in the words of someone at the widget; a sweep's legends say
"aspect ratio", "1 cell"; grid rows/columns re-lay the last sweep out at once; every tile image
has alt text.
"""

from __future__ import annotations

import re
from pathlib import Path

from kontext_widgets import samples
from kontext_widgets.simulator import SimulatorServer

from .helpers import WidgetFactory, edit, from_front_end, settled

PERSON = samples.path("person")
ALT = re.compile(r'<img src="data:image/[^"]+" alt="([^"]*)"')


async def test_an_empty_prompt_says_what_to_do_and_names_the_field(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="", images=[PERSON], store=tmp_path)
    from_front_end(w, {"type": "generate"})
    await settled(w)
    messages = [p["message"] for p in w.problems]
    assert "prompt: write an edit instruction first" in messages, w.problems
    assert not any("is not allowed" in m for m in messages), messages
    assert simulator.stats()["submits"] == 0


async def test_grid_rows_and_columns_relay_the_last_sweep_out_at_once(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1, 2", sweep_guidance="2, 5")
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert "columns: seed · rows: guidance" in w.rows[-1]["html"]
    submits = simulator.stats()["submits"]

    edit(w, sweep_cols="guidance_scale")  # no Generate: the same sweep, laid out again
    page = w.rows[-1]["html"]
    assert "columns: guidance · rows: seed" in page
    assert simulator.stats()["submits"] == submits
    alts = ALT.findall(page)
    assert len(alts) == 4, alts
    assert all(re.fullmatch(r"seed \d, guidance \d", a) for a in alts), alts


async def test_one_cell_is_one_cell_and_every_single_run_image_has_alt_text(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path)
    edit(w, mode="sweep", sweep_ratios=["1:1"])
    assert w.sweep_plan.startswith("1 cell (no axes); cost $0.04"), w.sweep_plan
    edit(w, mode="single", seed=7, seed_locked=True)
    from_front_end(w, {"type": "generate"})
    await settled(w)
    alts = ALT.findall(w.rows[-1]["html"])
    assert alts == ["Simulated result, seed 7"], alts
