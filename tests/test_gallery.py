"""The gallery: real ipyplot and IPython display; outputs inspected as a notebook stores them."""

from __future__ import annotations

import base64
import functools
import io
import re
import sys
from dataclasses import replace
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from PIL import Image, ImageDraw
from traitlets.config import Config

from kontext_widgets import gallery
from kontext_widgets.contract import Status
from kontext_widgets.prediction import OutputImage, Prediction
from kontext_widgets.request import KontextRequest

DATA_URI = re.compile(r'<img src="(data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+)"')
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def shell() -> InteractiveShell:
    """An IPython shell, so display() publishes rich outputs that capture_output() records."""
    config = Config()
    config.HistoryManager.enabled = False  # no history database or saving thread
    return InteractiveShell.instance(config=config)


@functools.lru_cache(maxsize=64)
def png(width: int = 1024, height: int = 1024, seed: int = 0) -> bytes:
    """A photo-like PNG: gradient, shapes and grain (roughly as compressible as a real output)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (seed * 97 + i * 151) % width, (seed * 53 + i * 89) % height
        r = 40 + (i * 37) % 160
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 70) % 256, (seed * 40) % 256, 120))
    grain = Image.effect_noise((width, height), 32).convert("RGB")
    out = io.BytesIO()
    Image.blend(image, grain, 0.2).save(out, format="PNG", compress_level=1)
    return out.getvalue()


REQUEST = KontextRequest.build(
    prompt="put the shoes on her", images=["https://example.com/person.png"], seed=1
)


def pred(
    seed: int = 1,
    *,
    request: KontextRequest | None = REQUEST,
    status: Status = Status.COMPLETED,
    images: tuple[OutputImage, ...] | None = None,
    **fields: Any,
) -> Prediction:
    if request is not None:
        request = replace(request, seed=seed)
    if images is None:
        images = (
            (OutputImage(f"https://cdn.example.com/out/{seed}.png", png(seed=seed)),)
            if status is Status.COMPLETED
            else ()
        )
    return Prediction(id=f"pred-{seed}", status=status, request=request, images=images, **fields)


def shown(predictions: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """Run gallery.show and return the published outputs and the text/html of the first."""
    with capture_output() as captured:
        gallery.show(predictions, **kwargs)
    outputs = [o.data for o in captured.outputs]
    return outputs, (outputs[0].get("text/html", "") if outputs else "")


def embedded(html: str) -> list[Image.Image]:
    images: list[Image.Image] = []
    for uri in DATA_URI.findall(html):
        header, payload = uri.split(",", 1)
        if "svg" in header:
            continue
        images.append(Image.open(io.BytesIO(base64.b64decode(payload))))
    return images


# --------------------------------------------------------------------------- display


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
    real = gallery._grid_builder()
    assert real is not None
    seen: list[Any] = []

    def spy(**kwargs: Any) -> str:
        seen.extend(kwargs["images"])
        return str(real(**kwargs))

    monkeypatch.setattr(gallery, "_grid_builder", lambda: spy)
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


def test_thumb_px_sets_thumbnail_and_tile_size() -> None:
    _, html = shown([pred(1)], thumb_px=128)
    assert [im.size for im in embedded(html)] == [(128, 128)]
    assert "max-height: 128px" in html


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
    gallery.show([pred(1, simulated=True), pred(2, simulated=True)])
    out = capsys.readouterr().out
    assert out.startswith("SIMULATED")
    assert "seed 1: pred-1" in out
    assert "seed 2: pred-2" in out
    assert "<" not in out


# --------------------------------------------------------------------------- escaping


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


# --------------------------------------------------------------------------- SIMULATED


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


# --------------------------------------------------------------------------- labels


def test_labels_name_only_what_differs() -> None:
    assert gallery.differing_labels([pred(1), pred(2)]) == ["seed 1", "seed 2"]
    g = replace(REQUEST, guidance_scale=2.5)
    assert gallery.differing_labels([pred(1), pred(1, request=g)]) == [
        "guidance 3.5",
        "guidance 2.5",
    ]
    r = replace(REQUEST, aspect_ratio="16:9")
    assert gallery.differing_labels([pred(4), pred(5, request=r)]) == [
        "seed 4 · ratio default",
        "seed 5 · ratio 16:9",
    ]


def test_nothing_differs_shows_the_seed() -> None:
    assert gallery.differing_labels([pred(7), pred(7)]) == ["seed 7", "seed 7"]
    assert gallery.differing_labels([pred(-1)]) == ["seed random"]


def test_prompt_labels_are_shortened() -> None:
    long = "make the sky a deep purple with swirling stars and a crescent moon above the hills"
    labels = gallery.differing_labels([pred(1), pred(1, request=replace(REQUEST, prompt=long))])
    assert labels[0] == "prompt “put the shoes on her”"
    assert labels[1].startswith("prompt “make the sky")
    assert labels[1].endswith("…”")
    assert len(labels[1]) < len(long)


def test_input_images_differing_are_labelled() -> None:
    other = replace(REQUEST, images=("https://example.com/other.png",))
    assert gallery.differing_labels([pred(1), pred(1, request=other)]) == [
        "images https://example.com/person.png",
        "images https://example.com/other.png",
    ]


def test_differing_fields_shown_in_the_row_and_shared_ones_in_the_title() -> None:
    _, html = shown([pred(1), pred(2, request=replace(REQUEST, guidance_scale=6.0))])
    assert "seed 1 · guidance 3.5" in html
    assert "seed 2 · guidance 6" in html
    title = re.search(r'<div class="kw-title">(.*?)</div>', html)
    assert title is not None
    assert "prompt “put the shoes on her”" in title.group(1)
    assert "guidance" not in title.group(1)


def test_prediction_without_request_is_labelled_by_id() -> None:
    assert gallery.differing_labels([pred(1, request=None), pred(2)]) == [
        "prediction pred-1",
        "seed 2",
    ]


def test_several_images_of_one_prediction_are_numbered() -> None:
    two = (
        OutputImage("https://x.example/a.png", png(seed=1)),
        OutputImage("https://x.example/b.png", png(seed=2)),
    )
    _, html = shown([pred(1, images=two)])
    assert "seed 1 (1/2)" in html
    assert "seed 1 (2/2)" in html
    assert len(DATA_URI.findall(html)) == 2


# --------------------------------------------------------------------------- failures


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
        gallery.show([pred(1), pred(2, images=())])
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


# --------------------------------------------------------------------------- thumbnails


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.mark.parametrize(
    ("size", "px", "expected"),
    [
        ((1024, 1024), 256, (256, 256)),
        ((1536, 640), 256, (256, 107)),
        ((640, 1536), 200, (83, 200)),
        ((100, 60), 256, (100, 60)),  # never enlarged
    ],
)
def test_thumbnail_sizes(size: tuple[int, int], px: int, expected: tuple[int, int]) -> None:
    uri = gallery.thumbnail_data_uri(png(*size), px)
    assert uri.startswith("data:image/jpeg;base64,")
    assert _decode(uri).size == expected


def test_thumbnail_flattens_transparency_onto_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (300, 300), (255, 0, 0, 0)).save(buf, format="PNG")
    image = _decode(gallery.thumbnail_data_uri(buf.getvalue())).convert("RGB")
    assert image.mode == "RGB"
    r, g, b = image.getpixel((10, 10))  # type: ignore[misc]
    assert min(r, g, b) > 245


def test_thumbnail_follows_exif_rotation() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    Image.new("RGB", (400, 200), "blue").save(buf, format="JPEG", exif=exif)
    assert _decode(gallery.thumbnail_data_uri(buf.getvalue())).size == (128, 256)


def test_thumbnail_of_jpeg_output() -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(png(1024, 1024, 4))).save(buf, format="JPEG", quality=95)
    uri = gallery.thumbnail_data_uri(buf.getvalue())
    assert _decode(uri).size == (256, 256)
    assert len(uri) < 40_000


def test_thumbnail_refuses_non_images_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="not a readable image"):
        gallery.thumbnail_data_uri(b"<html>")
    with pytest.raises(ValueError, match="px"):
        gallery.thumbnail_data_uri(png(64, 64), 0)
    with pytest.raises(ValueError, match="quality"):
        gallery.thumbnail_data_uri(png(64, 64), quality=100)


# --------------------------------------------------------------------------- html_row and ipyplot


def test_html_row_matches_what_show_displays() -> None:
    html = gallery.html_row([pred(1), pred(2)], title="two seeds")
    _, shown_html = shown([pred(1), pred(2)], title="two seeds")
    # the row's id and ipyplot's shortuuids differ per call; everything else must match
    strip = functools.partial(re.sub, r"kw-gallery-[0-9a-f]{12}|[A-Za-z0-9]{22}", "")
    assert strip(html) == strip(shown_html)
    assert "two seeds" in html


def test_falls_back_to_plot_images_without_the_grid_builder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gallery, "_grid_builder", lambda: None)
    outputs, _ = shown([pred(1, request=replace(REQUEST, prompt=SCRIPT)), pred(2)])
    everything = "".join(o.get("text/html", "") for o in outputs)
    assert len(DATA_URI.findall(everything)) >= 2  # ipyplot shows them (twice, in 1.1.2)
    assert "<script" not in everything.lower()
    with pytest.raises(RuntimeError, match="ipyplot"):
        gallery.html_row([pred(1)])


def test_ipyplot_colab_notice_is_kept_out_of_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "ipyplot" or m.startswith("ipyplot.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "google.colab", sys.modules[__name__])
    assert gallery._grid_builder() is not None
    assert capsys.readouterr().out == ""
    assert "ipyplot" in sys.modules  # it really was imported again, under "Colab"
