"""One running sweep of the widget: every cell's latest state, for the grid and the progress.

Fed by the engine runner's ``on_progress`` callback, and turned into a partial
:class:`~kontext_widgets.sweeps.results.SweepResult` for the grid.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._text import plural
from ..engine.cells import CellOutcome
from ..engine.progress import Progress as SweepProgress
from ..inputs import InputImage
from ..labels import axes_words
from ..store import Store
from ..sweeps.plan import Cell, SweepPlan
from ..sweeps.results import SweepResult

__all__ = ["LiveSweep"]


SweepState = Literal["running", "finished", "cancelled", "failed"]


@dataclass
class LiveSweep:
    """One sweep of the widget while it runs: every cell's latest state, for the grid.

    >>> from kontext_widgets.sweeps.plan import plan_sweep
    >>> plan = plan_sweep(prompt="x", images=["https://example.com/a.png"], seed=[1, 2])
    >>> import tempfile
    >>> live = LiveSweep("sweep1", plan, Store(tempfile.mkdtemp()), simulated=True)
    >>> live.on_progress(SweepProgress(total=2, running=1), CellOutcome(0, {"seed": 1}, "running"))
    >>> [o.state for o in live.outcomes], live.progress_trait()["running"]
    (['running', 'pending'], 1)
    >>> live.cancel_now(); live.status()
    'Sweep 1 cancelled: 0 of 2 cells done, 0 failed, 2 cancelled, 0 from the store (SIMULATED)'
    """

    id: str
    plan: SweepPlan
    store: Store
    simulated: bool
    rows: list[str] = field(default_factory=list)
    cols: list[str] = field(default_factory=list)
    inputs: tuple[InputImage, ...] = ()
    retry: bool = False
    #: the task that runs it (so it is not counted as waiting)
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    state: SweepState = "running"
    error: str = ""
    progress: SweepProgress | None = None
    outcomes: list[CellOutcome] = field(init=False)
    changed: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    started: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.outcomes = [CellOutcome(c.index, dict(c.coords), "pending") for c in self.plan.cells]
        self._position = {c.index: i for i, c in enumerate(self.plan.cells)}

    def cell(self, index: int) -> Cell:
        """The planned cell with this index."""
        return self.plan.cells[self._position[index]]

    @property
    def number(self) -> str:
        return self.id.removeprefix("sweep")

    @property
    def ended(self) -> bool:
        return self.state != "running"

    def on_progress(self, progress: SweepProgress, outcome: CellOutcome | None) -> None:
        """The runner's callback: remember the counts and the cell's new state."""
        if self.ended:
            return
        self.progress = progress
        if outcome is not None:
            position = self._position.get(outcome.index)
            if position is not None:
                self.outcomes[position] = outcome
            # A cell the store holds from a simulated run stays simulated, whatever answers now.
            self.simulated = self.simulated or outcome.simulated
        self.changed.set()

    def finish(self, outcomes: Sequence[CellOutcome]) -> None:
        self.outcomes = list(outcomes)
        self.simulated = self.simulated or any(o.simulated for o in self.outcomes)
        self.state = "finished"

    def cancel_now(self, state: SweepState = "cancelled", error: str = "") -> None:
        """Mark every unfinished cell cancelled at once (the task is being cancelled)."""
        if self.ended:
            return
        self.outcomes = [
            CellOutcome(o.index, o.coords, "cancelled") if o.state in ("pending", "running") else o
            for o in self.outcomes
        ]
        self.state, self.error = state, error

    def result(self) -> SweepResult:
        """The sweep so far (unfinished cells queued, running or cancelled)."""
        return SweepResult(self.plan, tuple(self.outcomes), self.store, self.simulated)

    def counts(self) -> dict[str, int]:
        states = [o.state for o in self.outcomes]
        return {
            "total": len(states),
            "done": states.count("done"),
            "failed": states.count("failed"),
            "running": states.count("running"),
            "queued": states.count("pending"),
            "cancelled": states.count("cancelled"),
            "cached": sum(o.cached and o.state == "done" for o in self.outcomes),
        }

    def title(self) -> str:
        what = "retry of the failed cells" if self.retry else plural(len(self.outcomes), "cell")
        axes = axes_words(self.plan.axes)
        return f"Sweep {self.number}: {what} ({axes})"

    def status(self) -> str:
        summary = self.result().summary()
        if self.state == "running":
            line = self.progress_line()
            return f"Sweep {self.number}: {line}"
        if self.state == "cancelled":
            return f"Sweep {self.number} cancelled: {summary}"
        if self.state == "failed":
            return f"Sweep {self.number} stopped: {summary}"
        return f"Sweep {self.number}: {summary}"

    def progress_line(self) -> str:
        n = self.counts()
        spent = self.progress.spent_usd if self.progress else 0.0
        eta = self.progress.eta_s if self.progress else None
        billed = " (simulated: nothing billed)" if self.simulated else ""
        left = f"; about {eta:.0f} s left" if eta is not None and self.state == "running" else ""
        return (
            f"{n['done'] + n['failed']} of {n['total']} cells: {n['done']} done, "
            f"{n['failed']} failed, {n['running']} running ({n['cached']} from the store); "
            f"spent ${spent:.2f}{billed}{left}"
        )

    def progress_trait(self) -> dict[str, Any]:
        """The ``sweep_progress`` trait (docs/widget-protocol.md)."""
        eta = self.progress.eta_s if self.progress and self.state == "running" else None
        spent = self.progress.spent_usd if self.progress else 0.0
        return {
            "id": self.id,
            "state": self.state,
            **self.counts(),
            "spent_usd": spent,
            "eta_s": None if eta is None else round(eta, 1),
            "text": self.status(),
        }
