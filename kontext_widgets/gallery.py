"""Old home of the display code, now in ``kontext_widgets.display`` (and friends).

SHIM(lead removes): re-exports, under their old names, what other modules and
tests import from here today. New code imports from where each name lives now:
``display`` (rows, strips), ``labels`` (the words on tiles), ``images``
(thumbnails), ``prediction`` (``output_key``, ``Pending``, ``TileState``) and
``sweeps.grid`` (sweep grids).
"""

# SHIM(lead removes)
from .display import (
    RowOutput,
    StripItem,
    WidgetRow,
    html_row,
    show,
    show_strip,
    strip_html,
    widget_row,
)
from .images import THUMB_PX, THUMB_QUALITY, thumbnail_data_uri
from .labels import LABEL_FIELDS, differing_fields, differing_labels
from .prediction import Pending, TileState, output_key
from .sweeps.grid import grid_html, show_grid

__all__ = [
    "LABEL_FIELDS",
    "THUMB_PX",
    "THUMB_QUALITY",
    "Pending",
    "RowOutput",
    "StripItem",
    "TileState",
    "WidgetRow",
    "differing_fields",
    "differing_labels",
    "grid_html",
    "html_row",
    "output_key",
    "show",
    "show_grid",
    "show_strip",
    "strip_html",
    "thumbnail_data_uri",
    "widget_row",
]
