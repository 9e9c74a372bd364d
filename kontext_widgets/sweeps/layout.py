"""Arranging a sweep's cells on a grid: which axes go down, which go across, and the legends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..engine.cells import CellOutcome
from ..labels import format_field

if TYPE_CHECKING:
    from .plan import SweepPlan

#: Axis names for a grid's rows or columns: one name, several, or None for the default.
Axes = str | list[str] | None


def format_value(name: str, value: Any) -> str:
    """How an axis value reads in a legend (``seed 7``, ``guidance 3.5``, ``16:9``).

    >>> format_value("guidance_scale", 3.5), format_value("aspect_ratio", "16:9")
    ('guidance 3.5', '16:9')
    """
    return format_field(name, value, legend=True)


class SweepView(Protocol):
    """What grids and exports read of a sweep's result (a ``SweepResult``), so they need not
    import it (its methods call them)."""

    @property
    def plan(self) -> SweepPlan: ...

    @property
    def outcomes(self) -> tuple[CellOutcome, ...]: ...

    @property
    def simulated(self) -> bool: ...

    @property
    def done(self) -> list[CellOutcome]: ...

    def image_bytes(self, outcome: CellOutcome, index: int = 0) -> bytes: ...

    def summary(self) -> str: ...

    def layout(self, *, rows: Axes = None, cols: Axes = None) -> GridLayout: ...


@dataclass(frozen=True)
class GridLayout:
    """Rows × columns of outcomes; each legend names every axis value that places it.

    >>> from kontext_widgets.engine.cells import CellOutcome
    >>> cells = [CellOutcome(i, {"seed": s, "guidance_scale": g}, "done")
    ...          for i, (g, s) in enumerate([(2, 1), (2, 2), (4, 1), (4, 2)])]
    >>> grid = GridLayout.arrange({"guidance_scale": [2, 4], "seed": [1, 2]}, cells)
    >>> grid.row_labels, grid.col_labels
    (['guidance 2', 'guidance 4'], ['seed 1', 'seed 2'])
    """

    row_axes: tuple[str, ...]
    col_axes: tuple[str, ...]
    row_labels: list[str]
    col_labels: list[str]
    cells: list[list[CellOutcome | None]]

    @classmethod
    def arrange(
        cls,
        axes: dict[str, list[Any]],
        outcomes: Sequence[CellOutcome],
        rows: str | Sequence[str] | None = None,
        cols: str | Sequence[str] | None = None,
    ) -> GridLayout:
        """Columns default to the last axis, rows to the others (combined)."""
        names = list(axes)
        col_axes = _names(cols, names) if cols is not None else names[-1:]
        row_axes = (
            _names(rows, names) if rows is not None else [n for n in names if n not in col_axes]
        )
        unused = set(names) - set(col_axes) - set(row_axes)
        if unused or set(col_axes) & set(row_axes):
            raise ValueError(
                f"rows {row_axes} and cols {col_axes} must split the axes {names} between them"
            )
        row_keys = _combinations(axes, row_axes)
        col_keys = _combinations(axes, col_axes)
        grid: list[list[CellOutcome | None]] = [[None] * len(col_keys) for _ in row_keys]
        row_index = {k: i for i, k in enumerate(row_keys)}
        col_index = {k: i for i, k in enumerate(col_keys)}
        for outcome in outcomes:
            r = row_index[tuple(_key(outcome.coords[a]) for a in row_axes)]
            c = col_index[tuple(_key(outcome.coords[a]) for a in col_axes)]
            grid[r][c] = outcome
        return cls(
            row_axes=tuple(row_axes),
            col_axes=tuple(col_axes),
            row_labels=[_legend(axes, row_axes, k) for k in row_keys],
            col_labels=[_legend(axes, col_axes, k) for k in col_keys],
            cells=grid,
        )


def _names(value: str | Sequence[str], known: list[str]) -> list[str]:
    chosen = [value] if isinstance(value, str) else list(value)
    for name in chosen:
        if name not in known:
            raise ValueError(f"{name!r} is not an axis of this sweep; its axes are {known}")
    return chosen


def _key(value: Any) -> str:
    return repr(value)


def _combinations(axes: dict[str, list[Any]], chosen: list[str]) -> list[tuple[str, ...]]:
    import itertools

    return [
        tuple(_key(v) for v in combo) for combo in itertools.product(*(axes[a] for a in chosen))
    ]


def _legend(axes: dict[str, list[Any]], chosen: list[str], key: tuple[str, ...]) -> str:
    parts = []
    for name, k in zip(chosen, key, strict=True):
        value = next(v for v in axes[name] if _key(v) == k)
        parts.append(format_value(name, value))
    return " · ".join(parts)
