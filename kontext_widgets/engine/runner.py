"""The one runner: every Generate's cells, bounded concurrency, each recorded, none paid twice.

Before each submit the store records the intent; right after, the task id. A rerun
therefore takes completed cells from the store at no cost, polls cells that were
submitted before a crash by their task id, and resubmits a cell that was interrupted
mid-submit only when the service's history shows the submit created nothing. A
single-mode Generate (its seeds) and a sweep (its grid) run here alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from ..client import Client
from ..contract import Status
from ..errors import (
    AccountError,
    AuthenticationError,
    KontextError,
    PredictionNotFoundError,
    SubmitOutcomeUnknownError,
)
from ..prediction import Prediction
from ..request import KontextRequest
from ..store import Store, TaskRecord
from .cells import CellLike, CellOutcome, PlanLike, task_key
from .progress import OnProgress, Progress
from .recovery import EXPIRED, FILES_GONE, IN_DOUBT, recover_interrupted_submits

__all__ = ["OnCellDone", "Runner"]

log = logging.getLogger("kontext_widgets")

#: Called with a cell and its final outcome before it is reported; returns the outcome to
#: report (e.g. with thumbnails made, or the prediction read back from the store).
OnCellDone = Callable[[CellLike, CellOutcome], Awaitable[CellOutcome]]

#: Seconds between tries of a claim another process holds.
_CLAIM_POLL_S = 0.05


class Runner:
    """Runs a plan's cells against a client, recording everything in a store.

    ``sync_mode=True`` sends a cell's ``enable_sync_mode`` as it is (the single-mode
    switch); otherwise every submit is asynchronous, so each task id is recorded the
    moment it exists. ``keep_images=True`` leaves each downloaded prediction (its image
    bytes) on the cell's outcome, for a caller that shows them at once; otherwise the
    bytes are only in the store, so a sweep's memory does not grow with its cells.

    >>> import asyncio, tempfile, kontext_widgets as kw
    >>> from kontext_widgets.sweeps.plan import plan_sweep
    >>> plan = plan_sweep(prompt="night", images=[kw.samples.path("person")], seed=[1, 2])
    >>> async def main() -> list[str]:
    ...     async with kw.Client() as client:
    ...         runner = Runner(client, Store(tempfile.mkdtemp()), concurrency=2)
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
        on_cell_done: OnCellDone | None = None,
        sync_mode: bool = False,
        keep_images: bool = False,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(
                f"concurrency: {concurrency!r} is not allowed; expected an integer >= 1"
            )
        self.client = client
        self.store = store
        self.concurrency = concurrency
        self.on_progress = on_progress
        self.on_cell_done = on_cell_done
        self.sync_mode = sync_mode
        self.keep_images = keep_images
        self._submitting = asyncio.Lock()

    async def run(
        self,
        plan: PlanLike,
        *,
        retry_failed: bool = False,
        fresh: bool = False,
        run_id: str | None = None,
    ) -> list[CellOutcome]:
        """Run every cell; returns one outcome per cell, in plan order. Cancel to stop the rest.

        ``retry_failed`` submits cells the store holds as failed again; ``fresh`` also
        ignores completed ones (new images, paid on purpose).
        """
        cells = list(plan.cells)
        keys = [task_key(cell, self.client) for cell in cells]
        self.store.record_run(
            run_id or _plan_id(keys),
            {k: [str(v) for v in vs] for k, vs in plan.axes.items()},
            {k: str(v) for k, v in plan.fixed.items()},
            [(c.index, key, dict(c.coords)) for c, key in zip(cells, keys, strict=True)],
        )
        records = self.store.tasks(keys)
        safe = await recover_interrupted_submits(self.client, self.store, records)
        progress = Progress(total=len(cells), concurrency=self.concurrency)
        outcomes: list[CellOutcome | None] = [None] * len(cells)
        slots = asyncio.Semaphore(self.concurrency)

        def report(position: int, outcome: CellOutcome) -> None:
            if outcome.state != "running":
                outcomes[position] = outcome
            if self.on_progress is not None:
                try:
                    self.on_progress(progress, outcome)
                except Exception:  # a broken display must not stop the run
                    log.exception("progress callback failed")

        async def one(position: int, cell: CellLike, key: str) -> None:
            record = records.get(key)
            outcome = self._from_store(cell, record, retry_failed or fresh, fresh, safe)
            if outcome is None:
                async with slots:
                    outcome = await self._timed(
                        cell, key, record, _Asked(fresh, key in safe), progress, position, report
                    )
            outcome = await self._done(cell, outcome)
            progress.count(outcome)
            report(position, outcome)

        tasks = [
            asyncio.ensure_future(one(i, cell, key))
            for i, (cell, key) in enumerate(zip(cells, keys, strict=True))
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [o if o is not None else _cancelled(c) for o, c in zip(outcomes, cells, strict=True)]

    async def _timed(
        self,
        cell: CellLike,
        key: str,
        record: TaskRecord | None,
        asked: _Asked,
        progress: Progress,
        position: int,
        report: Callable[[int, CellOutcome], None],
    ) -> CellOutcome:
        progress.running += 1
        running = CellOutcome(cell.index, dict(cell.coords), "running")
        report(position, running)
        started = time.monotonic()

        def submitted(prediction_id: str) -> None:
            report(position, replace(running, prediction_id=prediction_id))

        try:
            return await self._execute(cell, key, record, asked, progress, submitted)
        finally:
            progress.running -= 1
            progress.finished_durations.append(time.monotonic() - started)

    async def _done(self, cell: CellLike, outcome: CellOutcome) -> CellOutcome:
        if self.on_cell_done is None:
            return outcome
        try:
            return await self.on_cell_done(cell, outcome)
        except Exception:  # a broken display must not stop the run
            log.exception("cell callback failed")
            return outcome

    # -- one cell -----------------------------------------------------------------------------

    def _from_store(
        self,
        cell: CellLike,
        record: TaskRecord | None,
        retry_failed: bool,
        fresh: bool,
        safe_to_resubmit: set[str],
    ) -> CellOutcome | None:
        """The outcome the store already holds, or None when the cell needs the service."""
        if record is None:
            return None
        base = CellOutcome(
            cell.index, dict(cell.coords), "done", record.prediction_id, simulated=record.simulated
        )
        if record.state == "completed" and not fresh and all(map(self._have, record.outputs)):
            return replace(base, outputs=record.outputs, cached=True)
        if record.state == "failed" and not retry_failed:
            return replace(base, state="failed", error=record.error, code=record.code, cached=True)
        if record.state == "submitting" and record.task_key not in safe_to_resubmit:
            if self.store.claimed_elsewhere(record.task_key):
                return None  # a live process is submitting it: wait for its claim, re-read
            return self._in_doubt(record.task_key, base)
        return None

    def _in_doubt(self, key: str, base: CellOutcome) -> CellOutcome:
        """'unknown': recorded as failed, so only a rerun with retry_failed=True sends it again."""
        self.store.failed(key, IN_DOUBT, None)
        return replace(base, state="failed", error=IN_DOUBT, cached=True)

    def _have(self, sha: str) -> bool:
        return self.store.image_path(sha).exists()

    async def _execute(
        self,
        cell: CellLike,
        key: str,
        record: TaskRecord | None,
        asked: _Asked,
        progress: Progress,
        submitted: Callable[[str], None],
    ) -> CellOutcome:
        base = CellOutcome(cell.index, dict(cell.coords), "failed")
        prediction_id = record.prediction_id if record and record.state == "submitted" else None
        created: Prediction | None = None
        # A task submitted earlier (by a run that died, or another process) is not paid now.
        cached = prediction_id is not None
        try:
            if record is not None and record.state == "completed" and not asked.fresh:
                return await self._download_again(cell, key, record, base)
            if prediction_id is None:
                made = await self._submit(cell, key, record, asked, progress)
                if isinstance(made, TaskRecord):  # another process settled it meanwhile
                    settled = await self._elsewhere(cell, key, made, base)
                    if settled is not None:
                        return settled
                    prediction_id, cached = made.prediction_id, True
                else:
                    created, prediction_id = made, made.id
            assert prediction_id is not None
            submitted(prediction_id)
            prediction = created
            if prediction is None or not prediction.finished:
                prediction = await self.client.wait(prediction_id, submitted=created)
            return await self._finish(cell, key, prediction, cached=cached)
        except (AuthenticationError, AccountError):
            raise  # every other cell would fail the same way: stop the run and say why
        except SubmitOutcomeUnknownError as exc:
            # The record stays 'submitting': the next run settles it from the history.
            return replace(base, error=str(exc), exception=exc)
        except PredictionNotFoundError as exc:
            self.store.failed(key, str(exc), None, prediction_id)
            return replace(base, prediction_id=prediction_id, error=str(exc), exception=exc)
        except KontextError as exc:
            # Not recorded as failed when a task id exists: a rerun polls it again for free.
            code = getattr(exc, "code", None)
            if prediction_id is None:
                self.store.failed(key, str(exc), code)
            return replace(
                base, prediction_id=prediction_id, error=str(exc), code=code, exception=exc
            )

    async def _download_again(
        self, cell: CellLike, key: str, record: TaskRecord, base: CellOutcome
    ) -> CellOutcome:
        """A completed cell whose image files are gone: fetched again by its id, never re-paid."""
        base = replace(base, prediction_id=record.prediction_id, simulated=record.simulated)
        if record.prediction_id is None:
            return replace(base, error=FILES_GONE, cached=True)
        try:
            prediction = await self.client.get(record.prediction_id)
        except PredictionNotFoundError:
            return replace(base, error=EXPIRED.format(id=record.prediction_id), cached=True)
        return await self._finish(cell, key, prediction, cached=True)

    async def _elsewhere(
        self, cell: CellLike, key: str, record: TaskRecord, base: CellOutcome
    ) -> CellOutcome | None:
        """What another process made of this cell; None when its task must still be polled."""
        if record.state == "submitting":  # its submitter died mid-submit (we hold the claim)
            return self._in_doubt(key, replace(base, simulated=record.simulated))
        outcome = self._from_store(cell, record, False, False, set())
        if outcome is not None:
            return outcome
        if record.state == "completed":
            return await self._download_again(cell, key, record, base)
        return None  # 'submitted': polled by its id, like a cell resumed after a crash

    async def _submit(
        self,
        cell: CellLike,
        key: str,
        record: TaskRecord | None,
        asked: _Asked,
        progress: Progress,
    ) -> Prediction | TaskRecord:
        """Upload, claim the cell, re-read it, record the intent, submit once, record the id.

        Returns the record instead when another process changed the cell since this run
        read it (it submitted, finished or failed it): nothing is sent then.
        """
        # Uploads first (harmless to repeat), so the submit below is a single POST.
        urls = tuple([await self.client.upload(image) for image in cell.request.images])
        sync = self.sync_mode and cell.request.enable_sync_mode
        request = replace(cell.request, images=urls, enable_sync_mode=sync)
        claim = self.store.claim(key)
        while not claim.acquire():  # noqa: ASYNC110 - another process holds it: no event to wait on
            await asyncio.sleep(_CLAIM_POLL_S)
        try:
            current = self.store.task(key)
            in_doubt = current is not None and current.state == "submitting"
            if _changed(record, current) or (in_doubt and not asked.may_resubmit):
                assert current is not None
                return current
            if sync:
                # A sync submit lasts as long as the task: serialising them would run the
                # seeds one by one. Each stays 'submitting' until it answers.
                return await self._send(key, cell, request, progress)
            # One submit at a time: a crash (or a cancel) then leaves at most one submit in
            # doubt, which the service's history can settle on the next run.
            async with self._submitting:
                return await self._send(key, cell, request, progress)
        finally:
            claim.release()

    async def _send(
        self, key: str, cell: CellLike, request: KontextRequest, progress: Progress
    ) -> Prediction:
        self.store.begin_submit(
            key,
            dict(cell.request.describe()),
            simulated=self.client.simulated,
            sent=request.payload(),
        )
        progress.submits += 1
        created = await self.client.submit(request)
        self.store.submitted(key, created.id)
        return created

    async def _finish(
        self, cell: CellLike, key: str, prediction: Prediction, *, cached: bool = False
    ) -> CellOutcome:
        simulated = self.client.simulated
        base = CellOutcome(
            cell.index,
            dict(cell.coords),
            "failed",
            prediction.id,
            cached=cached,
            simulated=simulated,
        )
        prediction = prediction.with_local(request=cell.request, simulated=simulated)
        if prediction.status is Status.FAILED:
            self.store.failed(key, prediction.error or "failed", prediction.code, prediction.id)
            return replace(
                base, error=prediction.error, code=prediction.code, prediction=prediction
            )
        downloaded = await self.client.download_outputs(prediction)
        shas = [self.store.put_image(image.data) for image in downloaded.images]
        self.store.completed(key, prediction.id, shas)
        kept = downloaded if self.keep_images else None
        return replace(base, state="done", outputs=tuple(shas), prediction=kept)


@dataclass(frozen=True)
class _Asked:
    """What this run may do to one cell: pay for new images, resubmit a settled submit."""

    fresh: bool
    may_resubmit: bool


def _changed(before: TaskRecord | None, now: TaskRecord | None) -> bool:
    """True when the cell's record is not the one this run decided on (another process wrote)."""
    if now is None:
        return False
    if before is None:
        return True
    return (now.state, now.sent_at, now.prediction_id) != (
        before.state,
        before.sent_at,
        before.prediction_id,
    )


def _plan_id(keys: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _cancelled(cell: CellLike) -> CellOutcome:
    return CellOutcome(cell.index, dict(cell.coords), "cancelled")
