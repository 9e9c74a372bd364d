"""Parameter sweeps that never pay twice: plan, run, store, resume, results."""

from ..engine.cells import CellOutcome
from ..engine.progress import SweepProgress
from ..engine.runner import Runner as SweepRunner
from .api import preview, sweep
from .plan import BudgetExceededError, Cell, SweepPlan, parse_range, plan_sweep
from .results import SweepResult

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
