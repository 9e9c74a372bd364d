"""What a widget does across saves and kernels: its saved output and its session record.

* Displayed, the widget shows its live view and, as an output of its own, its finished
  runs as plain HTML (:mod:`.saved_view`), so a notebook saved with JupyterLab's
  default settings, its nbconvert HTML and static viewers show the results.
* When a run ends, that output is updated in place and the runs and history are written
  to the session record in the store (:mod:`.session`); a widget of the same session
  (the same cell run again, also in a new kernel) starts with them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._text import plural
from ..display.notebook import current_cell_id, show_with_saved
from ..history import HistoryStep
from .host import Host
from .runs import Runs
from .saved_view import SavedView
from .session import SessionFile, adopt, output_entries, restore_history
from .sweep_runs import Sweeps

__all__ = ["Lifecycle", "Saved", "history_to_json", "resolve_session"]

log = logging.getLogger("kontext_widgets")

_LIVE_STATES = frozenset({"queued", "uploading", "running"})


def history_to_json(steps: Sequence[HistoryStep], widget: object) -> list[dict[str, object]]:
    """The ``history`` trait as the front end gets it (ipywidgets' ``to_json``)."""
    return [step.trait() for step in steps]


def resolve_session(session: str | bool | None) -> str | None:
    """The widget's session: the given name, the running cell's id by default, or none.

    >>> resolve_session("my-edits"), resolve_session(False), resolve_session(None)
    ('my-edits', None, None)
    """
    if session is False:
        return None
    if isinstance(session, str) and session.strip():
        return session.strip()
    return current_cell_id()


def _ended(row: dict[str, Any]) -> bool:
    return not any(o.get("state") in _LIVE_STATES for o in row.get("outputs", []))


def _run_number(row_id: str, prefix: str) -> int:
    found = re.fullmatch(rf"{prefix}(\d+)", row_id)
    return int(found.group(1)) if found else 0


class Lifecycle:
    """The saved output and the session record of one widget."""

    def __init__(self, host: Host, runs: Runs, sweeps: Sweeps, session: str | None) -> None:
        self.host = host
        self.runs = runs
        self.sweeps = sweeps
        self.session = session
        self.saved = SavedView()
        host.saved_output = self.saved.display_id  # the live view hides the copy by it

    def display(self, bundle: Any) -> None:
        """Show the live view (``bundle``: the widget's ``_repr_mimebundle_()``, data or
        (data, metadata)) and the saved output; called by ``_ipython_display_``."""
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        self.saved.shown = True
        self._set_saved_runs()
        show_with_saved(data, self.saved.bundle(), self.saved.display_id, metadata)

    def runs_ended(self) -> None:
        """A run ended: refresh the saved output and write the session record."""
        self._set_saved_runs()
        self.saved.refresh()
        self._write()

    def _set_saved_runs(self) -> None:
        # What the live view shows (the latest MAX_ROWS runs, or more after show_older_runs).
        rows = [row for row in self.host.rows if _ended(row)]
        self.saved.set_runs([(row["id"], row["html"], row.get("title", "")) for row in rows])

    def _write(self) -> None:
        store = self.host.store_if_made()
        if self.session is None or store is None:
            return
        try:
            SessionFile(store, self.session).save(
                [row for row in self.runs.all_rows() if _ended(row)],
                output_entries(self.host._outputs),
                self.host._history.steps,
            )
        except OSError as exc:
            log.warning("could not write the session record (%s)", exc)

    def restore(self) -> int:
        """Bring back the session's runs and history from the store; how many runs."""
        store = self.host.store_if_made()
        if self.session is None or store is None:
            return 0
        restored = SessionFile(store, self.session).load()
        for row in restored.rows:
            self.runs.put_row(adopt(store, row, self.host._outputs), restored=True)
        runs = self.runs
        runs.count = max([runs.count, *(_run_number(r["id"], "run") for r in restored.rows)])
        self.sweeps.count = max(
            [self.sweeps.count, *(_run_number(r["id"], "sweep") for r in restored.rows)]
        )
        if restored.steps:
            restore_history(self.host._history, restored.steps)
            self.host.history = self.host._history.steps
        if restored.rows:
            runs.show_rows()
            earlier = plural(len(restored.rows), "earlier run")
            self.host.status = f"{self.host.status} · {earlier} from the store"
        self._set_saved_runs()
        return len(restored.rows)


class Saved:
    """The widget's methods for this (a mixin of KontextWidget, which gives ``_life``)."""

    _life: Lifecycle
    _runs: Runs
    if TYPE_CHECKING:  # anywidget's, later in the widget's bases

        def _repr_mimebundle_(self, **kwargs: Any) -> Any: ...

    def _ipython_display_(self) -> None:
        """Displayed: the live view, then the finished runs as a plain output."""
        self._life.display(self._repr_mimebundle_())  # anywidget's

    def show_older_runs(self) -> int:
        """Show up to 8 more of the runs beyond the gallery's limit; how many it shows now.

        >>> from kontext_widgets import KontextWidget
        >>> KontextWidget().show_older_runs()
        0
        """
        shown = self._runs.show_older()
        self._life.runs_ended()  # the saved copy shows what the gallery shows
        return shown
