"""The sweep runner is the engine's one runner now.  # SHIM(lead removes)"""

from ..engine.cells import CellOutcome, CellState, task_key
from ..engine.progress import OnProgress, SweepProgress
from ..engine.recovery import CLOCK_SKEW_S
from ..engine.runner import Runner

#: The name sweeps have always used.
SweepRunner = Runner

__all__ = [
    "CLOCK_SKEW_S",
    "CellOutcome",
    "CellState",
    "OnProgress",
    "SweepProgress",
    "SweepRunner",
    "task_key",
]
