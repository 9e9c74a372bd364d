"""widget_row (placeholders beside outputs, hooks, counts) and strips (the edit history)."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import pytest
from IPython.utils.capture import capture_output

from kontext_widgets import display, samples
from kontext_widgets.contract import Status
from kontext_widgets.display.tiles import pending_uri
from kontext_widgets.history import History, StripTile
from kontext_widgets.images import thumbnail_data_uri
from kontext_widgets.inputs import InputList
from kontext_widgets.prediction import Pending, output_key

from ._helpers import DATA_URI, REQUEST, SCRIPT, pred


def test_a_row_keeps_each_tiles_label_as_results_arrive() -> None:
    waiting = display.widget_row(
        [Pending("a", "running", REQUEST), Pending("b", "queued", REQUEST)]
    )
    done = display.widget_row([pred(1), Pending("b", "queued", replace(REQUEST, seed=2))])
    assert [o.label for o in waiting.outputs] == ["seed 1", "seed 1"]
    assert [(o.key, o.label, o.state) for o in done.outputs] == [
        (output_key("pred-1", 0), "seed 1", "done"),
        ("b", "seed 2", "queued"),
    ]
    assert done.title.endswith("1 of 2 done")
    assert 'data-kw-output="pred-1:0"' in done.html
    assert 'data-kw-output="b"' in done.html


def test_counts_failed_and_cancelled_tiles_and_says_simulated() -> None:
    row = display.widget_row(
        [
            pred(1, status=Status.FAILED, error="no", simulated=True),
            Pending("x", "failed", REQUEST, error=SCRIPT),
            Pending("y", "cancelled", REQUEST),
            pred(4),
        ]
    )
    assert row.title.startswith("SIMULATED (offline simulator, not the real model)")
    assert row.title.endswith("1 of 4 done · 2 failed · 1 cancelled")
    assert [o.state for o in row.outputs] == ["failed", "failed", "cancelled", "done"]
    assert "<script" not in row.html
    assert "FAILED:</strong> &lt;script&gt;" in row.html


def test_ready_thumbnails_are_used_instead_of_decoding_again() -> None:
    ready = pending_uri(64, None, "queued").replace("svg+xml", "jpeg")  # any data: URI
    row = display.widget_row([pred(1)], thumbs={output_key("pred-1", 0): ready})
    assert DATA_URI.findall(row.html) == [ready]


def test_placeholders_have_the_requests_shape_and_say_what_they_wait_for() -> None:
    tall = replace(REQUEST, aspect_ratio="9:16")
    row = display.widget_row([Pending("u", "uploading", tall)], thumb_px=128)
    svg = base64.b64decode(DATA_URI.findall(row.html)[0].split(",", 1)[1]).decode()
    assert 'width="72" height="128"' in svg
    assert "uploading inputs…" in row.html


def test_widget_row_refuses_what_it_cannot_show() -> None:
    with pytest.raises(ValueError, match="no items"):
        display.widget_row([])
    with pytest.raises(ValueError, match="neither a Prediction nor a Pending"):
        display.widget_row([Pending("a", "queued"), "x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="title"):
        display.widget_row([Pending("a", "queued")], title=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="thumb_px"):
        display.widget_row([Pending("a", "queued")], thumb_px=2)


def test_the_history_strip_is_plain_data_that_the_display_shows() -> None:
    inputs = InputList()
    person = inputs.add(samples.path("person"))
    history = History()
    thumb = thumbnail_data_uri(samples.path("shoes").read_bytes(), 64)
    history.record(
        key="p:0", prompt="make it <night>", seed=7, parents=["person.png"], label="seed 7",
        thumb=thumb, inputs=[person],
    )  # fmt: skip
    tiles = history.strip()
    assert all(isinstance(t, StripTile) for t in tiles)
    assert [t.label for t in tiles] == ["input · person.png", "step 1 · seed 7"]
    with capture_output() as captured:
        display.show_strip(tiles, title="Edit history")
    (output,) = captured.outputs
    page = output.data["text/html"]
    assert "make it &lt;night&gt;" in page
    assert len(re.findall(r'<img src="data:image/jpeg', page)) == 2
    assert output.data["text/plain"].splitlines()[0] == "Edit history"


def test_strips_refuse_sources_that_are_not_thumbnails_or_web_addresses() -> None:
    with pytest.raises(ValueError, match="src must be a data:image/ URI"):
        display.strip_html([display.StripItem("file:///etc/passwd", "x")], title="t")
    with pytest.raises(ValueError, match="no items"):
        display.strip_html([], title="t")
