"""Showing outputs in a notebook: small, labelled, escaped.

This package is the only importer of ipyplot (:mod:`.ipyplot_grid`, which also
explains the traps it avoids) and of ``IPython.display`` (:mod:`.notebook`).
Tiles (:mod:`.tiles`) become rows (:mod:`.rows`: :func:`show`, :func:`html_row`,
:func:`widget_row`) or strips (:mod:`.strip`); the words on them come from
:mod:`kontext_widgets.labels` and the thumbnails from :mod:`kontext_widgets.images`.
A sweep's grid is drawn from these parts in :mod:`kontext_widgets.sweeps.grid`.
"""

from .notebook import LiveOutput, in_notebook, publish
from .rows import RowOutput, WidgetRow, html_row, show, widget_row
from .strip import StripEntry, StripItem, show_strip, strip_html

__all__ = [
    "LiveOutput",
    "RowOutput",
    "StripEntry",
    "StripItem",
    "WidgetRow",
    "html_row",
    "in_notebook",
    "publish",
    "show",
    "show_strip",
    "strip_html",
    "widget_row",
]
