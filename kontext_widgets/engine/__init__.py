"""One engine for every Generate: a plan of cells, run by one runner, recorded in one store.

A single-mode Generate is a plan over its seeds (:mod:`.single`); a sweep is a plan over
the product of its axes (:mod:`kontext_widgets.sweeps`). Both run through
:class:`Runner`, so both resume after a crash by task id and rerun from the store at no cost.
"""

from .cells import Cell, CellOutcome, CellPlan, CellState, describe_error, task_key
from .progress import OnProgress, Progress, SweepProgress
from .runner import OnCellDone, Runner

__all__ = [
    "Cell",
    "CellOutcome",
    "CellPlan",
    "CellState",
    "OnCellDone",
    "OnProgress",
    "Progress",
    "Runner",
    "SweepProgress",
    "describe_error",
    "task_key",
]
