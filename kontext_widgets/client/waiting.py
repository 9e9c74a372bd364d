"""Waiting for a prediction: polls on the learned schedule, and the durations it learns.

The schedule is asked again before every poll, so a duration learned from one task
moves the next poll of every other task at once (the cold first wave of a run
profits from its first finisher). Durations are remembered per endpoint and model
in an optional :class:`~.polling.DurationMemory` (the store), so a new kernel
starts warm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..contract import MODEL
from ..errors import PredictionTimeoutError
from ..prediction import Prediction
from .polling import DurationMemory

if TYPE_CHECKING:
    from .host import ClientHost

log = logging.getLogger("kontext_widgets")

OnUpdate = Callable[[Prediction], None]


class Waiter:
    """The polling loop of one client, with its duration memory."""

    def __init__(self, client: ClientHost, memory: DurationMemory | None) -> None:
        self._client = client
        self._memory = memory
        self._recalled = False
        self._recall()  # now, so plans made before the first wait see the remembered duration

    @property
    def memory(self) -> DurationMemory | None:
        return self._memory

    @memory.setter
    def memory(self, memory: DurationMemory | None) -> None:
        self._memory = memory
        self._recalled = False
        self._recall()

    async def wait(
        self,
        prediction_id: str,
        limit_s: float,
        on_update: OnUpdate | None,
        submitted: Prediction | None,
    ) -> Prediction:
        client = self._client
        self._recall()
        started = time.monotonic()
        last = submitted
        not_done_s = 0.0
        since_end: float | None = None
        while (elapsed := time.monotonic() - started) < limit_s:
            since = None if since_end is None else elapsed - since_end
            delay = client.poll.next_delay(
                elapsed, since, client.duration.value, client.duration.spread
            )
            await asyncio.sleep(min(delay, limit_s - elapsed))
            poll_s = time.monotonic() - started
            if client.poll_times is not None:
                client.poll_times.setdefault(prediction_id, []).append(started + poll_s)
            current = await client.get(prediction_id)
            since_end = time.monotonic() - started
            if last is None or current.status != last.status:
                notify(on_update, current)
            last = current
            if current.finished:
                if _timed_from_submit(submitted):
                    self._learn(not_done_s, poll_s, current)
                return current.with_local(simulated=client.simulated)
            not_done_s = poll_s
        raise PredictionTimeoutError(
            prediction_id, time.monotonic() - started, last.status.value if last else "unknown"
        )

    def _learn(self, not_done_s: float, done_s: float, prediction: Prediction) -> None:
        inference = prediction.inference_ms
        hint = inference / 1000 if inference is not None and inference > 0 else None
        duration = self._client.duration
        duration.observe_bracket(not_done_s, done_s, hint)
        if self._memory is not None and duration.value is not None:
            try:
                self._memory.remember_task_seconds(self.scope, MODEL, duration.value)
            except Exception:  # a broken store must not stop the work
                log.warning("could not remember the task duration", exc_info=True)

    def _recall(self) -> None:
        if self._recalled or self._memory is None:
            return
        self._recalled = True
        try:
            seconds = self._memory.task_seconds(self.scope, MODEL)
        except Exception:  # a broken store must not stop the work
            log.warning("could not read the remembered task duration", exc_info=True)
            return
        self._client.duration.seed(seconds)

    @property
    def scope(self) -> str:
        """The endpoint durations are remembered under: ``Client.scope`` without credentials."""
        scope = self._client.scope
        parts = urlsplit(scope)
        if parts.hostname and (parts.username or parts.password):
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            return parts._replace(netloc=netloc).geturl()
        return scope


def _timed_from_submit(submitted: Prediction | None) -> bool:
    # A sync-mode hand-over already spent its time in the submit: not a duration to learn.
    if submitted is None:
        return False
    return submitted.request is None or not submitted.request.enable_sync_mode


def notify(callback: OnUpdate | None, prediction: Prediction) -> None:
    if callback is None:
        return
    try:
        callback(prediction)
    except Exception:  # a broken progress display must not stop the work
        log.exception("on_update callback failed")
