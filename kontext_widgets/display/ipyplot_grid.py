"""The one place that uses ipyplot, steering around ipyplot 1.1.2's traps (DESIGN.md):

- ipyplot is never given PIL images or numpy arrays (same-size PIL images raise
  ``TypeError``, and they would be embedded as full-size PNGs). Tiles carry
  small JPEG thumbnails as ``data:`` URI strings, which ipyplot writes into
  ``<img src="...">`` as they are.
- ipyplot writes labels into HTML unescaped: tiles hold escaped HTML only.
- ``ipyplot.plot_images`` displays everything twice (the grid and a hidden
  "show html" copy in a ``<textarea>``) and caps a grid at 30 images. We use
  the grid builder ``plot_images`` itself uses and display its HTML once, with
  the cap lifted. Only if that builder is missing (a future ipyplot) does
  :func:`publish_row` fall back to ``plot_images``, bigger notebooks included.
- Its click-to-zoom does not work in JupyterLab 4 and it paints tiles white in
  dark themes: the row's own CSS hides the zoom links and uses JupyterLab's
  theme colours. Its CSS makes every ``<span>`` inside a tile cover the whole
  tile, so our labels use no spans.
"""

from __future__ import annotations

import contextlib
import html
import io
import sys
from collections.abc import Callable
from typing import Any

from .notebook import in_ipython, publish
from .tiles import Row

GridBuilder = Callable[..., str]


def grid_builder() -> GridBuilder | None:
    """ipyplot's own grid-HTML builder (what ``plot_images`` displays), if it has one."""
    # In Colab, importing ipyplot prints advice about file paths that does not
    # apply to data: URIs; keep it out of the user's output (first import only).
    first = "ipyplot" not in sys.modules
    with contextlib.redirect_stdout(io.StringIO()) if first else contextlib.nullcontext():
        import ipyplot
    builder = getattr(getattr(ipyplot, "_html_helpers", None), "_create_imgs_grid", None)
    return builder if callable(builder) else None


def ipyplot_args(row: Row) -> dict[str, Any]:
    """The arguments of ipyplot's grid builder (and of ``plot_images``) for a row."""
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


def row_css(row: Row) -> str:
    """The row's own styles, scoped to its id: theme colours, wrapping, no zoom links."""
    rid, px = row.row_id, row.thumb_px
    width = f"max-width: {row.per_row * (px + 6)}px;" if row.per_row else ""
    return (
        "<style>"
        f"#{rid} {{margin: 4px 0 12px 0;}}"
        f"#{rid} .kw-title {{font-size: 13px; margin: 2px 3px 4px;}}"
        f"#{rid} .kw-simulated {{color: #fff; background: #b3261e; font-weight: 700;"
        " padding: 0 5px; border-radius: 3px; letter-spacing: 0.04em;}"
        f"#{rid} .kw-failed {{color: #b3261e; font-weight: 600;}}"
        # JupyterLab's dark themes: a lighter red keeps 4.5:1 on their dark tiles
        f'[data-jp-theme-light="false"] #{rid} .kw-failed {{color: #e57373;}}'
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


def _wrap(row: Row, grid: str) -> str:
    return f'<div id="{row.row_id}" class="kw-gallery">{row_css(row)}{row.header_html}{grid}</div>'


def render(row: Row) -> str:
    """The row as one piece of HTML: its styles, its heading and ipyplot's grid of its tiles.

    Raises :class:`RuntimeError` when the installed ipyplot has no grid builder.
    """
    builder = grid_builder()
    if builder is None:
        raise RuntimeError(
            "this version of ipyplot has no grid builder (ipyplot._html_helpers._create_imgs_grid);"
            " kontext-widgets was written against ipyplot 1.1.x"
        )
    return _wrap(row, with_alt(str(builder(**ipyplot_args(row))), row))


def with_alt(grid: str, row: Row) -> str:
    """ipyplot's grid with each tile's alt text on its ``<img>`` (ipyplot writes none).

    >>> from .tiles import Tile
    >>> tile = Tile(src="data:,", label_html="a", text_html=None, plain="a", alt='seed "1"')
    >>> r = Row("r", "", "", (tile,), 64, None)
    >>> with_alt('<img src="data:,"/>', r)
    '<img src="data:," alt="seed &quot;1&quot;"/>'
    """
    # ipyplot writes each tile's <img src="SRC"/> in order; SRC (a data: URI or an escaped
    # URL) holds no quote, so the tag ends at the first '"/>' after it.
    parts = grid.split('<img src="')
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        alt = html.escape(row.tiles[i].alt or row.tiles[i].plain) if i < len(row.tiles) else ""
        out.append('<img src="' + part.replace('"/>', f'" alt="{alt}"/>', 1))
    return "".join(out)


def publish_row(row: Row) -> None:
    """Display a row once (a text summary outside IPython); with an ipyplot we do not know,
    through its public ``plot_images`` (and its extra copy) rather than not at all."""
    if not in_ipython():
        print(row.plain)
        return
    builder = grid_builder()
    if builder is None:
        import ipyplot

        publish(row.header_html, row.header_plain)
        ipyplot.plot_images(**ipyplot_args(row))
        return
    publish(_wrap(row, with_alt(str(builder(**ipyplot_args(row))), row)), row.plain)
