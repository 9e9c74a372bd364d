"""A finished (or partly finished) sweep: its cells as a table, their images, and what failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.cells import CellOutcome
from ..store import Store
from .export import contact_sheet as _contact_sheet
from .export import export_images as _export_images
from .export import html_page as _html_page
from .grid import grid_html as _grid_html
from .grid import show_grid as _show_grid
from .layout import Axes, GridLayout
from .plan import SweepPlan

__all__ = ["Axes", "SweepResult"]


@dataclass(frozen=True)
class SweepResult:
    """Outcomes in plan order, with the plan and the store that holds the images.

    >>> SweepResult.__name__
    'SweepResult'
    """

    plan: SweepPlan
    outcomes: tuple[CellOutcome, ...]
    store: Store
    simulated: bool

    @property
    def done(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.state == "done"]

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.state == "failed"]

    def image_bytes(self, outcome: CellOutcome, index: int = 0) -> bytes:
        """The full-size output of one cell, read from the store."""
        return self.store.read_image(outcome.outputs[index])

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per cell: its axis values, state, reason and output files."""
        rows = []
        for outcome in self.outcomes:
            row: dict[str, Any] = {"cell": outcome.index, **_plain(outcome.coords)}
            row.update(
                state=outcome.state,
                from_store=outcome.cached,
                prediction_id=outcome.prediction_id,
                error=outcome.error,
                code=outcome.code,
                image=str(self.store.image_path(outcome.outputs[0])) if outcome.outputs else None,
                simulated=self.simulated or outcome.simulated,
            )
            rows.append(row)
        return rows

    def table(self) -> Any:
        """A pandas DataFrame of :meth:`records` when pandas is installed, else the records."""
        try:
            import pandas as pd  # type: ignore[import-untyped]
        except ImportError:
            return self.records()
        return pd.DataFrame.from_records(self.records()).set_index("cell")

    def export_images(self, directory: str | Path) -> list[Path]:
        """Full-size outputs with their parameters in each PNG's ``parameters`` text chunk."""
        return _export_images(self, directory)

    def contact_sheet(
        self, path: str | Path, *, rows: Axes = None, cols: Axes = None, px: int = 192
    ) -> Path:
        """One PNG of the grid with axis legends."""
        return _contact_sheet(self, path, rows=rows, cols=cols, px=px)

    def html(self, path: str | Path, *, rows: Axes = None, cols: Axes = None) -> Path:
        """A self-contained HTML page of the grid."""
        return _html_page(self, path, rows=rows, cols=cols)

    def layout(self, *, rows: Axes = None, cols: Axes = None) -> GridLayout:
        """Which cell goes where on a grid (columns: the last axis by default)."""
        return GridLayout.arrange(dict(self.plan.axes), self.outcomes, rows=rows, cols=cols)

    def grid(self, *, rows: Axes = None, cols: Axes = None, thumb_px: int = 160) -> None:
        """Show the grid inline through ipyplot: legends on both axes, small thumbnails."""
        _show_grid(self, rows=rows, cols=cols, thumb_px=thumb_px)

    def grid_html(self, *, rows: Axes = None, cols: Axes = None, thumb_px: int = 160) -> str:
        """The HTML :meth:`grid` shows, as a string."""
        return _grid_html(self, rows=rows, cols=cols, thumb_px=thumb_px)

    def summary(self) -> str:
        """One line of counts; a partial result also counts its running, queued and cancelled cells.

        >>> import tempfile
        >>> from kontext_widgets.sweeps.plan import plan_sweep
        >>> plan = plan_sweep(prompt="x", images=["https://example.com/a.png"], seed=[1, 2, 3])
        >>> states = ["done", "running", "pending"]
        >>> outcomes = tuple(CellOutcome(c.index, dict(c.coords), s)
        ...                  for c, s in zip(plan.cells, states))
        >>> SweepResult(plan, outcomes, Store(tempfile.mkdtemp()), simulated=True).summary()
        '1 of 3 cells done, 0 failed, 1 running, 1 queued, 0 from the store (SIMULATED)'
        """
        cached = sum(o.cached and o.state == "done" for o in self.outcomes)
        tag = " (SIMULATED)" if self.simulated else ""
        states = [o.state for o in self.outcomes]
        unfinished = [("running", "running"), ("pending", "queued"), ("cancelled", "cancelled")]
        extra = "".join(
            f", {states.count(state)} {word}" for state, word in unfinished if state in states
        )
        return (
            f"{len(self.done)} of {len(self.outcomes)} cells done, {len(self.failed)} failed"
            f"{extra}, {cached} from the store{tag}"
        )

    def __repr__(self) -> str:
        return f"<SweepResult: {self.summary()}>"


def _plain(coords: dict[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in coords.items():
        if isinstance(value, Sequence) and not isinstance(value, str):
            out[name] = ", ".join(getattr(v, "name", str(v)) for v in value)
        else:
            out[name] = value
    return out
