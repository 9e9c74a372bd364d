"""When to look at a running prediction again.

A fixed 2 s poll wastes a second on average per task; polling fast throughout
hammers the service. The schedule here learns how long tasks take and looks
closely only around the expected finish, so a task is seen done soon after it
finishes while the number of polls per task stays small.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .contract import ADVISED_POLL_INTERVAL_S


@dataclass(frozen=True)
class PollPolicy:
    """How to space the polls of one prediction.

    ``first_s``: the first look when nothing is known yet, growing by ``growth``
    up to ``max_interval_s`` (the contract's advised 2 s). Once durations are
    known, polls start at ``lead`` x the expected duration and come every
    ``precision`` x expected (never closer than ``min_interval_s``) until
    ``tail`` x expected, then back off again.

    >>> [round(d, 3) for d in PollPolicy().delays(None, limit=4)]
    [0.25, 0.375, 0.562, 0.844]
    """

    first_s: float = 0.25
    growth: float = 1.5
    max_interval_s: float = ADVISED_POLL_INTERVAL_S
    min_interval_s: float = 0.02
    lead: float = 0.9
    precision: float = 0.03
    tail: float = 1.3

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.first_s <= self.max_interval_s:
            raise ValueError(
                "expected 0 < min_interval_s <= first_s <= max_interval_s, got "
                f"{self.min_interval_s}, {self.first_s}, {self.max_interval_s}"
            )
        if self.growth < 1.0:
            raise ValueError(f"growth: {self.growth} is not allowed; expected at least 1.0")

    def delays(self, expected_s: float | None, limit: int | None = None) -> Iterator[float]:
        """Successive sleeps before each poll, measured from the submit's answer."""
        count = 0

        def room() -> bool:
            return limit is None or count < limit

        interval = self.first_s
        if expected_s is not None and expected_s > 0:
            step = min(self.max_interval_s, max(self.min_interval_s, self.precision * expected_s))
            start = self.lead * expected_s
            end = self.tail * expected_s
            elapsed = 0.0
            while start - elapsed > self.max_interval_s and room():
                elapsed += self.max_interval_s
                count += 1
                yield self.max_interval_s
            if room():
                first = max(self.min_interval_s, start - elapsed)
                elapsed += first
                count += 1
                yield first
            while elapsed < end and room():
                elapsed += step
                count += 1
                yield step
            interval = step
        while room():
            interval = min(self.max_interval_s, max(interval * self.growth, self.min_interval_s))
            if count == 0:
                interval = self.first_s
            count += 1
            yield interval


class DurationEstimate:
    """A running estimate of how long predictions take, from what was observed.

    >>> d = DurationEstimate(); d.observe(4.0); d.observe(6.0); round(d.value or 0, 2)
    4.6
    """

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight
        self.value: float | None = None

    def observe(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.value is None:
            self.value = seconds
        else:
            self.value += self.weight * (seconds - self.value)
