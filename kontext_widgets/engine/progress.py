"""Counts of a running plan, for progress displays: done, failed, running, from the store, spent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract import PRICE_PER_IMAGE_USD
from .cells import CellOutcome

__all__ = ["OnProgress", "Progress", "SweepProgress"]


@dataclass
class Progress:
    """Counts for a progress display; ``spent_usd`` counts only new submits.

    >>> Progress(total=4, done=1, cached=1, submits=2).line()
    '1/4 cells: 1 done, 0 failed, 0 running (1 from the store); spent $0.08'
    """

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    cached: int = 0
    submits: int = 0
    started: float = field(default_factory=time.monotonic)
    finished_durations: list[float] = field(default_factory=list)
    concurrency: int = 1

    @property
    def spent_usd(self) -> float:
        return round(self.submits * PRICE_PER_IMAGE_USD, 2)

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed

    @property
    def eta_s(self) -> float | None:
        if not self.finished_durations:
            return None
        per = sum(self.finished_durations[-20:]) / len(self.finished_durations[-20:])
        waves = -(-self.remaining // max(1, self.concurrency))
        return waves * per

    def count(self, outcome: CellOutcome) -> None:
        """Count a cell that ended."""
        self.done += outcome.state == "done"
        self.failed += outcome.state == "failed"
        self.cached += outcome.cached and outcome.state == "done"

    def line(self) -> str:
        eta = self.eta_s
        left = "" if eta is None else f", about {eta:.0f} s left"
        finished = self.done + self.failed
        return (
            f"{finished}/{self.total} cells: {self.done} done, {self.failed} failed, "
            f"{self.running} running ({self.cached} from the store); "
            f"spent ${self.spent_usd:.2f}{left}"
        )


#: The name sweeps have always used.
SweepProgress = Progress

#: Called with the counts and the cell that just finished, or that just started (its outcome
#: then has state ``"running"`` and is not final; a second such call carries its task id
#: once the submit has created it).
OnProgress = Callable[[Progress, CellOutcome | None], None]
