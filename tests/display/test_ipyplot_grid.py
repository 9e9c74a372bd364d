"""ipyplot 1.1.2's traps, each a regression test (DESIGN.md, "Known traps"), with real ipyplot.

Same-size PIL images (TypeError), labels unescaped, the hidden "show html" copy,
full-size PNGs in the notebook, the 30-image cap, the Colab notice, and the
fallback when its private grid builder is missing.
"""

from __future__ import annotations

import base64
import functools
import re
import sys
from dataclasses import replace
from typing import Any

import nbformat
import pytest

from kontext_widgets import display
from kontext_widgets.contract import Status
from kontext_widgets.display import ipyplot_grid
from kontext_widgets.prediction import OutputImage

from ._helpers import DATA_URI, REQUEST, SCRIPT, embedded, png, pred, shown


def test_one_html_output_with_one_copy_of_each_thumbnail() -> None:
    outputs, html = shown([pred(1), pred(2), pred(3)])
    assert len(outputs) == 1  # one row; no hidden "show html" copy as plot_images adds
    assert set(outputs[0]) == {"text/html", "text/plain"}
    assert "show html" not in html
    assert "<textarea" not in html
    uris = DATA_URI.findall(html)
    assert len(uris) == 3
    assert len(set(uris)) == 3
    for uri in uris:
        assert html.count(uri) == 1  # show_url=False: the URI is not printed as text too
        assert uri.startswith("data:image/jpeg;base64,")
    assert "ipyplot-content-div-" in html  # ipyplot's own grid markup


def test_same_size_outputs_do_not_hit_the_ipyplot_pil_trap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ipyplot 1.1.2 raises TypeError for a list of same-size PIL images; we pass strings.
    real = ipyplot_grid.grid_builder()
    assert real is not None
    seen: list[Any] = []

    def spy(**kwargs: Any) -> str:
        seen.extend(kwargs["images"])
        return str(real(**kwargs))

    monkeypatch.setattr(ipyplot_grid, "grid_builder", lambda: spy)
    preds = [pred(s) for s in range(4)]
    assert {p.images[0].to_pil().size for p in preds} == {(1024, 1024)}
    _, html = shown(preds)
    assert len(seen) == 4
    assert all(type(x) is str and x.startswith("data:image/jpeg;base64,") for x in seen)
    assert len(DATA_URI.findall(html)) == 4


def test_thumbnails_are_small_and_full_size_is_not_embedded() -> None:
    wide = pred(1, images=(OutputImage("https://x.example/w.png", png(1024, 768, 1)),))
    tall = pred(2, images=(OutputImage("https://x.example/t.png", png(576, 1024, 2)),))
    _, html = shown([wide, tall])
    sizes = [im.size for im in embedded(html)]
    assert sizes == [(256, 192), (144, 256)]
    assert [im.format for im in embedded(html)] == ["JPEG", "JPEG"]
    for p in (wide, tall):
        full = base64.b64encode(p.images[0].data).decode()
        assert full[100:200] not in html  # no trace of the full-size PNG
    assert "data:image/png" not in html


def test_sixteen_1024px_outputs_add_well_under_1_mb_to_the_notebook() -> None:
    preds = [pred(s) for s in range(16)]
    outputs, html = shown(preds)
    images = embedded(html)
    assert len(images) == 16
    assert all(max(im.size) <= 256 for im in images)
    v4: Any = nbformat.v4
    writes: Any = nbformat.writes
    cell = v4.new_code_cell("kw.show(predictions)")
    bare = len(writes(v4.new_notebook(cells=[cell])).encode())
    cell.outputs = [v4.new_output("display_data", data=data) for data in outputs]
    added = len(writes(v4.new_notebook(cells=[cell])).encode()) - bare
    full_size = sum(len(p.images[0].data) for p in preds)
    print(f"16 outputs of 1024 px: {added} bytes added to the .ipynb ({full_size} bytes full size)")
    assert len(html.encode()) < 1_000_000
    assert added < 1_000_000
    assert added < full_size / 20


def test_more_than_thirty_outputs_are_all_shown() -> None:
    # ipyplot keeps only the first 30 images unless told otherwise.
    small = (OutputImage("https://x.example/s.png", png(64, 64, 0)),)
    _, html = shown([pred(s, images=small) for s in range(35)])
    assert len(DATA_URI.findall(html)) == 35
    assert "seed 34" in html


def test_labels_title_errors_and_urls_are_escaped() -> None:
    a = pred(1, request=replace(REQUEST, prompt=SCRIPT))
    b = pred(1, request=replace(REQUEST, prompt="<b>&"))
    failed = pred(2, status=Status.FAILED, error="</textarea>" + SCRIPT, code=1403)
    odd_url = pred(
        3, images=(OutputImage('https://x.example/o.png?a="><script>x</script>', png(seed=3)),)
    )
    _, html = shown([a, b, failed, odd_url], title="<i>mine</i> " + SCRIPT)
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<b>&" not in html
    assert "<i>mine" not in html
    assert "</textarea>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;&amp;" in html
    assert "&lt;i&gt;mine&lt;/i&gt;" in html
    assert 'href="https://x.example/o.png?a=&quot;&gt;&lt;script&gt;' in html


def test_fields_inside_the_tooltip_are_escaped() -> None:
    _, html = shown([pred(1, request=replace(REQUEST, prompt='say "hi" <now>'))])
    assert 'title="id pred-1' in html
    assert "say &quot;hi&quot; &lt;now&gt;" in html
    assert 'say "hi"' not in html


def test_links_only_for_http_urls() -> None:
    bad = pred(1, images=(OutputImage("javascript:alert(1)", png(seed=1)),))
    good = pred(2)
    _, html = shown([bad, good])
    assert "javascript:" not in html
    assert html.count(">full size</a>") == 1
    assert 'href="https://cdn.example.com/out/2.png"' in html


def test_html_row_matches_what_show_displays() -> None:
    html = display.html_row([pred(1), pred(2)], title="two seeds")
    _, shown_html = shown([pred(1), pred(2)], title="two seeds")
    # the row's id and ipyplot's shortuuids differ per call; everything else must match
    strip = functools.partial(re.sub, r"kw-gallery-[0-9a-f]{12}|[A-Za-z0-9]{22}", "")
    assert strip(html) == strip(shown_html)
    assert "two seeds" in html


def test_falls_back_to_plot_images_without_the_grid_builder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ipyplot_grid, "grid_builder", lambda: None)
    outputs, _ = shown([pred(1, request=replace(REQUEST, prompt=SCRIPT)), pred(2)])
    everything = "".join(o.get("text/html", "") for o in outputs)
    assert len(DATA_URI.findall(everything)) >= 2  # ipyplot shows them (twice, in 1.1.2)
    assert "<script" not in everything.lower()
    with pytest.raises(RuntimeError, match="ipyplot"):
        display.html_row([pred(1)])


def test_ipyplot_colab_notice_is_kept_out_of_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "ipyplot" or m.startswith("ipyplot.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "google.colab", sys.modules[__name__])
    assert ipyplot_grid.grid_builder() is not None
    assert capsys.readouterr().out == ""
    assert "ipyplot" in sys.modules  # it really was imported again, under "Colab"
