"""One single-mode Generate as the widget shows it: a job per seed, fed by the engine's progress.

The engine's runner does the work (:mod:`kontext_widgets.engine`); this keeps what the
``jobs`` trait, the row and the status line show, and turns each cell's outcome into the
job's state, times and prediction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..contract import PRICE_PER_IMAGE_USD, Status
from ..engine.cells import CellOutcome, describe_error
from ..engine.progress import Progress
from ..engine.single import Plan
from ..errors import KontextError, TaskFailedError
from ..labels import differing_labels
from ..prediction import Pending, Prediction, TileState
from ..request import KontextRequest

__all__ = ["BILLED_CANCEL", "Job", "SingleRun"]

#: What a job cancelled after its request reached the service says (the charge stands).
BILLED_CANCEL = "cancelled after submit: billed"

log = logging.getLogger("kontext_widgets")

RunState = Literal["waiting", "uploading", "running", "finished", "cancelled", "failed"]


@dataclass
class Job:
    """One seed of a run, as the ``jobs`` trait shows it."""

    key: str
    label: str
    seed: int
    request: KontextRequest
    state: TileState = "queued"
    started: float | None = None
    finished: float | None = None
    error: str = ""
    #: the result came from the store (no submit, nothing paid)
    cached: bool = False
    #: its request reached the service (a task id came back, or a sync-mode call is open):
    #: cancelling it now does not undo the charge
    submitted: bool = False
    prediction: Prediction | None = field(default=None, repr=False)
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def trait(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "cached": self.cached,
        }

    def end(self, outcome: CellOutcome) -> None:
        """The cell ended: take its state, prediction and error."""
        now = time.time()
        self.cached = outcome.cached
        self.prediction = outcome.prediction
        self.exception = outcome.exception
        self.started = self.started or now
        self.finished = now
        prediction = outcome.prediction
        if outcome.state == "done":
            self.state = "done"
        elif outcome.state == "cancelled":
            self.state = "cancelled"
        elif prediction is not None and prediction.status is Status.FAILED:
            self.state = "failed"
            self.error = str(TaskFailedError(prediction.id, prediction.code, prediction.error))
        else:
            self.state, self.error = "failed", outcome.error or "failed"
            # e.g. a submit in doubt settled as failed: generate() raises it if nothing came
            self.exception = self.exception or KontextError(self.error)


class SingleRun:
    """A single-mode Generate's jobs, state and status line.

    >>> from kontext_widgets.engine.single import Settings, plan_run
    >>> from kontext_widgets.inputs import InputList
    >>> images = InputList()
    >>> _ = images.add_url("https://example.com/a.png")
    >>> plan, _ = plan_run(Settings(prompt="x", seed=1, seed_locked=True, compare=2),
    ...                    images.items, run_id="run1", draw_seed=lambda: 0)
    >>> run = SingleRun(plan, simulated=True, on_change=lambda run: None)
    >>> [j.label for j in run.jobs], run.status()
    (['seed 1', 'seed 2'], 'Queued: 2 images start when the running Generate ends')
    >>> run.on_progress(Progress(total=2), CellOutcome(0, {"seed": 1}, "done", "p1", cached=True))
    >>> run.jobs[0].state, run.jobs[0].cached
    ('done', True)
    """

    def __init__(
        self, plan: Plan, *, simulated: bool, on_change: Callable[[SingleRun], None]
    ) -> None:
        self.plan = plan
        self.simulated = simulated
        self._on_change = on_change
        self.state: RunState = "waiting"
        self.uploads = 0
        self.submits = 0
        pendings = [Pending(f"{plan.run_id}/{i}", "queued", r) for i, r in enumerate(plan.requests)]
        labels = differing_labels(pendings)
        self.jobs = [
            Job(key=f"{plan.run_id}/{i}", label=label, seed=seed, request=request)
            for i, (seed, request, label) in enumerate(
                zip(plan.seeds, plan.requests, labels, strict=True)
            )
        ]

    @property
    def id(self) -> str:
        return self.plan.run_id

    @property
    def ended(self) -> bool:
        return self.state in ("finished", "cancelled", "failed")

    @property
    def from_store(self) -> int:
        return sum(j.cached and j.state == "done" for j in self.jobs)

    def predictions(self) -> list[Prediction]:
        """The finished predictions (completed or failed), in seed order."""
        return [j.prediction for j in self.jobs if j.prediction is not None and j.ended]

    def items(self) -> list[Prediction | Pending]:
        """What the row shows, one entry per job."""
        out: list[Prediction | Pending] = []
        for job in self.jobs:
            if job.prediction is not None and job.state in ("done", "failed"):
                out.append(job.prediction)
            else:
                pending = Pending(job.key, job.state, job.request, job.error, self.simulated)
                out.append(pending)
        return out

    def title(self) -> str:
        title = f"Run {self.id.removeprefix('run')}"
        if self.from_store and self.from_store == len(self.jobs):
            title += " · from the store, $0"
        return title

    def status(self) -> str:
        total = len(self.jobs)
        done = sum(j.state == "done" for j in self.jobs)
        failed = sum(j.state == "failed" for j in self.jobs)
        tail = f", {failed} failed" if failed else ""
        if self.state == "waiting":
            return f"Queued: {total} image{_s(total)} start when the running Generate ends"
        if self.state == "uploading":
            return f"Uploading {self.uploads} image{_s(self.uploads)}…"
        if self.state == "running":
            return f"Running: {done} of {total} done{tail}"
        if self.state == "cancelled":
            return f"Cancelled: {done} of {total} done{tail}"
        return f"{done} of {total} done{tail}{self._store_note()}"

    def _store_note(self) -> str:
        cached = self.from_store
        if not cached:
            return ""
        if cached == len(self.jobs):
            return " (from the store, $0)"
        return f" ({cached} from the store; ${self.submits * PRICE_PER_IMAGE_USD:.2f} new)"

    # -- changes ------------------------------------------------------------------------------

    def start_upload(self, count: int) -> None:
        self.state, self.uploads = "uploading", count
        for job in self.jobs:
            job.state = "uploading"
        self.changed()

    def start_running(self) -> None:
        for job in self.jobs:
            if job.state == "uploading":
                job.state = "queued"
        self.state = "running"
        self.changed()

    def on_progress(self, progress: Progress, outcome: CellOutcome | None) -> None:
        """The runner's callback: a cell started, got its task id, or ended."""
        self.submits = progress.submits
        if outcome is None or self.ended or not 0 <= outcome.index < len(self.jobs):
            return
        job = self.jobs[outcome.index]
        if job.ended:
            return  # cancelled meanwhile: its tile says so already
        if outcome.state == "running":
            # Reported once it holds a slot (submitting now), then with its task id. In sync
            # mode that one call lasts the whole task: it runs from then on, not "queued".
            sync = job.request.enable_sync_mode
            if outcome.prediction_id is None and not sync:
                return  # the submit is on its way: queued until the service answers
            job.state, job.started = "running", job.started or time.time()
            job.submitted = True
        else:
            job.end(outcome)
        self.changed()

    def finish(self, simulated: bool) -> None:
        self.state, self.simulated = "finished", simulated
        self.changed()

    def fail(self, exc: BaseException) -> None:
        """The whole run failed (e.g. an upload): every unfinished job says why."""
        now = time.time()
        for job in self.jobs:
            if not job.ended:
                job.state, job.error, job.finished = "failed", describe_error(exc), now
        self.state = "failed"
        self.changed()

    def cancel_now(self) -> None:
        """Mark every unfinished job cancelled at once (the task is being cancelled)."""
        if self.ended:
            return
        now = time.time()
        for job in self.jobs:
            if not job.ended:
                job.state, job.finished = "cancelled", now
                if job.submitted:
                    job.error = BILLED_CANCEL
        self.state = "cancelled"
        self.changed()

    def changed(self) -> None:
        try:
            self._on_change(self)
        except Exception:  # a display problem must not stop the run
            log.exception("updating the widget failed")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
