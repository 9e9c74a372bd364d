"""When to look at a running prediction again, and how long predictions take.

A fixed 2 s poll wastes a second on average per task; polling fast throughout
hammers the service. The schedule here learns how long tasks take and looks
closely only around the expected finish. Against a remote service it also keeps
WaveSpeed's etiquette: never two checks of one task within 2 s ("Image tasks: at
least 2 seconds between checks"), so the first check is placed just *after* the
expected finish instead of probing before it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..contract import ADVISED_POLL_INTERVAL_S

#: The smallest gap between two polls of one task against a remote service (WaveSpeed's docs).
REMOTE_POLL_FLOOR_S = ADVISED_POLL_INTERVAL_S


@dataclass(frozen=True)
class PollPolicy:
    """How to space the polls of one prediction.

    Nothing known yet (cold): the first look after ``first_s``, then gaps that grow by
    ``growth`` x the time waited so far, up to ``max_interval_s``. Once a duration is
    expected: the first look at ``lead`` x expected + ``pad_s`` (+ ``spread_factor`` x
    the spread of past durations), then every ``precision`` x expected until ``tail`` x
    expected, then growing again. ``floor_s`` is a hard minimum between the end of one
    poll and the start of the next (2 s against a remote service, 0 on loopback).

    >>> [round(d, 3) for d in PollPolicy().delays(None, limit=4)]
    [0.05, 0.055, 0.061, 0.067]
    >>> [round(d, 2) for d in PollPolicy.remote().delays(5.0, limit=3)]
    [5.15, 2.0, 2.0]
    """

    first_s: float = 0.05
    growth: float = 1.1
    max_interval_s: float = ADVISED_POLL_INTERVAL_S
    min_interval_s: float = 0.02
    lead: float = 0.9
    precision: float = 0.03
    tail: float = 1.3
    floor_s: float = 0.0
    pad_s: float = 0.0
    spread_factor: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.first_s <= max(self.max_interval_s, self.floor_s):
            raise ValueError(
                "expected 0 < min_interval_s <= first_s <= max_interval_s, got "
                f"{self.min_interval_s}, {self.first_s}, {self.max_interval_s}"
            )
        if self.growth < 1.0:
            raise ValueError(f"growth: {self.growth} is not allowed; expected at least 1.0")
        for name in ("floor_s", "pad_s", "spread_factor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: {value} is not allowed; expected 0 or more")

    @classmethod
    def remote(cls) -> PollPolicy:
        """The schedule for a service that is not on this machine: at least 2 s between polls."""
        return cls(
            first_s=REMOTE_POLL_FLOOR_S,
            growth=1.0,
            max_interval_s=REMOTE_POLL_FLOOR_S,
            min_interval_s=REMOTE_POLL_FLOOR_S,
            lead=1.01,
            precision=0.0,
            floor_s=REMOTE_POLL_FLOOR_S,
            pad_s=0.1,
            spread_factor=2.0,
        )

    @property
    def polite(self) -> bool:
        """True when this schedule keeps the 2 s remote floor."""
        return self.floor_s >= REMOTE_POLL_FLOOR_S

    def next_delay(
        self,
        elapsed_s: float,
        since_poll_s: float | None,
        expected_s: float | None,
        spread_s: float = 0.0,
    ) -> float:
        """Seconds to sleep before the next poll.

        ``elapsed_s``: since the task was submitted (or the wait began); ``since_poll_s``:
        since the last poll's answer (None before the first poll); ``expected_s`` and
        ``spread_s``: the learned duration and its spread (None: nothing known yet).
        Re-asked before every poll, so a duration learned from another task meanwhile
        moves this task's next poll at once.
        """
        delay = self._planned(elapsed_s, expected_s, spread_s)
        if since_poll_s is not None:
            delay = max(delay, self.floor_s - since_poll_s, self.min_interval_s)
        return max(delay, 0.0)

    def _planned(self, elapsed_s: float, expected_s: float | None, spread_s: float) -> float:
        if expected_s is None or expected_s <= 0:
            return self._backoff(self.first_s, elapsed_s)
        start = self.lead * expected_s + self.pad_s + self.spread_factor * spread_s
        if elapsed_s < start:
            return start - elapsed_s
        step = min(self.max_interval_s, max(self.min_interval_s, self.precision * expected_s))
        end = self.tail * expected_s
        if elapsed_s < end:
            return step
        return self._backoff(step, elapsed_s - end)

    def _backoff(self, first: float, waited_s: float) -> float:
        # The gap grows with the time already waited: geometric polling without keeping state.
        interval = first + (self.growth - 1.0) * max(0.0, waited_s)
        return min(max(self.max_interval_s, self.floor_s), max(self.min_interval_s, interval))

    def delays(self, expected_s: float | None, limit: int | None = None) -> Iterator[float]:
        """Successive sleeps before each poll, for polls that take no time (a preview).

        >>> list(PollPolicy().delays(1.0, limit=3))
        [0.9, 0.03, 0.03]
        """
        elapsed, count, since = 0.0, 0, None
        while limit is None or count < limit:
            delay = self.next_delay(elapsed, since, expected_s)
            elapsed += delay
            since = 0.0
            count += 1
            yield delay


class DurationMemory(Protocol):
    """Where learned durations outlive a kernel (a :class:`~kontext_widgets.store.Store`).

    ``scope`` names the endpoint (``Client.scope``), ``model`` the model route.
    """

    def task_seconds(self, scope: str, model: str) -> float | None: ...

    def remember_task_seconds(self, scope: str, model: str, seconds: float) -> None: ...


class DurationEstimate:
    """A running estimate of how long predictions take, and how much that varies.

    >>> d = DurationEstimate(); d.observe(4.0); d.observe(6.0); round(d.value or 0, 2)
    4.6
    >>> d.observe_bracket(not_done_s=4.0, done_s=6.0, hint_s=5.0); round(d.value or 0, 2)
    4.72
    """

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight
        self.value: float | None = None
        #: mean absolute deviation of the observations from the estimate
        self.spread: float = 0.0

    def observe(self, seconds: float) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            return
        if self.value is None:
            self.value = seconds
            return
        error = seconds - self.value
        self.value += self.weight * error
        self.spread += self.weight * (abs(error) - self.spread)

    def observe_bracket(self, not_done_s: float, done_s: float, hint_s: float | None) -> None:
        """Learn from one task seen unfinished at ``not_done_s`` and finished at ``done_s``.

        ``hint_s`` is the service's own timing of the task (``timings.inference``): when it
        falls inside the bracket it is the best guess; else the bracket's middle is.
        """
        low, high = max(0.0, not_done_s), max(not_done_s, done_s)
        if hint_s is not None and low <= hint_s <= high:
            self.observe(hint_s)
        else:
            self.observe((low + high) / 2)

    def seed(self, seconds: float | None) -> None:
        """Start from a remembered duration when nothing was observed yet."""
        if self.value is None and seconds is not None and math.isfinite(seconds) and seconds > 0:
            self.value = float(seconds)
