"""Parameter sweeps that never pay twice: plan, run, store, resume, results."""

from .api import preview, sweep
from .plan import BudgetExceededError, Cell, SweepPlan, parse_range, plan_sweep
from .results import SweepResult
from .runner import CellOutcome, SweepProgress, SweepRunner

__all__ = [
    "BudgetExceededError",
    "Cell",
    "CellOutcome",
    "SweepPlan",
    "SweepProgress",
    "SweepResult",
    "SweepRunner",
    "parse_range",
    "plan_sweep",
    "preview",
    "sweep",
]
