"""Rows of outputs (show, html_row): labels, headings, SIMULATED, failures, bad arguments."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from kontext_widgets import display
from kontext_widgets.contract import Status
from kontext_widgets.prediction import OutputImage

from ._helpers import DATA_URI, REQUEST, embedded, png, pred, shown


def test_thumb_px_sets_thumbnail_and_tile_size() -> None:
    _, html = shown([pred(1)], thumb_px=128)
    assert [im.size for im in embedded(html)] == [(128, 128)]
    assert "max-height: 128px" in html


def test_a_single_prediction_is_accepted() -> None:
    _, html = shown(pred(5))
    assert len(DATA_URI.findall(html)) == 1
    assert "seed 5" in html


def test_max_images_per_row_limits_the_row_width() -> None:
    _, html = shown([pred(1), pred(2), pred(3)], max_images_per_row=2)
    assert "max-width: 524px" in html  # 2 tiles of 256 px + 3 px margins
    _, html = shown([pred(1), pred(2), pred(3)])
    assert not re.search(r"max-width: \d+px", html)


@pytest.mark.parametrize(
    "kwargs",
    [{"thumb_px": 8}, {"thumb_px": 5000}, {"thumb_px": True}, {"max_images_per_row": 0}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        shown([pred(1)], **kwargs)


def test_no_predictions_is_an_error() -> None:
    with pytest.raises(ValueError, match="no predictions"):
        shown([])


def test_outside_ipython_prints_a_text_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    display.show([pred(1, simulated=True), pred(2, simulated=True)])
    out = capsys.readouterr().out
    assert out.startswith("SIMULATED")
    assert "seed 1: pred-1" in out
    assert "seed 2: pred-2" in out
    assert "<" not in out


def test_simulated_results_say_so_in_the_title_and_every_label() -> None:
    outputs, html = shown([pred(1, simulated=True), pred(2, simulated=True)])
    title = re.search(r'<div class="kw-title">(.*?)</div>', html)
    assert title is not None
    assert "SIMULATED" in title.group(1)
    assert html.count('<strong class="kw-simulated">SIMULATED</strong> · seed') == 2
    assert outputs[0]["text/plain"].startswith("SIMULATED")


def test_one_simulated_prediction_marks_the_row() -> None:
    _, html = shown([pred(1), pred(2, simulated=True)])
    assert html.count('<strong class="kw-simulated">SIMULATED</strong> · seed') == 1
    assert "SIMULATED</strong> offline simulator" in html


def test_real_results_do_not_say_simulated() -> None:
    outputs, html = shown([pred(1), pred(2)])
    assert "SIMULATED" not in html
    assert "SIMULATED" not in outputs[0]["text/plain"]


def test_differing_fields_shown_in_the_row_and_shared_ones_in_the_title() -> None:
    _, html = shown([pred(1), pred(2, request=replace(REQUEST, guidance_scale=6.0))])
    assert "seed 1 · guidance 3.5" in html
    assert "seed 2 · guidance 6" in html
    title = re.search(r'<div class="kw-title">(.*?)</div>', html)
    assert title is not None
    assert "prompt “put the shoes on her”" in title.group(1)
    assert "guidance" not in title.group(1)


def test_several_images_of_one_prediction_are_numbered() -> None:
    two = (
        OutputImage("https://x.example/a.png", png(seed=1)),
        OutputImage("https://x.example/b.png", png(seed=2)),
    )
    _, html = shown([pred(1, images=two)])
    assert "seed 1 (1/2)" in html
    assert "seed 1 (2/2)" in html
    assert len(DATA_URI.findall(html)) == 2


def test_failed_prediction_gets_a_tile_with_its_reason() -> None:
    failed = pred(2, status=Status.FAILED, error="content flagged & blocked", code=1200)
    outputs, html = shown([pred(1), failed, pred(3)])
    uris = DATA_URI.findall(html)
    assert len(uris) == 3
    assert uris[1].startswith("data:image/svg+xml;base64,")
    assert "FAILED:</strong> content flagged &amp; blocked (code 1200)" in html
    assert "1 failed" in html
    assert "seed 2: pred-2 FAILED: content flagged & blocked" in outputs[0]["text/plain"]


def test_failed_prediction_without_error_text_still_says_failed() -> None:
    _, html = shown([pred(1, status=Status.FAILED)])
    assert "FAILED:</strong> no reason given" in html


def test_failed_placeholder_has_the_requested_shape() -> None:
    wide = pred(1, status=Status.FAILED, request=replace(REQUEST, aspect_ratio="16:9"))
    _, html = shown([wide])
    svg = base64.b64decode(DATA_URI.findall(html)[0].split(",", 1)[1]).decode()
    assert 'width="256" height="144"' in svg


def test_unreadable_output_bytes_get_a_placeholder_with_the_reason() -> None:
    broken = pred(1, images=(OutputImage("https://x.example/x.png", b"not an image"),))
    _, html = shown([broken, pred(2)])
    assert "cannot show this output:</strong> not a readable image (12 bytes)" in html
    assert len(DATA_URI.findall(html)) == 2


def test_completed_prediction_without_images_is_a_clear_error() -> None:
    with capture_output() as captured, pytest.raises(ValueError, match="no downloaded") as info:
        display.show([pred(1), pred(2, images=())])
    assert "pred-2" in str(info.value)
    assert "download" in str(info.value)
    assert "pred-1" not in str(info.value)
    assert captured.outputs == []  # nothing half-shown


def test_unfinished_prediction_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"pred-3 is still processing.*client\.run\(\)"):
        shown([pred(3, status=Status.PROCESSING)])


def test_non_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match="is not a Prediction"):
        shown([pred(1), "https://example.com/x.png"])
