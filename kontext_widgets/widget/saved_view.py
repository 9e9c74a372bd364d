"""The widget's finished results as a plain ``text/html`` output beside its live view.

JupyterLab saves no widget state by default, so a saved notebook holds only a
reference to the live view ("model not found" on reopen, nothing in nbconvert's HTML
or a static viewer). The widget therefore displays two outputs: its live view and
this one, with a ``display_id``, updated in place (``update_display_data``) when a
run ends. It is a separate output because updating the live view's own display
bundle makes JupyterLab re-create the view (focus and scroll lost), and an output
holding both would show only "model not found" there without a kernel. The front
end hides it (a CSS rule it injects: ``.jp-OutputArea:has(.kontext-widget)``) while
the live view is drawn, so a live widget does not show its results twice.

Thumbnails are the gallery's own (JPEG of at most ``THUMB_PX`` pixels): a run of
four seeds adds about 40 KB to the saved file, and full-size images never go in.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..display.notebook import update_saved

__all__ = ["SAVED_CLASS", "SavedView"]

#: The class of the saved output's root; the live front end hides the output holding it.
SAVED_CLASS: Final = "kw-saved"

_NOTE: Final = (
    "Saved results of a kontext-widgets widget (the live widget needs its kernel: "
    "run the cell again to use it)."
)


@dataclass
class SavedView:
    """The saved output: each finished run's row HTML, by run id, in order.

    >>> view = SavedView()
    >>> view.set_runs([("run1", "<div>a row</div>", "seed 1")])
    >>> bundle = view.bundle()
    >>> 'class="kw-saved"' in bundle["text/html"], "seed 1" in bundle["text/plain"]
    (True, True)
    >>> view.bundle(["run1"])["text/plain"].count("seed 1")
    1
    """

    display_id: str = field(default_factory=lambda: f"kw-saved-{uuid.uuid4().hex[:12]}")
    shown: bool = False
    _runs: dict[str, tuple[str, str]] = field(default_factory=dict)
    _last: str = ""

    def set_runs(self, runs: Sequence[tuple[str, str, str]]) -> None:
        """Replace the runs: ``(run id, row HTML, plain title)`` each."""
        self._runs = {run_id: (row_html, plain) for run_id, row_html, plain in runs}

    def bundle(self, only: Sequence[str] | None = None) -> dict[str, Any]:
        """The ``text/html`` and ``text/plain`` output data for the runs (or ``only`` those)."""
        ids = list(self._runs) if only is None else [i for i in only if i in self._runs]
        parts = [self._runs[i][0] for i in ids]
        plain = [self._runs[i][1] for i in ids]
        body = "".join(parts) or '<p class="kw-saved-note">No finished runs yet.</p>'
        root = (
            f'<div class="{SAVED_CLASS}" data-kw-saved="{html.escape(self.display_id)}">'
            f'<p class="kw-saved-note" style="font-size:12px;opacity:.8;margin:2px 0 6px">'
            f"{html.escape(_NOTE)}</p>{body}</div>"
        )
        text = "\n".join([_NOTE, *plain]) if plain else _NOTE
        return {"text/html": root, "text/plain": text}

    def refresh(self) -> bool:
        """Send the current bundle to the displayed output (if shown and changed)."""
        if not self.shown:
            return False
        bundle = self.bundle()
        if bundle["text/html"] == self._last:
            return False
        self._last = bundle["text/html"]
        update_saved(bundle, self.display_id)
        return True
