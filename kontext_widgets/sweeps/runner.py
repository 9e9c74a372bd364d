"""Running a planned sweep: bounded concurrency, every cell recorded on its own, never paying twice.

Before each submit the store records the intent; right after, the task id. A
rerun therefore takes completed cells from the store at no cost, polls cells
that were submitted before a crash by their task id, and resubmits a cell that
was interrupted mid-submit only when the service's history shows the submit
created nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from ..client import Client
from ..contract import MODEL, PRICE_PER_IMAGE_USD, Status
from ..errors import (
    AccountError,
    AuthenticationError,
    KontextError,
    PredictionNotFoundError,
    SubmitOutcomeUnknownError,
)
from ..prediction import Prediction
from ..store import Store, TaskRecord
from .plan import Cell, SweepPlan

log = logging.getLogger("kontext_widgets")

CellState = Literal["pending", "running", "done", "failed", "cancelled"]
#: Clock difference tolerated between our submit time and the service's ``created_at``.
CLOCK_SKEW_S = 120.0


@dataclass(frozen=True)
class CellOutcome:
    """How one cell ended (or stands): outputs by content hash, or the reason it failed."""

    index: int
    coords: dict[str, object]
    state: CellState
    prediction_id: str | None = None
    outputs: tuple[str, ...] = ()
    error: str = ""
    code: int | None = None
    #: True when the result came from the store without a new submit
    cached: bool = False


@dataclass
class SweepProgress:
    """Counts for a progress display; ``spent_usd`` counts only new submits."""

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

    def line(self) -> str:
        eta = self.eta_s
        left = "" if eta is None else f", about {eta:.0f} s left"
        finished = self.done + self.failed
        return (
            f"{finished}/{self.total} cells: {self.done} done, {self.failed} failed, "
            f"{self.running} running ({self.cached} from the store); "
            f"spent ${self.spent_usd:.2f}{left}"
        )


#: Called with the counts and the cell that just finished, or that just started (its outcome
#: then has state ``"running"`` and is not final).
OnProgress = Callable[[SweepProgress, CellOutcome | None], None]


def task_key(cell: Cell, client: Client) -> str:
    """The cell's request hash, scoped to where it runs.

    So simulated results never stand in for real ones.
    """
    return hashlib.sha256(f"{client.scope}\n{cell.cache_key}".encode()).hexdigest()


class SweepRunner:
    """Runs a :class:`SweepPlan` against a client, recording everything in a store.

    >>> import asyncio, tempfile, kontext_widgets as kw
    >>> from kontext_widgets.sweeps.plan import plan_sweep
    >>> plan = plan_sweep(prompt="night", images=[kw.samples.path("person")], seed=[1, 2])
    >>> async def main() -> list[str]:
    ...     async with kw.Client() as client:
    ...         runner = SweepRunner(client, Store(tempfile.mkdtemp()), concurrency=2)
    ...         return [c.state for c in await runner.run(plan)]
    >>> asyncio.run(main())
    ['done', 'done']
    """

    def __init__(
        self,
        client: Client,
        store: Store,
        *,
        concurrency: int = 2,
        on_progress: OnProgress | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(
                f"concurrency: {concurrency!r} is not allowed; expected an integer >= 1"
            )
        self.client = client
        self.store = store
        self.concurrency = concurrency
        self.on_progress = on_progress
        self._submitting = asyncio.Lock()

    async def run(
        self, plan: SweepPlan, *, retry_failed: bool = False, run_id: str | None = None
    ) -> list[CellOutcome]:
        """Run every cell; returns one outcome per cell, in plan order. Cancel to stop the rest."""
        keys = [task_key(cell, self.client) for cell in plan.cells]
        self.store.record_run(
            run_id or _plan_id(keys),
            {k: [str(v) for v in vs] for k, vs in plan.axes.items()},
            {k: str(v) for k, v in plan.fixed.items()},
            [(c.index, key, dict(c.coords)) for c, key in zip(plan.cells, keys, strict=True)],
        )
        records = self.store.tasks(keys)
        safe_to_resubmit = await self._recover_interrupted_submits(records)
        progress = SweepProgress(total=len(plan.cells), concurrency=self.concurrency)
        outcomes: list[CellOutcome | None] = [None] * len(plan.cells)
        slots = asyncio.Semaphore(self.concurrency)

        def report(position: int, outcome: CellOutcome) -> None:
            if outcome.state != "running":
                outcomes[position] = outcome
            if self.on_progress is not None:
                try:
                    self.on_progress(progress, outcome)
                except Exception:  # a broken display must not stop the sweep
                    log.exception("sweep progress callback failed")

        async def one(position: int, cell: Cell, key: str) -> None:
            record = records.get(key)
            outcome = self._from_store(cell, record, retry_failed, safe_to_resubmit)
            if outcome is not None:
                progress.cached += outcome.state == "done"
                progress.done += outcome.state == "done"
                progress.failed += outcome.state == "failed"
                report(position, outcome)
                return
            async with slots:
                progress.running += 1
                report(position, CellOutcome(cell.index, dict(cell.coords), "running"))
                started = time.monotonic()
                try:
                    outcome = await self._execute(cell, key, record, progress)
                finally:
                    progress.running -= 1
                progress.finished_durations.append(time.monotonic() - started)
                progress.done += outcome.state == "done"
                progress.failed += outcome.state == "failed"
                report(position, outcome)

        tasks = [
            asyncio.ensure_future(one(i, cell, key))
            for i, (cell, key) in enumerate(zip(plan.cells, keys, strict=True))
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [
            o if o is not None else _cancelled(c) for o, c in zip(outcomes, plan.cells, strict=True)
        ]

    # -- one cell -----------------------------------------------------------------------------

    def _from_store(
        self,
        cell: Cell,
        record: TaskRecord | None,
        retry_failed: bool,
        safe_to_resubmit: set[str],
    ) -> CellOutcome | None:
        """The outcome the store already holds, or None when the cell needs the service."""
        if record is None:
            return None
        base = CellOutcome(cell.index, dict(cell.coords), "done", record.prediction_id)
        if record.state == "completed" and all(self._have(sha) for sha in record.outputs):
            return replace(base, outputs=record.outputs, cached=True)
        if record.state == "failed" and not retry_failed:
            return replace(base, state="failed", error=record.error, code=record.code, cached=True)
        if record.state == "submitting" and record.task_key not in safe_to_resubmit:
            reason = (
                "interrupted while submitting and the service's history cannot show whether a "
                "task was created; check your prediction history, then retry_failed=True"
            )
            self.store.failed(record.task_key, reason, None)
            return replace(base, state="failed", error=reason, cached=True)
        return None

    def _have(self, sha: str) -> bool:
        return self.store.image_path(sha).exists()

    async def _execute(
        self, cell: Cell, key: str, record: TaskRecord | None, progress: SweepProgress
    ) -> CellOutcome:
        base = CellOutcome(cell.index, dict(cell.coords), "failed")
        prediction_id = record.prediction_id if record and record.state == "submitted" else None
        created: Prediction | None = None
        try:
            if prediction_id is None:
                # Uploads first (harmless to repeat), so the submit below is a single POST.
                urls = tuple([await self.client.upload(image) for image in cell.request.images])
                # Asynchronous submits, so every task id is recorded the moment it exists.
                request = replace(cell.request, images=urls, enable_sync_mode=False)
                # One submit at a time: a crash (or a cancel) then leaves at most one submit in
                # doubt, which the service's history can settle on the next run.
                async with self._submitting:
                    self.store.begin_submit(
                        key, dict(cell.request.describe()), simulated=self.client.simulated
                    )
                    progress.submits += 1
                    try:
                        created = await self.client.submit(request)
                    except SubmitOutcomeUnknownError as exc:
                        self.store.failed(key, str(exc), None)
                        return replace(base, error=str(exc))
                    prediction_id = created.id
                    self.store.submitted(key, prediction_id)
            prediction = await self.client.wait(prediction_id, submitted=created)
            if prediction.status is Status.FAILED:
                self.store.failed(key, prediction.error or "failed", prediction.code, prediction_id)
                return replace(
                    base, prediction_id=prediction_id, error=prediction.error, code=prediction.code
                )
            downloaded = await self.client.download_outputs(prediction)
            shas = [self.store.put_image(image.data) for image in downloaded.images]
            self.store.completed(key, prediction_id, shas)
            return replace(base, state="done", prediction_id=prediction_id, outputs=tuple(shas))
        except (AuthenticationError, AccountError):
            raise  # every other cell would fail the same way: stop the sweep and say why
        except PredictionNotFoundError as exc:
            self.store.failed(key, str(exc), None, prediction_id)
            return replace(base, prediction_id=prediction_id, error=str(exc))
        except KontextError as exc:
            # Not recorded as failed when a task id exists: a rerun polls it again for free.
            if prediction_id is None:
                self.store.failed(key, str(exc), getattr(exc, "code", None))
            return replace(
                base, prediction_id=prediction_id, error=str(exc), code=getattr(exc, "code", None)
            )

    async def _recover_interrupted_submits(self, records: dict[str, TaskRecord]) -> set[str]:
        """Settle cells left 'submitting' by a crash, using the service's history.

        A lone interrupted submit with exactly one unknown task created after it is that
        task: its id is adopted. With no unknown task created since, nothing was created
        and the cell may be submitted. Anything ambiguous stays unknown (reported failed).
        """
        interrupted = [r for r in records.values() if r.state == "submitting"]
        if not interrupted:
            return set()
        earliest = min(r.sent_at or 0.0 for r in interrupted) - CLOCK_SKEW_S
        try:
            recent = await self.client.list_predictions(page=1, page_size=100)
        except KontextError as exc:
            log.warning("cannot read the prediction history to settle interrupted submits: %s", exc)
            return set()
        known = self.store.known_prediction_ids()
        unknown = [
            p
            for p in recent
            if p.id not in known and (not p.model or p.model == MODEL) and _created(p) >= earliest
        ]
        if not unknown:
            return {r.task_key for r in interrupted}
        if len(interrupted) == 1 and len(unknown) == 1:
            record, adopted = interrupted[0], unknown[0]
            log.info("adopting task %s for a submit interrupted by a crash", adopted.id)
            self.store.submitted(record.task_key, adopted.id)
            records[record.task_key] = replace(record, state="submitted", prediction_id=adopted.id)
        return set()


def _created(prediction: Prediction) -> float:
    try:
        return dt.datetime.fromisoformat(prediction.created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unreadable: treat as recent, so it keeps the case ambiguous


def _plan_id(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _cancelled(cell: Cell) -> CellOutcome:
    return CellOutcome(cell.index, dict(cell.coords), "cancelled")
