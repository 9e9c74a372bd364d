"""The task lifecycle: created (queued) -> processing -> completed or failed.

At most ``config.concurrency`` tasks are processing; the rest wait in
``created`` in submit order. Rendering runs in a worker thread so the event
loop keeps answering polls while images are made.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..contract import Code, Status
from . import directives, envelope, webhooks
from .fetch import Fetcher, MediaUnreachable, is_loopback
from .render import RenderError, render
from .state import Prediction, SimulatorState

#: Tasks fetching and rendering at once.
RENDER_SLOTS = 4

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

    def enqueue(self, prediction: Prediction) -> None:
        """Queue a new prediction; it starts as soon as a slot is free."""
        self._queue.append(prediction)
        self.pump()

    def pump(self) -> None:
        """Start queued predictions while slots are free (also after a settings change)."""
        limit = self._state.config.concurrency
        while self._queue and (limit is None or len(self._running) < limit):
            prediction = self._queue.popleft()
            if prediction.id not in self._state.predictions:
                prediction.done.set()  # deleted while it waited: release any sync waiter
                continue
            task = asyncio.get_running_loop().create_task(self._run(prediction))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            self.pump()

    async def close(self) -> None:
        """Cancel every running task and background delivery."""
        self._queue.clear()
        pending = [*self._running, *self._background]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, prediction: Prediction) -> None:
        prediction.status = Status.PROCESSING
        started = time.monotonic()
        try:
            await self._process(prediction, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must fail the task, never hang it
            self._fail(prediction, Code.INTERNAL, f"simulator error: {type(exc).__name__}: {exc}")
        prediction.inference_ms = round((time.monotonic() - started) * 1000)
        prediction.done.set()
        if prediction.id not in self._state.predictions:
            self._state.store.delete_output(prediction.id)  # deleted while running
        elif prediction.webhook:
            self._spawn(self._deliver(prediction, prediction.webhook))

    async def _process(self, prediction: Prediction, started: float) -> None:
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
        ok = await webhooks.deliver(self._session, url, data, self._state.webhook_secret)
        if ok:
            stats.webhooks_sent += 1
        else:
            stats.webhooks_failed += 1

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
