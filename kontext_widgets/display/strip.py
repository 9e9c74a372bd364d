"""Strips: a titled row of ready thumbnails, such as the edit history."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..images import THUMB_PX, check_px
from ..payload import is_http_url
from .ipyplot_grid import render
from .notebook import in_ipython, publish
from .rows import new_row_id
from .tiles import Row, Tile

__all__ = ["StripEntry", "StripItem", "show_strip", "strip_html"]


class StripEntry(Protocol):
    """What a strip shows of each tile (a :class:`StripItem`, a history tile...)."""

    @property
    def src(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def note(self) -> str: ...


@dataclass(frozen=True)
class StripItem:
    """One tile of a strip: a thumbnail (``data:`` URI or http(s) URL), a label, a note."""

    src: str
    label: str
    note: str = ""


def _strip_row(items: Sequence[StripEntry], title: str, thumb_px: int) -> Row:
    if not items:
        raise ValueError("no items to show")
    check_px("thumb_px", thumb_px)
    tiles = []
    for item in items:
        if not (item.src.startswith("data:image/") or is_http_url(item.src)):
            raise ValueError(
                f"{item.label!r}: src must be a data:image/ URI (a thumbnail) or an http(s) URL"
            )
        tiles.append(
            Tile(
                # ipyplot writes src into the attribute as it is: escape it here (a base64
                # thumbnail is unchanged by escaping; anything else cannot break out).
                src=html.escape(item.src),
                label_html=f'<em class="kw-label">{html.escape(item.label)}</em>',
                text_html=html.escape(item.note) if item.note else None,
                plain=item.label + (f": {item.note}" if item.note else ""),
            )
        )
    return Row(
        row_id=new_row_id(),
        header_html=f'<div class="kw-title">{html.escape(title)}</div>',
        header_plain=title,
        tiles=tuple(tiles),
        thumb_px=thumb_px,
        per_row=None,
    )


def strip_html(items: Sequence[StripEntry], *, title: str, thumb_px: int = THUMB_PX) -> str:
    """A titled row of ready thumbnails (e.g. an edit history), escaped, as HTML.

    >>> from kontext_widgets.display.tiles import pending_uri
    >>> uri = pending_uri(64, None, "queued")
    >>> html_text = strip_html([StripItem(uri, "step <1>", "make it night")], title="History")
    >>> "step &lt;1&gt;" in html_text and "History" in html_text
    True
    """
    return render(_strip_row(items, title, thumb_px))


def show_strip(items: Sequence[StripEntry], *, title: str, thumb_px: int = THUMB_PX) -> None:
    """Display :func:`strip_html` inline (a text summary outside IPython)."""
    row = _strip_row(items, title, thumb_px)
    if not in_ipython():
        print(row.plain)
        return
    publish(render(row), row.plain)
