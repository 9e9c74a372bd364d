"""KontextWidget in JupyterLab and Notebook 7, used through its controls only.

Each test opens a notebook whose one cell starts a simulator (a few seconds of latency at most),
a tiny http server with an input image, and ``kw.KontextWidget`` on that simulator; from then on
everything happens by clicking and typing in the widget. The simulator's counters
(``/_simulator/stats``) prove what was, or was not, sent.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

import kontext_widgets as kw

from .conftest import OpenNotebook
from .kontext_ui import SETUP_CELL, KontextUI

pytestmark = pytest.mark.browser

RATIO_16_9 = 16 / 9


def _setup(latency_s: float) -> str:
    return SETUP_CELL.replace("{LATENCY}", repr(latency_s))


def _stem(ui: KontextUI) -> str:
    return ui.nb.name.removesuffix(".ipynb")


def test_compare_three_seeds_16_9_from_url_and_file(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(_setup(1.0))
    ui, setup = KontextUI.start(nb)

    ui.set_prompt("put the red shoes on her")
    ui.add_url_and_wait(setup.image_url)
    ui.add_file_and_wait(kw.samples.path("shoes"))
    ui.ratio("16:9").check()
    ui.set_number(ui.seed, 4242)
    if not ui.lock_seed.is_checked():
        ui.lock_seed.check()
    ui.set_number(ui.compare, 3)
    assert ui.ratio("16:9").is_checked()

    ui.generate_button.click()
    row = ui.wait_for_row(0, [4242, 4243, 4244])

    tiles = row["tiles"]
    # side by side: one line, left to right
    assert max(t["y"] for t in tiles) - min(t["y"] for t in tiles) < 4, tiles
    assert [t["x"] for t in tiles] == sorted(t["x"] for t in tiles), tiles
    assert len({round(t["x"]) for t in tiles}) == 3, tiles
    for tile in tiles:
        assert tile["src"].startswith("data:image/jpeg"), tile  # a thumbnail, not a placeholder
        ratio = tile["width"] / tile["height"]
        assert abs(ratio - RATIO_16_9) < 0.03, f"{tile['text']}: {tile['width']}x{tile['height']}"
    assert "16:9" in row["text"], row["text"]

    ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled after the run")
    assert ui.root.get_by_text("SIMULATED", exact=True).first.is_visible()
    assert ui.alert_text() == "", ui.alert_text()
    stats = setup.stats()
    assert stats["tasks_created"] == 3, stats
    assert stats["tasks"]["completed"] == 3, stats
    assert stats["uploads"] >= 1, stats  # the local file went up at Generate time

    nb.screenshot(f"{_stem(ui)}-widget", ui.root)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()


def test_cancel_stops_a_slow_run(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(_setup(0.2))
    ui, setup = KontextUI.start(nb)

    ui.set_prompt("make it night [simulate:latency=30]")
    ui.add_url_and_wait(setup.image_url)
    ui.generate_button.click()
    # Running for real: the simulator has the task (it would take 30 s).
    ui.wait(lambda: setup.stats()["tasks_created"] == 1, "the task to reach the simulator")
    ui.wait(lambda: ui.cancel_button.is_enabled(), "Cancel enabled while running")

    clicked = time.monotonic()
    ui.cancel_button.click()
    ui.wait(
        lambda: "cancelled" in ui.jobs_text().lower(),
        "the job to say cancelled",
        timeout_ms=10_000,
    )
    ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled again", timeout_ms=10_000)
    assert time.monotonic() - clicked < 10
    assert "running" not in ui.jobs_text().lower(), ui.jobs_text()
    stats = setup.stats()
    assert stats["tasks"]["completed"] == 0, stats
    # Polling really stopped: no more polls arrive after the cancel.
    polls = stats["polls"]
    nb.page.wait_for_timeout(1500)
    assert setup.stats()["polls"] == polls

    nb.screenshot(f"{_stem(ui)}-widget", ui.root)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()


def test_bad_input_is_refused_with_the_reason_and_nothing_is_sent(
    open_notebook: OpenNotebook,
) -> None:
    nb = open_notebook(_setup(0.2))
    ui, setup = KontextUI.start(nb)

    # Not an http(s) URL: refused, with the reason.
    ui.add_url("ftp://example.com/person.png")
    ui.wait(lambda: "http" in ui.alert_text().lower(), "the reason a non-http URL is refused")
    assert ui.remove_buttons.count() == 0

    # Five images at most: then both add buttons are disabled and say why, and a sixth URL
    # entered anyway (Enter in the URL box) is refused with the reason.
    for i in range(5):
        ui.add_url_and_wait(f"{setup.image_url}?n={i}")
    for name in ("Add URL", "Add files"):
        expect(ui.button(name)).to_be_disabled()
        expect(ui.button(name)).to_have_accessible_description(re.compile(r"\b5\b"))
    ui.url_box.fill(f"{setup.image_url}?n=5")
    ui.url_box.press("Enter")
    ui.wait(lambda: re.search(r"\b5\b", ui.alert_text()), "the reason a sixth image is refused")
    nb.page.wait_for_timeout(300)
    assert ui.remove_buttons.count() == 5

    # The guidance slider stops at 20 however far it is pushed.
    ui.guidance.focus()
    ui.guidance.press("End")
    ui.guidance.press("ArrowRight")
    assert float(ui.guidance.input_value()) == 20.0

    # No prompt: Generate names the field and sends nothing.
    ui.set_prompt("")
    ui.generate_button.click()
    ui.wait(lambda: "prompt" in ui.alert_text().lower(), "the alert naming the prompt")
    nb.page.wait_for_timeout(500)  # anything sent would have arrived by now
    assert ui.rows() == []
    stats = setup.stats()
    assert stats["submits"] == 0, stats
    assert stats["uploads"] == 0, stats
    assert stats["tasks_created"] == 0, stats

    nb.screenshot(f"{_stem(ui)}-widget", ui.root)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()


def test_use_output_as_input_for_a_second_edit(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(_setup(0.2))
    ui, setup = KontextUI.start(nb)

    ui.set_prompt("give her a red hat")
    ui.add_url_and_wait(setup.image_url)
    ui.set_number(ui.seed, 7)
    if not ui.lock_seed.is_checked():
        ui.lock_seed.check()
    ui.generate_button.click()
    ui.wait_for_row(0, [7])
    ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled after the first run")

    ui.button(re.compile(r"^Use .*\bseed 7\b.* as input$")).click()
    ui.wait(lambda: ui.remove_buttons.count() == 2, "the output added to the images")

    ui.set_prompt("make it night")
    ui.generate_button.click()
    row = ui.wait_for_row(1, [7])
    assert "make it night" in row["text"], row["text"]
    assert "2 input images" in row["text"], row["text"]  # the person and the first output
    assert len(ui.rows()) == 2
    stats = setup.stats()
    assert stats["tasks_created"] == 2, stats
    assert stats["tasks"]["completed"] == 2, stats

    nb.screenshot(f"{_stem(ui)}-widget", ui.root)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()


def test_fixed_seeds_again_come_from_the_store_and_fresh_pays(
    open_notebook: OpenNotebook,
) -> None:
    nb = open_notebook(_setup(0.2))
    ui, setup = KontextUI.start(nb)

    ui.set_prompt("give her a red hat")
    ui.add_url_and_wait(setup.image_url)
    ui.set_number(ui.seed, 11)
    if not ui.lock_seed.is_checked():
        ui.lock_seed.check()
    ui.set_number(ui.compare, 2)
    # Python's plan (not the front end) counts the click: two new images, $0.04 each.
    ui.wait(lambda: ui.cost_text().startswith("2 new images, $0.08"), "the plan of 2")
    expect(ui.generate_button).to_have_accessible_name("Generate 2 images")
    expect(ui.fresh_button).to_be_hidden()
    ui.generate_button.click()
    ui.wait_for_row(0, [11, 12])
    ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled after the first run")
    assert setup.stats()["tasks_created"] == 2

    # The same settings with fixed seeds: every image is in the store, at no cost.
    ui.wait(
        lambda: ui.cost_text().startswith("2 images from the store, $0"),
        "the plan to say the store has both images",
    )
    expect(ui.fresh_button).to_have_accessible_name("Make new images ($0.08)")
    ui.generate_button.click()
    ui.wait_for_row(1, [11, 12])
    nb.page.wait_for_timeout(500)  # a submit would have reached the simulator by now
    assert setup.stats()["tasks_created"] == 2, setup.stats()

    # Paying for new images on purpose: the same seeds are submitted again.
    ui.wait(lambda: ui.fresh_button.is_visible(), "the offer to make new images")
    ui.fresh_button.click()
    ui.wait_for_row(2, [11, 12])
    assert setup.stats()["tasks_created"] == 4, setup.stats()

    nb.screenshot(f"{_stem(ui)}-widget", ui.root)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()


def test_keys_stay_in_the_widget_and_ctrl_s_saves(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(_setup(0.2), "2 + 2")
    ui, setup = KontextUI.start(nb)
    ui.ratio("16:9").click()
    assert nb.active_cell() == 0

    # Arrows move the ratio and the slider, not the notebook's active cell.
    ui.ratio("16:9").press("ArrowRight")
    expect(ui.ratio("4:3")).to_be_checked()
    ui.ratio("4:3").press("ArrowDown")
    expect(ui.ratio("3:2")).to_be_checked()
    ui.guidance.focus()
    ui.guidance.press("End")
    ui.guidance.press("ArrowDown")
    assert float(ui.guidance.input_value()) == pytest.approx(19.9)
    ui.guidance.press("PageUp")
    ui.guidance.press("Home")
    assert float(ui.guidance.input_value()) == 1.0
    assert nb.active_cell() == 0

    # Ctrl+S inside the widget saves the notebook (the file gets the cells' outputs).
    assert nb.saved_outputs() == [0, 0]
    ui.prompt.click()
    ui.prompt.press("Control+s")
    # The widget's cell: its view and the saved copy of its results (issue 11).
    ui.wait(lambda: nb.saved_outputs() == [2, 1], "Ctrl+S to save the notebook")

    # Ctrl+Enter is still Generate (not "run cell", which would redraw the widget).
    ui.prompt.fill("make it night")
    ui.add_url_and_wait(setup.image_url)
    ui.set_number(ui.seed, 5)
    if not ui.lock_seed.is_checked():
        ui.lock_seed.check()
    ui.prompt.press("Control+Enter")
    row = ui.wait_for_row(0, [5])
    assert "3:2" in row["text"], row["text"]
    assert nb.active_cell() == 0
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()
