"""A sweep as a grid of thumbnails, drawn from the display's tiles and rows.

One ipyplot row per row of the layout; the column legend labels each tile and the
row legend heads each row. Everything is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, MutableMapping
from typing import Final

from ..display.ipyplot_grid import render
from ..display.notebook import in_ipython, publish
from ..display.rows import new_row_id
from ..display.tiles import SIMULATED_BADGE, Tile, hook, pending_uri, placeholder_uri
from ..display.tiles import Row as TileRow
from ..engine.cells import CellOutcome
from ..images import check_px, thumbnail_data_uri
from ..labels import SIMULATED_NOTE, axis_name
from .layout import Axes, SweepView

__all__ = ["grid_html", "show_grid"]

#: What a grid cell that has no image (yet) says, by the cell's state.
_CELL_TEXT: Final[Mapping[str, str]] = {
    "pending": "queued",
    "running": "running…",
    "cancelled": "cancelled",
}


def grid_html(
    result: SweepView,
    *,
    rows: Axes = None,
    cols: Axes = None,
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
    ``<i class="kw-hook" data-kw-output="KEY">`` (as the widget's rows do).

    >>> from kontext_widgets.sweeps import SweepResult, plan_sweep
    >>> plan = plan_sweep(prompt="x", images=["https://example.com/a.png"], seed=[1, 2])
    >>> outcomes = (CellOutcome(0, {"seed": 1}, "running"), CellOutcome(1, {"seed": 2}, "pending"))
    >>> page = grid_html(SweepResult(plan, outcomes, None, simulated=False))
    >>> "running…" in page, "queued" in page, "seed 2" in page
    (True, True, True)
    """
    check_px("thumb_px", thumb_px)
    layout = result.layout(rows=rows, cols=cols)
    sim_html = f"{SIMULATED_BADGE} {html.escape(SIMULATED_NOTE)} · " if result.simulated else ""
    # Plain words, and nothing said about a side with no axis (no "rows: —").
    sides = [
        f"{side}: {' × '.join(axis_name(a) for a in axes)}"
        for side, axes in (("columns", layout.col_axes), ("rows", layout.row_axes))
        if axes
    ]
    parts = [
        f'<h3 class="kw-title">{sim_html}{html.escape(" · ".join([result.summary(), *sides]))}</h3>'
    ]
    fixed_ratio = result.plan.fixed.get("aspect_ratio")
    for r, row_label in enumerate(layout.row_labels):
        tiles = []
        for c, outcome in enumerate(layout.cells[r]):
            src, note = _cell_image(result, outcome, thumb_px, thumbs, fixed_ratio)
            key = hooks(outcome) if hooks is not None and outcome is not None else None
            col_label = layout.col_labels[c]
            label_html = html.escape(col_label) + (hook(key) if key else "")
            place = ", ".join(x for x in (row_label, col_label) if x)
            state = outcome.state if outcome is not None else "not run"
            alt = place if state == "done" else f"{place}: {_CELL_TEXT.get(state, state)}"
            tiles.append(
                Tile(src=src, label_html=label_html, text_html=note, plain=col_label, alt=alt)
            )
        header = f'<h4 class="kw-title">{html.escape(row_label)}</h4>' if row_label else ""
        row = TileRow(
            row_id=new_row_id("kw-grid"),
            header_html=header,
            header_plain=row_label,
            tiles=tuple(tiles),
            thumb_px=thumb_px,
            per_row=len(tiles),
        )
        parts.append(render(row))
    return '<div class="kw-sweep-grid">' + "".join(parts) + "</div>"


def _cell_image(
    result: SweepView,
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
            return placeholder_uri(px), f'<strong class="kw-failed">cannot show:</strong> {reason}'
        if thumbs is not None:
            thumbs[sha] = src
        return src, None
    if outcome is not None and outcome.state in _CELL_TEXT:
        ratio = outcome.coords.get("aspect_ratio", fixed_ratio)
        shape = ratio if isinstance(ratio, str) else None
        state = "cancelled" if outcome.state == "cancelled" else "queued"
        return pending_uri(px, shape, state), html.escape(_CELL_TEXT[outcome.state])
    reason = outcome.error if outcome is not None else "not run"
    return (
        placeholder_uri(px),
        f'<strong class="kw-failed">failed:</strong> {html.escape(reason or "failed")}',
    )


def show_grid(
    result: SweepView,
    *,
    rows: Axes = None,
    cols: Axes = None,
    thumb_px: int = 160,
) -> None:
    """Display :func:`grid_html` inline (a text summary outside IPython)."""
    if not in_ipython():
        print(result.summary())
        return
    publish(grid_html(result, rows=rows, cols=cols, thumb_px=thumb_px), result.summary())
