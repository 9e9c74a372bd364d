"""Rows of a run's outputs: :func:`show` and :func:`html_row` for finished predictions,
:func:`widget_row` for the widget's rows, where placeholders stand in for what is not done.

Each tile is labelled with what differs across the row; the heading says what
the tiles share, how many there are, and SIMULATED for the offline simulator.
Full-size images are never embedded; each tile links to its output URL instead.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._text import plural
from ..contract import Status
from ..images import THUMB_PX, check_px
from ..labels import SIMULATED_NOTE, differing_fields, label, shared_fields
from ..prediction import Pending, Prediction, TileState, output_key
from .ipyplot_grid import publish_row, render
from .tiles import SIMULATED_BADGE, Row, Tile, check_ready, pending_tile, prediction_tiles

__all__ = ["RowOutput", "WidgetRow", "html_row", "new_row_id", "show", "widget_row"]


def new_row_id(prefix: str = "kw-gallery") -> str:
    """A fresh element id for a row (its CSS is scoped to it)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _heading(parts: Sequence[str], simulated: bool) -> tuple[str, str]:
    """The heading of a row as (HTML, plain text): ``parts`` joined, SIMULATED first if so."""
    plain_parts = list(parts)
    html_parts = [html.escape(part) for part in plain_parts]
    if simulated:
        plain_parts.insert(0, f"SIMULATED ({SIMULATED_NOTE})")
        html_parts.insert(0, f"{SIMULATED_BADGE} {html.escape(SIMULATED_NOTE)}")
    return f'<div class="kw-title">{" · ".join(html_parts)}</div>', " · ".join(plain_parts)


def _check_title(title: object) -> None:
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title: {title!r} is not allowed; expected a string or None")


def _check_per_row(value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(
            f"max_images_per_row: {value!r} is not allowed; "
            "expected None or an integer of 1 or more"
        )


def _build_row(
    predictions: Prediction | Iterable[Prediction],
    title: str | None,
    thumb_px: int,
    max_images_per_row: int | None,
) -> Row:
    preds = [predictions] if isinstance(predictions, Prediction) else list(predictions)
    if not preds:
        raise ValueError("no predictions to show: pass a list of Prediction objects")
    check_px("thumb_px", thumb_px)
    _check_per_row(max_images_per_row)
    _check_title(title)
    check_ready(preds)

    fields = differing_fields(preds)
    tiles = [t for p in preds for t in prediction_tiles(p, label(p, fields), thumb_px)]
    failed = sum(p.status is Status.FAILED for p in preds)
    counts = [plural(sum(len(p.images) for p in preds), "output")]
    if failed:
        counts.append(f"{failed} failed")
    heading = [title] if title else shared_fields(preds, fields)
    header_html, header_plain = _heading([*heading, *counts], any(p.simulated for p in preds))
    return Row(
        row_id=new_row_id(),
        header_html=header_html,
        header_plain=header_plain,
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=max_images_per_row,
    )


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
    return render(_build_row(predictions, title, thumb_px, max_images_per_row))


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
    publish_row(_build_row(predictions, title, thumb_px, max_images_per_row))


# --------------------------------------------------------------------------- widget rows


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


def _widget_tiles(
    items: Sequence[Prediction | Pending], px: int, thumbs: Mapping[str, str] | None
) -> tuple[list[Tile], list[RowOutput]]:
    fields = differing_fields(items)
    tiles: list[Tile] = []
    outputs: list[RowOutput] = []
    for item in items:
        text = label(item, fields)
        if isinstance(item, Pending):
            tiles.append(pending_tile(item, text, px))
            outputs.append(RowOutput(item.id, text, item.state))
            continue
        tiles += prediction_tiles(item, text, px, hooks=True, thumbs=thumbs)
        if item.status is Status.FAILED:
            outputs.append(RowOutput(item.id, text, "failed"))
            continue
        count = len(item.images)
        outputs += [
            RowOutput(
                output_key(item.id, i), text + (f" ({i + 1}/{count})" if count > 1 else ""), "done"
            )
            for i in range(count)
        ]
    return tiles, outputs


def _widget_counts(items: Sequence[Prediction | Pending]) -> list[str]:
    finished = [i.status for i in items if isinstance(i, Prediction)]
    waiting = [i.state for i in items if isinstance(i, Pending)]
    counts = [f"{finished.count(Status.COMPLETED)} of {len(items)} done"]
    failed = finished.count(Status.FAILED) + waiting.count("failed")
    if failed:
        counts.append(f"{failed} failed")
    if "cancelled" in waiting:
        counts.append(f"{waiting.count('cancelled')} cancelled")
    return counts


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
    check_px("thumb_px", thumb_px)
    _check_title(title)
    check_ready([i for i in items if isinstance(i, Prediction)])
    for item in items:
        if not isinstance(item, (Prediction, Pending)):
            raise ValueError(f"{item!r:.80} is neither a Prediction nor a Pending tile")

    tiles, outputs = _widget_tiles(items, thumb_px, thumbs)
    parts = [*([title] if title else []), *shared_fields(items, differing_fields(items))]
    header_html, header_plain = _heading(
        [*parts, *_widget_counts(items)], any(i.simulated for i in items)
    )
    row = Row(
        row_id=new_row_id(),
        header_html=header_html,
        header_plain=header_plain,
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=None,
    )
    return WidgetRow(html=render(row), title=row.header_plain, outputs=tuple(outputs))
