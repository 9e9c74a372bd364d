"""When to try an HTTP call again, and how long to wait first."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

#: Statuses worth another try for calls that cannot create a billed task.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest ``Retry-After`` obeyed by default (seconds); a longer hint is shortened to this, so
#: a hostile or confused answer (``Retry-After: 100000``) cannot park a poll for hours.
MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring ``Retry-After``.

    ``submit_statuses`` are the statuses after which a submit is resent: by
    default only 429, the one answer that surely created nothing. A 5xx or a
    cut connection may have created a billed task, so it is never resent.

    >>> RetryPolicy(attempts=3).delay(0, rng=random.Random(1)) <= 0.5
    True
    """

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 20.0
    #: Longest Retry-After we obey; a longer one is shortened to this.
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    submit_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429}))

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: {self.attempts} is not allowed; expected at least 1")
        if self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError(
                f"base_s={self.base_s}, cap_s={self.cap_s}: expected 0 <= base_s <= cap_s"
            )

    def delay(
        self,
        attempt: int,
        retry_after: str | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after_s)
        ceiling = min(self.cap_s, self.base_s * (2**attempt))
        return (rng or random).uniform(0, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
