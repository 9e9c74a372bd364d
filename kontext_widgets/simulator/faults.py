"""Deterministic fault draws: 429s, 5xx answers, dropped connections, failed tasks.

One seeded RNG drives every draw, so a run with the same ``random_seed`` and
the same sequence of requests meets the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .. import contract
from .config import INJECTED_FAIL_CODES, SimulatorConfig

#: HTTP statuses an ``error_rate`` draw picks from.
ERROR_STATUSES = (500, 502, 503, 504)
#: Of those, the ones a gateway sends after the service accepted the request:
#: a submit answered with them still creates (and bills) the task.
AFTER_HANDLING = frozenset({502, 504})


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or after) answering it normally."""

    #: HTTP status to answer with; None means drop the connection
    status: int | None
    #: Retry-After seconds for a 429 that carries the header
    retry_after_s: int | None = None

    @property
    def drop(self) -> bool:
        return self.status is None

    @property
    def after_handling(self) -> bool:
        """True when the request is handled (its effects happen) before the fault."""
        return self.status is None or self.status in AFTER_HANDLING


class FaultInjector:
    """Draws faults from a seeded RNG.

    >>> injector = FaultInjector(seed=7)
    >>> injector.draw(SimulatorConfig(error_rate=1.0)).status in ERROR_STATUSES
    True
    >>> injector.draw(SimulatorConfig()) is None
    True
    >>> injector.draw(SimulatorConfig(drop_rate=1.0)).drop
    True
    """

    def __init__(self, seed: int) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart both sequences from ``seed``."""
        self._faults = random.Random(seed)  # noqa: S311 - test faults, not security
        self._seeds = random.Random(seed ^ 0x5EED)  # noqa: S311

    def draw(self, config: SimulatorConfig) -> Fault | None:
        """The fault for one /api/v3 request, or None to answer it normally."""
        # Always three draws, so changing one rate does not shift the others' sequence.
        limited, errored, dropped = (self._faults.random() for _ in range(3))
        if limited < config.rate_limit_rate:
            # Retry-After is not promised by the contract: send it about half the time.
            with_header = self._faults.random() < 0.5
            return Fault(429, config.retry_after_s if with_header else None)
        if errored < config.error_rate:
            return Fault(self._faults.choice(ERROR_STATUSES))
        if dropped < config.drop_rate:
            return Fault(None)
        return None

    def task_failure(self, config: SimulatorConfig) -> int | None:
        """A task code to fail a new task with (``fail_rate``), or None."""
        if self._faults.random() < config.fail_rate:
            return int(self._faults.choice(INJECTED_FAIL_CODES))
        return None

    def seed(self) -> int:
        """A seed for a request that asked for a random one (-1)."""
        return self._seeds.randint(0, contract.SEED_MAX)
