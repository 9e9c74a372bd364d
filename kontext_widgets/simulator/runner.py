"""The task lifecycle: created (queued) -> processing -> completed, failed, or an end a
test asked for (cancelled, timeout, deleted).

At most ``config.concurrency`` tasks are processing; the rest wait in
``created`` in submit order. Rendering runs in a worker thread so the event
loop keeps answering polls while images are made. Every change of a task is
written to the task file; a task another simulator left unfinished (it stopped
or died) is taken over and finished here, with the same output, as its output
depends only on its inputs.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import sqlite3
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..contract import Code
from . import directives, envelope, webhooks
from .fetch import Fetcher, MediaUnreachable, is_loopback
from .render import RenderError, render
from .state import END_MESSAGES, Prediction, SimulatorState, Status, is_alive

log = logging.getLogger(__name__)

#: Tasks fetching and rendering at once.
RENDER_SLOTS = 4
#: Seconds between renewals of this simulator's lease, retention purges and orphan checks.
BEAT_S = 2.0

FAILURE_MESSAGES: dict[int, str] = {
    Code.CONTENT_MODERATION: "content moderation: the request was flagged (simulated)",
    Code.MISSING_PARAMETER: "missing parameter (simulated)",
    Code.INVALID_PARAMETER: "invalid parameter (simulated)",
    Code.MEDIA_UNREACHABLE: "media URL not reachable (simulated)",
    Code.EXECUTION_FAILED: "task execution failed (simulated fault)",
    Code.TASK_FAILED: "task failed (simulated fault)",
    Code.INTERNAL: "internal server error (simulated fault)",
    Code.UNAVAILABLE: "service unavailable, try again later (simulated fault)",
    Code.TIMED_OUT: "task timed out (simulated fault)",
}


class TaskRunner:
    """Runs predictions with the configured concurrency and latency."""

    def __init__(self, state: SimulatorState, session: aiohttp.ClientSession) -> None:
        self._state = state
        self._session = session
        self._fetcher = Fetcher(state, session)
        self._queue: collections.deque[Prediction] = collections.deque()
        self._running: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Fetch+render in a few tasks at a time: with thousands running, the others
        # then hold no image bytes while they wait.
        self._render_slots = asyncio.Semaphore(RENDER_SLOTS)
        self._by_id: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    def start(self) -> None:
        """Join the directory and keep the lease, the purge and orphan checks going."""
        self._state.open()
        self._spawn(self._keep_alive())

    def enqueue(self, prediction: Prediction) -> None:
        """Queue a new prediction; it starts as soon as a slot is free."""
        self._queue.append(prediction)
        self.pump()

    def pump(self) -> None:
        """Start queued predictions while slots are free (also after a settings change)."""
        limit = self._state.config.concurrency
        while self._queue and (limit is None or len(self._running) < limit):
            prediction = self._queue.popleft()
            if prediction.id not in self._state.predictions or prediction.status.finished:
                prediction.done.set()  # deleted or ended while it waited: release sync waiters
                continue
            task = asyncio.get_running_loop().create_task(self._run(prediction))
            self._running.add(task)
            self._by_id[prediction.id] = task
            task.add_done_callback(functools.partial(self._finished, prediction.id))

    def _finished(self, prediction_id: str, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._by_id.get(prediction_id) is task:
            del self._by_id[prediction_id]
        if not self._closing:
            self.pump()

    async def close(self) -> None:
        """Cancel every running task and background delivery; leave the directory.

        Unfinished tasks stay unfinished in the task file: the next simulator finishes them.
        """
        self._closing = True
        self._queue.clear()
        pending = [*self._running, *self._background]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._state.leave()

    # the task file ---------------------------------------------------------------------

    def find(self, prediction_id: str) -> Prediction | None:
        """The prediction with this id, from here or the task file; None if unknown or expired.

        An unfinished task whose simulator is gone is taken over and finished here.
        """
        state = self._state
        prediction = state.predictions.get(prediction_id)
        if prediction is None:
            row = state.store.db.get(prediction_id)
            if row is None:
                return None
            prediction = self._adopt(row) or Prediction.from_record(row)
        if state.expired(prediction):
            state.forget(prediction_id)
            return None
        return prediction

    def end(self, prediction: Prediction, status: Status) -> None:
        """End a task now with ``status`` (cancelled, timeout or deleted), wherever it is."""
        task = self._by_id.pop(prediction.id, None)
        if task is not None:
            task.cancel()
        if status is Status.DELETED:
            self._state.store.delete_output(prediction.id)
        self._end(prediction, status)
        self._state.save(prediction)
        prediction.done.set()

    def purge(self) -> None:
        """Delete what is older than the retention time: tasks, outputs and uploads."""
        state = self._state
        ids, tokens = state.store.db.expire(time.time() - state.config.retention_s)
        for prediction_id in ids:
            state.predictions.pop(prediction_id, None)
            state.store.delete_output(prediction_id)
        for token in tokens:
            state.store.delete_upload(token)

    def _adopt(self, row: dict[str, Any]) -> Prediction | None:
        """Take over an orphan (unfinished, its owner gone); None if it is none or taken."""
        state = self._state
        if row["status"] not in ("created", "processing") or row["owner"] == state.owner:
            return None
        owner = state.store.db.owner(row["owner"])
        if owner is not None and is_alive(row["owner"], *owner):
            return None
        if not state.store.db.claim(row["id"], row["owner"], state.owner):
            return None
        prediction = Prediction.from_record(row)
        # It has been waiting since its submit: only what is left of its latency remains.
        waited = time.time() - prediction.created_at.timestamp()
        prediction.latency_s = max(0.0, prediction.latency_s - waited)
        prediction.origin = state.base_url or prediction.origin
        state.predictions[prediction.id] = prediction
        self.enqueue(prediction)
        return prediction

    async def _keep_alive(self) -> None:
        state = self._state
        while True:
            try:
                state.store.db.beat(state.owner)
                self.purge()
                for row in state.store.db.orphans(state.owner, is_alive):
                    self._adopt(row)
            except sqlite3.Error as exc:  # e.g. another process held the file too long
                log.warning("simulator task file: %s (trying again in %g s)", exc, BEAT_S)
            await asyncio.sleep(BEAT_S)

    async def _run(self, prediction: Prediction) -> None:
        prediction.status = Status.PROCESSING
        self._state.save(prediction)
        started = time.monotonic()
        try:
            await self._process(prediction, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must fail the task, never hang it
            self._fail(prediction, Code.INTERNAL, f"simulator error: {type(exc).__name__}: {exc}")
        prediction.inference_ms = round((time.monotonic() - started) * 1000)
        self._state.save(prediction)
        prediction.done.set()
        if prediction.id not in self._state.predictions:
            self._state.store.delete_output(prediction.id)  # deleted while running
        elif prediction.webhook:
            self._spawn(self._deliver(prediction, prediction.webhook))

    async def _process(self, prediction: Prediction, started: float) -> None:
        if prediction.end_status is not None:
            await asyncio.sleep(prediction.latency_s)
            self._end(prediction, prediction.end_status)
            return
        if prediction.planned_failure is not None:
            await asyncio.sleep(prediction.latency_s)
            code = prediction.planned_failure
            self._fail(prediction, code, FAILURE_MESSAGES.get(code, "task failed (simulated)"))
            return
        try:
            async with self._render_slots:
                await self._make_output(prediction)
        except (MediaUnreachable, RenderError) as exc:
            self._fail(prediction, Code.MEDIA_UNREACHABLE, f"cannot use input image: {exc}")
            return
        await asyncio.sleep(max(0.0, prediction.latency_s - (time.monotonic() - started)))
        prediction.has_output = True
        prediction.status = Status.COMPLETED

    async def _make_output(self, prediction: Prediction) -> None:
        inputs = await asyncio.gather(
            *(self._fetcher.fetch(url, prediction.origin) for url in prediction.images)
        )
        png = await asyncio.to_thread(
            render,
            inputs,
            prompt=directives.strip(prediction.prompt),
            seed=prediction.seed,
            guidance_scale=prediction.guidance_scale,
            aspect_ratio=prediction.aspect_ratio,
            long_side=self._state.config.output_long_side,
        )
        await asyncio.to_thread(self._state.store.save_output, prediction.id, png)

    @staticmethod
    def _end(prediction: Prediction, status: Status) -> None:
        prediction.status = status
        prediction.has_output = False
        prediction.error = END_MESSAGES[status]

    @staticmethod
    def _fail(prediction: Prediction, code: int, message: str) -> None:
        prediction.status = Status.FAILED
        prediction.code = int(code)
        prediction.error = message

    async def _deliver(self, prediction: Prediction, url: str) -> None:
        stats = self._state.stats
        if not (self._state.config.allow_remote_fetch or is_loopback(urlsplit(url).hostname)):
            stats.webhooks_failed += 1
            return
        data = envelope.prediction_data(prediction, prediction.origin)
        data["input"] = prediction.input  # the docs: webhook bodies carry the task's input
        ok = await webhooks.deliver(self._session, url, data, self._state.webhook_secret)
        if ok:
            stats.webhooks_sent += 1
        else:
            stats.webhooks_failed += 1

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
