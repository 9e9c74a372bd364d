"""Tiles: one picture (always a ``data:`` URI or an escaped http(s) URL), its label and notes.

A :class:`Tile` holds HTML that is already escaped; a :class:`Row` is a titled
run of tiles that :mod:`.ipyplot_grid` lays out. Placeholders are small SVGs in
the request's aspect ratio, so a tile keeps its shape when its result arrives.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ..contract import ASPECT_RATIOS, Status
from ..images import data_uri, thumbnail_data_uri
from ..labels import request_lines
from ..payload import is_http_url
from ..prediction import Pending, Prediction, output_key

#: The badge every tile and heading of simulated results carries.
SIMULATED_BADGE: Final = '<strong class="kw-simulated">SIMULATED</strong>'
#: What a placeholder of a tile with no picture yet says, by its state.
PENDING_TEXT: Final[Mapping[str, str]] = {
    "queued": "queued",
    "uploading": "uploading inputs…",
    "running": "running…",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Tile:
    """One tile: ``src`` is a data: URI or escaped http(s) URL; the HTML parts are escaped."""

    src: str
    label_html: str
    text_html: str | None
    plain: str
    #: the image's alt text (plain words); empty: ``plain``
    alt: str = ""


@dataclass(frozen=True)
class Row:
    """A titled run of tiles; ``per_row`` wraps it after that many tiles (None: never)."""

    row_id: str
    header_html: str
    header_plain: str
    tiles: tuple[Tile, ...]
    thumb_px: int
    per_row: int | None

    @property
    def plain(self) -> str:
        return "\n".join([self.header_plain, *("  " + t.plain for t in self.tiles)])


def hook(key: str) -> str:
    """The empty element the front end fills with a tile's buttons, naming its output key.

    >>> hook('a"1:0')
    '<i class="kw-hook" data-kw-output="a&quot;1:0"></i>'
    """
    # Not a <span>: ipyplot's CSS stretches every span inside a tile over the whole tile.
    return f'<i class="kw-hook" data-kw-output="{html.escape(key, quote=True)}"></i>'


def shape(px: int, aspect_ratio: str | None) -> tuple[int, int]:
    """Width and height of a placeholder of long side ``px`` in ``aspect_ratio`` (square if None).

    >>> shape(256, "16:9"), shape(256, "2:3"), shape(64, None)
    ((256, 144), (171, 256), (64, 64))
    """
    if aspect_ratio and aspect_ratio in ASPECT_RATIOS:
        rw, rh = (int(v) for v in aspect_ratio.split(":"))
        return (px, round(px * rh / rw)) if rw >= rh else (round(px * rw / rh), px)
    return px, px


def _svg(w: int, h: int, fill: str, mark: str) -> str:
    # A translucent fill takes on the page's colour: pale in light themes, dark in dark ones.
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="{fill}"'
        f' fill-opacity="0.18"/>{mark}</svg>'
    )
    return data_uri(svg.encode(), "image/svg+xml")


def placeholder_uri(px: int, aspect_ratio: str | None = None) -> str:
    """A pale red tile with a cross (a failure), in the request's aspect ratio when known."""
    w, h = shape(px, aspect_ratio)
    cx, cy = w / 2, h / 2
    arm = min(w, h) / 8
    cross = (
        f'<path d="M{cx - arm:g} {cy - arm:g}L{cx + arm:g} {cy + arm:g}'
        f'M{cx + arm:g} {cy - arm:g}L{cx - arm:g} {cy + arm:g}" stroke="#b3261e"'
        f' stroke-width="{max(arm / 3, 2):g}" stroke-linecap="round"/>'
    )
    return _svg(w, h, "#b3261e", cross)


def pending_uri(px: int, aspect_ratio: str | None, state: str) -> str:
    """A grey tile (three dots while waiting, a bar when cancelled) in the request's shape."""
    if state == "failed":
        return placeholder_uri(px, aspect_ratio)
    w, h = shape(px, aspect_ratio)
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
    return _svg(w, h, "#8a8a8a", mark)


def check_ready(predictions: Sequence[object]) -> None:
    """ValueError naming every item that is not a finished Prediction with its images."""
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


def _tooltip(prediction: Prediction) -> str:
    parts = [f"id {prediction.id}", prediction.status.value, *request_lines(prediction.request)]
    if prediction.inference_ms is not None:
        parts.append(f"inference {prediction.inference_ms:.0f} ms")
    return "\n".join(parts)


@dataclass(frozen=True)
class _Labeller:
    """Label HTML for the tiles of one prediction or placeholder."""

    label: str
    tooltip: str
    simulated: bool
    hooks: bool

    @property
    def sim_plain(self) -> str:
        return "SIMULATED · " if self.simulated else ""

    def html(self, suffix: str = "", key: str | None = None) -> str:
        sim = SIMULATED_BADGE + " · " if self.simulated else ""
        tail = hook(key) if self.hooks and key is not None else ""
        title = html.escape(self.tooltip)
        text = html.escape(self.label + suffix)
        return f'<em class="kw-label" title="{title}">{sim}{text}</em>{tail}'


def prediction_tiles(
    p: Prediction,
    label: str,
    px: int,
    *,
    hooks: bool = False,
    thumbs: Mapping[str, str] | None = None,
) -> list[Tile]:
    """The tiles of one prediction: one per output, or one placeholder saying why it failed.

    ``hooks`` puts :func:`hook` after each label; ``thumbs`` holds ready
    thumbnails by output key, so a re-rendered row does not decode images again.
    """
    labeller = _Labeller(label, _tooltip(p), p.simulated, hooks)
    if p.status is Status.FAILED:
        reason = p.error or "no reason given"
        if p.code is not None:
            reason += f" (code {p.code})"
        return [
            Tile(
                src=placeholder_uri(px, p.request.aspect_ratio if p.request else None),
                label_html=labeller.html(key=p.id),
                text_html=f'<strong class="kw-failed">FAILED:</strong> {html.escape(reason)}',
                plain=f"{labeller.sim_plain}{label}: {p.id} FAILED: {reason}",
                alt=f"{label}: failed, no image",
            )
        ]
    count = len(p.images)
    return [_output_tile(p, i, labeller, px, count, thumbs) for i in range(count)]


def _output_tile(
    p: Prediction,
    i: int,
    labeller: _Labeller,
    px: int,
    count: int,
    thumbs: Mapping[str, str] | None,
) -> Tile:
    image = p.images[i]
    suffix = f" ({i + 1}/{count})" if count > 1 else ""
    notes: list[str] = []
    plain_notes: list[str] = []
    key = output_key(p.id, i)
    try:
        cached = thumbs.get(key) if thumbs is not None else None
        src = cached or thumbnail_data_uri(image.data, px)
    except ValueError as exc:
        src = placeholder_uri(px)
        notes.append(
            '<strong class="kw-failed">cannot show this output:</strong> ' + html.escape(str(exc))
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
    return Tile(
        src=src,
        label_html=labeller.html(suffix, key),
        text_html=" · ".join(notes) or None,
        plain=" ".join([f"{labeller.sim_plain}{labeller.label}{suffix}: {p.id}", *plain_notes]),
        alt=f"{'Simulated result' if p.simulated else 'Result'}, {labeller.label}{suffix}",
    )


def pending_tile(item: Pending, label: str, px: int) -> Tile:
    """The placeholder tile of something not (yet) finished, or failed before a prediction."""
    tooltip = "\n".join([item.state, *request_lines(item.request)])
    labeller = _Labeller(label, tooltip, item.simulated, hooks=True)
    label_html, sim_plain = labeller.html(key=item.id), labeller.sim_plain
    if item.state == "failed":
        reason = item.error or "no reason given"
        text = f'<strong class="kw-failed">FAILED:</strong> {html.escape(reason)}'
        plain = f"{sim_plain}{label}: FAILED: {reason}"
    else:
        words = PENDING_TEXT.get(item.state, item.state)
        text = html.escape(words)
        plain = f"{sim_plain}{label}: {words}"
    ratio = item.request.aspect_ratio if item.request is not None else None
    alt = f"{label}: {'failed, no image' if item.state == 'failed' else words}"
    return Tile(
        src=pending_uri(px, ratio, item.state),
        label_html=label_html,
        text_html=text,
        plain=plain,
        alt=alt,
    )
