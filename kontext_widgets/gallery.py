"""Show predictions' outputs inline in a notebook: small, labelled, escaped.

This is the only module that imports ipyplot. It steers around ipyplot 1.1.2's
traps (see DESIGN.md, "Known traps"):

- ipyplot is never given PIL images or numpy arrays (same-size PIL images raise
  ``TypeError``, and they would be embedded as full-size PNGs). We make small
  JPEG thumbnails ourselves and pass them as ``data:`` URI strings, which
  ipyplot writes into ``<img src="...">`` as they are.
- ipyplot writes labels into HTML unescaped: every text we hand it is escaped
  here first.
- ``ipyplot.plot_images`` displays everything twice (the grid and a hidden
  "show html" copy in a ``<textarea>``) and caps a grid at 30 images. We use
  the grid builder ``plot_images`` itself uses and display its HTML once, with
  the cap lifted. Only if that builder is missing (a future ipyplot) do we fall
  back to ``plot_images``, bigger notebooks included.
- Its click-to-zoom does not work in JupyterLab 4 and it paints tiles white in
  dark themes: the row's own CSS hides the zoom links and uses JupyterLab's
  theme colours. Its CSS makes every ``<span>`` inside a tile cover the whole
  tile, so our labels use no spans.

Full-size images are never embedded; each tile links to its output URL instead.

The widget's rows (:func:`widget_row`) are the same tiles plus placeholders for
predictions still queued, uploading or running (and for ones that failed or were
cancelled without a prediction), each tile carrying an empty
``<i class="kw-hook" data-kw-output="KEY">`` in its label where the front end
puts the tile's buttons. :func:`strip_html` lays out a history strip.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from .contract import ASPECT_RATIOS, RANDOM_SEED, Status
from .payload import is_http_url
from .prediction import Prediction

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from .request import KontextRequest
    from .sweeps.results import SweepResult
    from .sweeps.runner import CellOutcome

__all__ = [
    "Pending",
    "RowOutput",
    "StripItem",
    "WidgetRow",
    "differing_fields",
    "differing_labels",
    "html_row",
    "output_key",
    "show",
    "show_strip",
    "strip_html",
    "thumbnail_data_uri",
    "widget_row",
]

#: Long side of a thumbnail, in pixels, unless asked otherwise.
THUMB_PX: Final = 256
#: JPEG quality of thumbnails (1-95).
THUMB_QUALITY: Final = 80
_PX_RANGE: Final = (16, 1024)
#: The request fields a label may show, in the order they are shown.
LABEL_FIELDS: Final = ("seed", "guidance_scale", "aspect_ratio", "prompt", "images")
_LABEL_CHARS: Final = 60
_TITLE_PROMPT_CHARS: Final = 120
_SIMULATED_NOTE: Final = "offline simulator, not the real model"

GridBuilder = Callable[..., str]


# --------------------------------------------------------------------------- thumbnails


def thumbnail_data_uri(data: bytes, px: int = THUMB_PX, *, quality: int = THUMB_QUALITY) -> str:
    """A small JPEG of an image, as a ``data:image/jpeg;base64,...`` URI.

    The long side becomes at most ``px`` pixels (smaller images are not
    enlarged), EXIF rotation is applied, and transparency is flattened onto
    white. Raises :class:`ValueError` when ``data`` is not a readable image.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (1024, 768), "red").save(buf, format="PNG")
    >>> uri = thumbnail_data_uri(buf.getvalue(), px=128)
    >>> uri.startswith("data:image/jpeg;base64,")
    True
    >>> Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size
    (128, 96)
    """
    _check_px("px", px)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality: {quality!r} is not allowed; expected an integer from 1 to 95")
    jpeg = _thumbnail_jpeg(data, px, quality)
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _thumbnail_jpeg(data: bytes, px: int, quality: int) -> bytes:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as opened:
            image: PILImage = opened
            if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation
                image = ImageOps.exif_transpose(image)
            image.thumbnail((px, px), Image.Resampling.LANCZOS)  # also uses JPEG draft mode
            rgb = _flatten(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({len(data)} bytes): {exc}") from exc
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _flatten(image: PILImage) -> PILImage:
    """RGB, with any transparency composited onto white."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _check_px(name: str, px: object) -> int:
    low, high = _PX_RANGE
    if isinstance(px, bool) or not isinstance(px, int) or not low <= px <= high:
        raise ValueError(f"{name}: {px!r} is not allowed; expected an integer from {low} to {high}")
    return px


# --------------------------------------------------------------------------- labels


class Labelled(Protocol):
    """Anything a label can be made for: a :class:`Prediction` or a :class:`Pending` tile."""

    @property
    def id(self) -> str: ...

    @property
    def request(self) -> KontextRequest | None: ...


def differing_fields(predictions: Iterable[Labelled]) -> list[str]:
    """The request fields whose values differ across ``predictions``; ``["seed"]`` if none do.

    Fields come from :meth:`KontextRequest.describe` in :data:`LABEL_FIELDS` order;
    predictions without a request are left out of the comparison.
    """
    described = [p.request.describe() for p in predictions if p.request is not None]
    fields = [f for f in LABEL_FIELDS if len({_value_key(d.get(f)) for d in described}) > 1]
    return fields or ["seed"]


def differing_labels(predictions: Iterable[Labelled]) -> list[str]:
    """One plain-text label per prediction, naming only what differs between them.

    Labels are not escaped (:func:`html_row` escapes them). A prediction that
    has no request is labelled by its id.

    >>> from kontext_widgets.contract import Status
    >>> from kontext_widgets.request import KontextRequest
    >>> def made(seed, guidance=3.5):
    ...     r = KontextRequest.build(prompt="make it night", images=["https://example.com/a.png"],
    ...                              seed=seed, guidance_scale=guidance)
    ...     return Prediction(id=f"p{seed}", status=Status.COMPLETED, request=r)
    >>> differing_labels([made(1), made(2)])
    ['seed 1', 'seed 2']
    >>> differing_labels([made(1, 2.5), made(2, 5)])
    ['seed 1 · guidance 2.5', 'seed 2 · guidance 5']
    >>> differing_labels([made(7), made(7)])  # nothing differs: the seed
    ['seed 7', 'seed 7']
    """
    preds = list(predictions)
    fields = differing_fields(preds)
    return [_label(p, fields) for p in preds]


def _label(prediction: Labelled, fields: Sequence[str]) -> str:
    if prediction.request is None:
        return f"prediction {prediction.id}"
    described = prediction.request.describe()
    return " · ".join(_format_field(f, described.get(f), _LABEL_CHARS) for f in fields)


def _format_field(name: str, value: Any, limit: int) -> str:
    if name == "seed":
        return "seed random" if value is None or value == RANDOM_SEED else f"seed {value}"
    if name == "guidance_scale":
        return f"guidance {float(value):g}"
    if name == "aspect_ratio":
        return f"ratio {value}" if value else "ratio default"
    if name == "prompt":
        return f"prompt “{_shorten(str(value), limit)}”"
    if name == "images":
        items = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        return "images " + _shorten(", ".join(items), limit)
    return f"{name} {_shorten(str(value), limit)}"


def _value_key(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tooltip(prediction: Prediction) -> str:
    parts = [f"id {prediction.id}", prediction.status.value]
    if prediction.request is not None:
        described = prediction.request.describe()
        parts += [_format_field(f, described.get(f), 10_000) for f in LABEL_FIELDS]
    if prediction.inference_ms is not None:
        parts.append(f"inference {prediction.inference_ms:.0f} ms")
    return "\n".join(parts)


# --------------------------------------------------------------------------- the row


@dataclass(frozen=True)
class _Tile:
    src: str  # a data: URI, never a path or remote URL
    label_html: str
    text_html: str | None
    plain: str


@dataclass(frozen=True)
class _Row:
    row_id: str
    header_html: str
    header_plain: str
    tiles: tuple[_Tile, ...]
    thumb_px: int
    per_row: int | None

    @property
    def css(self) -> str:
        rid, px = self.row_id, self.thumb_px
        width = f"max-width: {self.per_row * (px + 6)}px;" if self.per_row else ""
        return (
            "<style>"
            f"#{rid} {{margin: 4px 0 12px 0;}}"
            f"#{rid} .kw-title {{font-size: 13px; margin: 2px 3px 4px;}}"
            f"#{rid} .kw-simulated {{color: #fff; background: #b3261e; font-weight: 700;"
            " padding: 0 5px; border-radius: 3px; letter-spacing: 0.04em;}"
            f"#{rid} .kw-failed {{color: #b3261e; font-weight: 600;}}"
            f"#{rid} .kw-label, #{rid} .kw-hook {{font-style: normal;}}"
            # ipyplot stretches every span in a tile over the whole tile (its zoom links);
            # spans the front end adds next to a hook must stay where they are.
            f'#{rid} div[class^="ipyplot-content-div-"] .kw-hook ~ * span'
            " {position: static; width: auto; height: auto;}"
            f"#{rid} a {{color: var(--jp-content-link-color, #1a62c4);}}"
            f'#{rid} div[id^="ipyplot-imgs-container-div-"] {{display: flex; flex-wrap: wrap;'
            f" align-items: flex-start; overflow: visible; height: auto; {width}}}"
            f'#{rid} div[class^="ipyplot-placeholder-div-"] {{flex: 0 0 auto;}}'
            f'#{rid} div[class^="ipyplot-content-div-"] {{box-sizing: border-box;'
            " background: var(--jp-layout-color1, #fff);"
            " color: var(--jp-content-font-color1, #111);"
            " border-color: var(--jp-border-color2, #ddd); padding-bottom: 4px;}"
            f'#{rid} div[class^="ipyplot-content-div-"] img {{width: auto; max-width: 100%;'
            f" max-height: {px}px; display: block; margin: 0 auto;}}"
            f'#{rid} div[class^="ipyplot-content-div-"] a[href^="#"] {{display: none;}}'
            f"#{rid} h4 {{margin: 4px 6px; line-height: 1.3;}}"
            "</style>"
        )

    @property
    def plain(self) -> str:
        return "\n".join([self.header_plain, *("  " + t.plain for t in self.tiles)])


def _check_ready(predictions: Sequence[Prediction]) -> None:
    problems = []
    for p in predictions:
        if not isinstance(p, Prediction):
            problems.append(f"{p!r:.80} is not a Prediction")
        elif p.status is Status.FAILED or p.images:
            continue
        elif p.status is Status.COMPLETED:
            problems.append(
                f"prediction {p.id} has no downloaded images: download them first with "
                "`prediction = await client.download_outputs(prediction)` "
                "(client.run() downloads them unless download=False)"
            )
        else:
            problems.append(
                f"prediction {p.id} is still {p.status.value}: wait for it and download its "
                "images first with `await client.wait(...)` and "
                "`await client.download_outputs(...)` (client.run() does both)"
            )
    if problems:
        raise ValueError("; ".join(problems))


def _placeholder_uri(px: int, aspect_ratio: str | None = None) -> str:
    """A pale red tile with a cross, in the request's aspect ratio when known."""
    w, h = _shape(px, aspect_ratio)
    cx, cy = w / 2, h / 2
    arm = min(w, h) / 8
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="#f4dcd9"/>'
        f'<path d="M{cx - arm:g} {cy - arm:g}L{cx + arm:g} {cy + arm:g}'
        f'M{cx + arm:g} {cy - arm:g}L{cx - arm:g} {cy + arm:g}" stroke="#b3261e"'
        f' stroke-width="{max(arm / 3, 2):g}" stroke-linecap="round"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _build_row(
    predictions: Prediction | Iterable[Prediction],
    title: str | None,
    thumb_px: int,
    max_images_per_row: int | None,
) -> _Row:
    preds = [predictions] if isinstance(predictions, Prediction) else list(predictions)
    if not preds:
        raise ValueError("no predictions to show: pass a list of Prediction objects")
    _check_px("thumb_px", thumb_px)
    if max_images_per_row is not None and (
        isinstance(max_images_per_row, bool)
        or not isinstance(max_images_per_row, int)
        or max_images_per_row < 1
    ):
        raise ValueError(
            f"max_images_per_row: {max_images_per_row!r} is not allowed; "
            "expected None or an integer of 1 or more"
        )
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title: {title!r} is not allowed; expected a string or None")
    _check_ready(preds)

    fields = differing_fields(preds)
    tiles: list[_Tile] = []
    for p in preds:
        tiles += _tiles_for(p, _label(p, fields), thumb_px)

    simulated = any(p.simulated for p in preds)
    failed = sum(p.status is Status.FAILED for p in preds)
    images = sum(len(p.images) for p in preds)
    counts = [f"{images} output{'s' if images != 1 else ''}"]
    if failed:
        counts.append(f"{failed} failed")
    heading = [title] if title else _shared_fields(preds, fields)
    plain_parts = [*heading, *counts]
    html_parts = [html.escape(part) for part in plain_parts]
    if simulated:
        plain_parts.insert(0, f"SIMULATED ({_SIMULATED_NOTE})")
        html_parts.insert(
            0, f'<strong class="kw-simulated">SIMULATED</strong> {html.escape(_SIMULATED_NOTE)}'
        )
    row_id = "kw-gallery-" + uuid.uuid4().hex[:12]
    return _Row(
        row_id=row_id,
        header_html=f'<div class="kw-title">{" · ".join(html_parts)}</div>',
        header_plain=" · ".join(plain_parts),
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=max_images_per_row,
    )


def _shared_fields(preds: Sequence[Labelled], differing: Sequence[str]) -> list[str]:
    """What all the predictions have in common, for the row's heading."""
    requests = [p.request for p in preds if p.request is not None]
    if not requests:
        return []
    described = requests[0].describe()
    shared = []
    for name in ("prompt", "guidance_scale", "aspect_ratio"):
        if name not in differing:
            shared.append(_format_field(name, described.get(name), _TITLE_PROMPT_CHARS))
    if "images" not in differing:
        n = len(described.get("images") or [])
        shared.append(f"{n} input image{'s' if n != 1 else ''}")
    return shared


def _tiles_for(
    p: Prediction,
    label: str,
    px: int,
    *,
    hooks: bool = False,
    thumbs: Mapping[str, str] | None = None,
) -> list[_Tile]:
    sim = '<strong class="kw-simulated">SIMULATED</strong> · ' if p.simulated else ""
    sim_plain = "SIMULATED · " if p.simulated else ""
    tooltip = html.escape(_tooltip(p))

    def label_html(suffix: str = "", key: str | None = None) -> str:
        hook = _hook(key) if hooks and key is not None else ""
        return (
            f'<em class="kw-label" title="{tooltip}">{sim}{html.escape(label + suffix)}</em>{hook}'
        )

    if p.status is Status.FAILED:
        reason = p.error or "no reason given"
        if p.code is not None:
            reason += f" (code {p.code})"
        return [
            _Tile(
                src=_placeholder_uri(px, p.request.aspect_ratio if p.request else None),
                label_html=label_html(key=p.id),
                text_html=f'<strong class="kw-failed">FAILED:</strong> {html.escape(reason)}',
                plain=f"{sim_plain}{label}: {p.id} FAILED: {reason}",
            )
        ]
    tiles = []
    count = len(p.images)
    for i, image in enumerate(p.images):
        suffix = f" ({i + 1}/{count})" if count > 1 else ""
        notes: list[str] = []
        plain_notes: list[str] = []
        key = output_key(p.id, i)
        try:
            cached = thumbs.get(key) if thumbs is not None else None
            src = cached or thumbnail_data_uri(image.data, px)
        except ValueError as exc:
            src = _placeholder_uri(px)
            notes.append(
                '<strong class="kw-failed">cannot show this output:</strong> '
                + html.escape(str(exc))
            )
            plain_notes.append(f"cannot show this output: {exc}")
        if i < len(p.has_nsfw_contents) and p.has_nsfw_contents[i]:
            notes.append("flagged as NSFW by the service")
            plain_notes.append("flagged as NSFW by the service")
        if is_http_url(image.url):
            notes.append(
                f'<a href="{html.escape(image.url)}" target="_blank" rel="noopener noreferrer">'
                "full size</a>"
            )
        tiles.append(
            _Tile(
                src=src,
                label_html=label_html(suffix, key),
                text_html=" · ".join(notes) or None,
                plain=" ".join([f"{sim_plain}{label}{suffix}: {p.id}", *plain_notes]),
            )
        )
    return tiles


# --------------------------------------------------------------------------- ipyplot


def _grid_builder() -> GridBuilder | None:
    """ipyplot's own grid-HTML builder (what ``plot_images`` displays), if it has one."""
    # In Colab, importing ipyplot prints advice about file paths that does not
    # apply to data: URIs; keep it out of the user's output (first import only).
    first = "ipyplot" not in sys.modules
    with contextlib.redirect_stdout(io.StringIO()) if first else contextlib.nullcontext():
        import ipyplot
    builder = getattr(getattr(ipyplot, "_html_helpers", None), "_create_imgs_grid", None)
    return builder if callable(builder) else None


def _ipyplot_args(row: _Row) -> dict[str, Any]:
    return {
        "images": [t.src for t in row.tiles],
        "labels": [t.label_html for t in row.tiles],
        "custom_texts": [t.text_html for t in row.tiles],
        "max_images": len(row.tiles),  # ipyplot silently keeps only 30 otherwise
        "img_width": row.thumb_px,
        "zoom_scale": 1.0,
        "show_url": False,  # True would print each data: URI as text a second time
        "force_b64": False,  # keep our data: URIs; never re-encode
    }


def html_row(
    predictions: Prediction | Iterable[Prediction],
    *,
    title: str | None = None,
    thumb_px: int = THUMB_PX,
    max_images_per_row: int | None = None,
) -> str:
    """The HTML :func:`show` displays, as a string (for saving or testing).

    Raises :class:`ValueError` like :func:`show`, and :class:`RuntimeError`
    when the installed ipyplot has no grid builder (use :func:`show` then).

    >>> from kontext_widgets import samples
    >>> from kontext_widgets.contract import Status
    >>> from kontext_widgets.prediction import OutputImage
    >>> p = Prediction(id="abc", status=Status.COMPLETED,
    ...                images=(OutputImage("https://example.com/o.png",
    ...                                    samples.path("shoes").read_bytes()),))
    >>> row = html_row([p], title="<my> shoes")
    >>> "&lt;my&gt; shoes" in row and row.count("<img src=") == 1
    True
    """
    return _render(_build_row(predictions, title, thumb_px, max_images_per_row))


def _wrap(row: _Row, grid: str) -> str:
    return f'<div id="{row.row_id}" class="kw-gallery">{row.css}{row.header_html}{grid}</div>'


def show(
    predictions: Prediction | Iterable[Prediction],
    *,
    title: str | None = None,
    thumb_px: int = THUMB_PX,
    max_images_per_row: int | None = None,
) -> None:
    """Show the predictions' outputs inline: one row, side by side, labelled.

    Each tile is labelled with what differs between the predictions (seed,
    guidance, aspect ratio, prompt, input images; the seed when nothing does)
    and the row's heading says what they share. Results of the offline
    simulator say SIMULATED. Failed predictions get a placeholder tile with
    their error. Thumbnails are JPEGs of at most ``thumb_px`` pixels, so a saved
    notebook stays small; ``max_images_per_row`` wraps long rows.

    Raises :class:`ValueError` for a prediction without downloaded images
    (``client.run()`` downloads them by default). Outside IPython it prints a
    text summary instead.

    >>> from kontext_widgets import samples
    >>> from kontext_widgets.contract import Status
    >>> from kontext_widgets.prediction import OutputImage
    >>> from kontext_widgets.request import KontextRequest
    >>> shoes = samples.path("shoes")
    >>> preds = [Prediction(id=f"p{seed}", status=Status.COMPLETED, simulated=True,
    ...              request=KontextRequest.build(prompt="make them blue", images=[shoes], seed=seed),
    ...              images=(OutputImage("https://example.com/o.png", shoes.read_bytes()),))
    ...          for seed in (1, 2)]
    >>> show(preds)  # in a notebook: two labelled thumbnails side by side
    SIMULATED (offline simulator, not the real model) · prompt “make them blue” · guidance 3.5 · ratio default · 1 input image · 2 outputs
      SIMULATED · seed 1: p1
      SIMULATED · seed 2: p2
    """  # noqa: E501
    row = _build_row(predictions, title, thumb_px, max_images_per_row)
    from IPython import get_ipython
    from IPython.display import HTML, display

    if get_ipython() is None:
        print(row.plain)
        return
    builder = _grid_builder()
    if builder is None:  # an ipyplot we do not know: its public API, with its extra copy
        import ipyplot

        display(HTML(row.header_html))  # type: ignore[no-untyped-call]
        ipyplot.plot_images(**_ipyplot_args(row))
        return
    grid = str(builder(**_ipyplot_args(row)))
    display(  # type: ignore[no-untyped-call]
        {"text/html": _wrap(row, grid), "text/plain": row.plain}, raw=True
    )


# --------------------------------------------------------------------------- widget rows

#: What a tile of the widget's row shows.
TileState = Literal["queued", "uploading", "running", "done", "failed", "cancelled"]
_PENDING_TEXT: Final[Mapping[str, str]] = {
    "queued": "queued",
    "uploading": "uploading inputs…",
    "running": "running…",
    "cancelled": "cancelled",
}


def output_key(prediction_id: str, index: int) -> str:
    """The stable key of output ``index`` of a prediction, as the widget and its tiles name it.

    >>> output_key("a1b2", 0)
    'a1b2:0'
    """
    return f"{prediction_id}:{index}"


@dataclass(frozen=True)
class Pending:
    """A tile with no output image (yet): queued, uploading, running, failed or cancelled.

    ``id`` is the tile's key (the job's key in the widget); ``request`` gives it the
    same label as the finished tiles beside it and its placeholder's shape.
    """

    id: str
    state: TileState
    request: KontextRequest | None = None
    error: str = ""
    simulated: bool = False


@dataclass(frozen=True)
class RowOutput:
    """One tile of a widget row: its key, its plain label and its state."""

    key: str
    label: str
    state: TileState


@dataclass(frozen=True)
class WidgetRow:
    """A widget row: escaped HTML, its heading as plain text, and its tiles in order."""

    html: str
    title: str
    outputs: tuple[RowOutput, ...]


def _hook(key: str) -> str:
    # Empty on purpose: the front end fills it with the tile's buttons. Not a <span>: ipyplot's
    # CSS stretches every span inside a tile over the whole tile.
    return f'<i class="kw-hook" data-kw-output="{html.escape(key, quote=True)}"></i>'


def _pending_uri(px: int, aspect_ratio: str | None, state: str) -> str:
    """A grey tile (three dots while waiting, a bar when cancelled) in the request's shape."""
    if state == "failed":
        return _placeholder_uri(px, aspect_ratio)
    w, h = _shape(px, aspect_ratio)
    cx, cy = w / 2, h / 2
    r = max(min(w, h) / 40, 2)
    if state == "cancelled":
        mark = (
            f'<path d="M{cx - 4 * r:g} {cy:g}H{cx + 4 * r:g}" stroke="#8a8a8a"'
            f' stroke-width="{r:g}" stroke-linecap="round"/>'
        )
    else:
        mark = "".join(
            f'<circle cx="{cx + dx * 3 * r:g}" cy="{cy:g}" r="{r:g}" fill="#8a8a8a"/>'
            for dx in (-1, 0, 1)
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="#e8e8e8"/>{mark}</svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _shape(px: int, aspect_ratio: str | None) -> tuple[int, int]:
    if aspect_ratio and aspect_ratio in ASPECT_RATIOS:
        rw, rh = (int(v) for v in aspect_ratio.split(":"))
        return (px, round(px * rh / rw)) if rw >= rh else (round(px * rw / rh), px)
    return px, px


def _pending_tile(item: Pending, label: str, px: int) -> _Tile:
    sim = '<strong class="kw-simulated">SIMULATED</strong> · ' if item.simulated else ""
    sim_plain = "SIMULATED · " if item.simulated else ""
    parts: list[str] = [item.state]
    if item.request is not None:
        described = item.request.describe()
        parts += [_format_field(f, described.get(f), 10_000) for f in LABEL_FIELDS]
    tooltip = html.escape("\n".join(parts))
    label_html = (
        f'<em class="kw-label" title="{tooltip}">{sim}{html.escape(label)}</em>{_hook(item.id)}'
    )
    if item.state == "failed":
        reason = item.error or "no reason given"
        text = f'<strong class="kw-failed">FAILED:</strong> {html.escape(reason)}'
        plain = f"{sim_plain}{label}: FAILED: {reason}"
    else:
        text = html.escape(_PENDING_TEXT.get(item.state, item.state))
        plain = f"{sim_plain}{label}: {_PENDING_TEXT.get(item.state, item.state)}"
    ratio = item.request.aspect_ratio if item.request is not None else None
    return _Tile(
        src=_pending_uri(px, ratio, item.state), label_html=label_html, text_html=text, plain=plain
    )


def widget_row(
    items: Sequence[Prediction | Pending],
    *,
    title: str | None = None,
    thumb_px: int = THUMB_PX,
    thumbs: Mapping[str, str] | None = None,
) -> WidgetRow:
    """One run of the widget as a row: finished outputs and placeholders, side by side.

    Labels name what differs across all ``items`` (finished or not), so a tile keeps
    its label when its result arrives. Each tile's label holds an empty
    ``<i class="kw-hook" data-kw-output="KEY">``: ``KEY`` is :func:`output_key`
    for an output, the prediction's id for a failed prediction and ``Pending.id``
    for a placeholder. ``thumbs`` maps output keys to ready thumbnails (data URIs of
    ``thumb_px``), so a row re-rendered as each result arrives does not decode every
    image again. Everything is escaped.

    >>> from kontext_widgets.request import KontextRequest
    >>> r = KontextRequest.build(prompt="<b>night</b>", images=["https://example.com/a.png"])
    >>> row = widget_row([Pending("job-1", "running", r), Pending("job-2", "queued", r)])
    >>> [(o.key, o.state) for o in row.outputs]
    [('job-1', 'running'), ('job-2', 'queued')]
    >>> 'data-kw-output="job-1"' in row.html, "<b>night" in row.html
    (True, False)
    >>> row.title
    'prompt “<b>night</b>” · guidance 3.5 · ratio default · 1 input image · 0 of 2 done'
    """
    items = list(items)
    if not items:
        raise ValueError("no items to show: pass Prediction or Pending objects")
    _check_px("thumb_px", thumb_px)
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title: {title!r} is not allowed; expected a string or None")
    finished = [i for i in items if isinstance(i, Prediction)]
    _check_ready(finished)
    for item in items:
        if not isinstance(item, (Prediction, Pending)):
            raise ValueError(f"{item!r:.80} is neither a Prediction nor a Pending tile")

    fields = differing_fields(items)
    tiles: list[_Tile] = []
    outputs: list[RowOutput] = []
    for item in items:
        label = _label(item, fields)
        if isinstance(item, Pending):
            tiles.append(_pending_tile(item, label, thumb_px))
            outputs.append(RowOutput(item.id, label, item.state))
            continue
        made = _tiles_for(item, label, thumb_px, hooks=True, thumbs=thumbs)
        tiles += made
        if item.status is Status.FAILED:
            outputs.append(RowOutput(item.id, label, "failed"))
        else:
            count = len(item.images)
            outputs += [
                RowOutput(
                    output_key(item.id, i),
                    label + (f" ({i + 1}/{count})" if count > 1 else ""),
                    "done",
                )
                for i in range(count)
            ]

    done = sum(isinstance(i, Prediction) and i.status is Status.COMPLETED for i in items)
    failed = sum(
        (isinstance(i, Prediction) and i.status is Status.FAILED)
        or (isinstance(i, Pending) and i.state == "failed")
        for i in items
    )
    cancelled = sum(isinstance(i, Pending) and i.state == "cancelled" for i in items)
    counts = [f"{done} of {len(items)} done"]
    if failed:
        counts.append(f"{failed} failed")
    if cancelled:
        counts.append(f"{cancelled} cancelled")
    plain_parts = [*([title] if title else []), *_shared_fields(items, fields), *counts]
    html_parts = [html.escape(part) for part in plain_parts]
    if any(i.simulated for i in items):
        plain_parts.insert(0, f"SIMULATED ({_SIMULATED_NOTE})")
        html_parts.insert(
            0, f'<strong class="kw-simulated">SIMULATED</strong> {html.escape(_SIMULATED_NOTE)}'
        )
    row = _Row(
        row_id="kw-gallery-" + uuid.uuid4().hex[:12],
        header_html=f'<div class="kw-title">{" · ".join(html_parts)}</div>',
        header_plain=" · ".join(plain_parts),
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=None,
    )
    return WidgetRow(
        html=_render(row),
        title=row.header_plain,
        outputs=tuple(outputs),
    )


def _render(row: _Row) -> str:
    builder = _grid_builder()
    if builder is None:
        raise RuntimeError(
            "this version of ipyplot has no grid builder (ipyplot._html_helpers._create_imgs_grid);"
            " kontext-widgets was written against ipyplot 1.1.x"
        )
    return _wrap(row, str(builder(**_ipyplot_args(row))))


# --------------------------------------------------------------------------- strips


@dataclass(frozen=True)
class StripItem:
    """One tile of a strip: a thumbnail (``data:`` URI or http(s) URL), a label, a note."""

    src: str
    label: str
    note: str = ""


def _strip_row(items: Sequence[StripItem], title: str, thumb_px: int) -> _Row:
    if not items:
        raise ValueError("no items to show")
    _check_px("thumb_px", thumb_px)
    tiles = []
    for item in items:
        if not (item.src.startswith("data:image/") or is_http_url(item.src)):
            raise ValueError(
                f"{item.label!r}: src must be a data:image/ URI (a thumbnail) or an http(s) URL"
            )
        tiles.append(
            _Tile(
                # ipyplot writes src into the attribute as it is: escape it here (a base64
                # thumbnail is unchanged by escaping; anything else cannot break out).
                src=html.escape(item.src),
                label_html=f'<em class="kw-label">{html.escape(item.label)}</em>',
                text_html=html.escape(item.note) if item.note else None,
                plain=item.label + (f": {item.note}" if item.note else ""),
            )
        )
    return _Row(
        row_id="kw-gallery-" + uuid.uuid4().hex[:12],
        header_html=f'<div class="kw-title">{html.escape(title)}</div>',
        header_plain=title,
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=None,
    )


def strip_html(items: Sequence[StripItem], *, title: str, thumb_px: int = THUMB_PX) -> str:
    """A titled row of ready thumbnails (e.g. an edit history), escaped, as HTML.

    >>> uri = _pending_uri(64, None, "queued")
    >>> html_text = strip_html([StripItem(uri, "step <1>", "make it night")], title="History")
    >>> "step &lt;1&gt;" in html_text and "History" in html_text
    True
    """
    return _render(_strip_row(items, title, thumb_px))


def show_strip(items: Sequence[StripItem], *, title: str, thumb_px: int = THUMB_PX) -> None:
    """Display :func:`strip_html` inline (a text summary outside IPython)."""
    row = _strip_row(items, title, thumb_px)
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is None:
        print(row.plain)
        return
    display(  # type: ignore[no-untyped-call]
        {"text/html": _render(row), "text/plain": row.plain}, raw=True
    )


# --------------------------------------------------------------------------- sweep grids


#: What a grid cell that has no image (yet) says, by the cell's state.
_CELL_TEXT: Final[Mapping[str, str]] = {
    "pending": "queued",
    "running": "running…",
    "cancelled": "cancelled",
}


def grid_html(
    result: SweepResult,
    *,
    rows: str | list[str] | None = None,
    cols: str | list[str] | None = None,
    thumb_px: int = 160,
    thumbs: MutableMapping[str, str] | None = None,
    hooks: Callable[[CellOutcome], str | None] | None = None,
) -> str:
    """A sweep as a grid: one ipyplot row per row of the layout, legends on both axes.

    Column legends label each tile, the row legend heads each row; everything is
    escaped. Failed cells show a placeholder with their reason; cells of a partial
    result that are queued (``pending``), ``running`` or ``cancelled`` show a grey
    placeholder saying so. ``thumbs`` caches thumbnails (of ``thumb_px``) by output
    sha256, so a grid redrawn as cells finish decodes each image once; ``hooks``
    gives a cell's output key, put into its label as an empty
    ``<i class="kw-hook" data-kw-output="KEY">`` (as :func:`widget_row` does).

    >>> from kontext_widgets.sweeps import SweepResult, plan_sweep
    >>> from kontext_widgets.sweeps.runner import CellOutcome
    >>> plan = plan_sweep(prompt="x", images=["https://example.com/a.png"], seed=[1, 2])
    >>> outcomes = (CellOutcome(0, {"seed": 1}, "running"), CellOutcome(1, {"seed": 2}, "pending"))
    >>> page = grid_html(SweepResult(plan, outcomes, None, simulated=False))
    >>> "running…" in page, "queued" in page, "seed 2" in page
    (True, True, True)
    """
    _check_px("thumb_px", thumb_px)
    layout = result.layout(rows=rows, cols=cols)
    sim_html = (
        f'<strong class="kw-simulated">SIMULATED</strong> {html.escape(_SIMULATED_NOTE)} · '
        if result.simulated
        else ""
    )
    across = " × ".join(layout.col_axes) or "—"
    down = " × ".join(layout.row_axes) or "—"
    parts = [
        f'<h3 class="kw-title">{sim_html}{html.escape(result.summary())} · '
        f"columns: {html.escape(across)} · rows: {html.escape(down)}</h3>"
    ]
    fixed_ratio = result.plan.fixed.get("aspect_ratio")
    for r, row_label in enumerate(layout.row_labels):
        tiles = []
        for c, outcome in enumerate(layout.cells[r]):
            col_label = layout.col_labels[c]
            src, note = _cell_image(result, outcome, thumb_px, thumbs, fixed_ratio)
            key = hooks(outcome) if hooks is not None and outcome is not None else None
            tiles.append(
                _Tile(
                    src=src,
                    label_html=html.escape(col_label) + (_hook(key) if key else ""),
                    text_html=note,
                    plain=col_label,
                )
            )
        row = _Row(
            row_id=f"kw-grid-{uuid.uuid4().hex[:12]}",
            header_html=f'<h4 class="kw-title">{html.escape(row_label)}</h4>' if row_label else "",
            header_plain=row_label,
            tiles=tuple(tiles),
            thumb_px=thumb_px,
            per_row=len(tiles),
        )
        parts.append(_render(row))
    return '<div class="kw-sweep-grid">' + "".join(parts) + "</div>"


def _cell_image(
    result: SweepResult,
    outcome: CellOutcome | None,
    px: int,
    thumbs: MutableMapping[str, str] | None,
    fixed_ratio: object,
) -> tuple[str, str | None]:
    """A grid cell's image (a data: URI) and its escaped note."""
    if outcome is not None and outcome.state == "done" and outcome.outputs:
        sha = outcome.outputs[0]
        cached = thumbs.get(sha) if thumbs is not None else None
        if cached is not None:
            return cached, None
        try:
            src = thumbnail_data_uri(result.image_bytes(outcome), px)
        except (OSError, ValueError) as exc:
            reason = html.escape(str(exc))
            return _placeholder_uri(px), f'<strong class="kw-failed">cannot show:</strong> {reason}'
        if thumbs is not None:
            thumbs[sha] = src
        return src, None
    if outcome is not None and outcome.state in _CELL_TEXT:
        ratio = outcome.coords.get("aspect_ratio", fixed_ratio)
        shape = ratio if isinstance(ratio, str) else None
        state = "cancelled" if outcome.state == "cancelled" else "queued"
        return _pending_uri(px, shape, state), html.escape(_CELL_TEXT[outcome.state])
    reason = outcome.error if outcome is not None else "not run"
    return (
        _placeholder_uri(px),
        f'<strong class="kw-failed">failed:</strong> {html.escape(reason or "failed")}',
    )


def show_grid(
    result: SweepResult,
    *,
    rows: str | list[str] | None = None,
    cols: str | list[str] | None = None,
    thumb_px: int = 160,
) -> None:
    """Display :func:`grid_html` inline (a text summary outside IPython)."""
    from IPython import get_ipython
    from IPython.display import HTML, display

    if get_ipython() is None:
        print(result.summary())
        return
    display(HTML(grid_html(result, rows=rows, cols=cols, thumb_px=thumb_px)))  # type: ignore[no-untyped-call]
