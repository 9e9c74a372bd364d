"""What the simulator remembers: predictions, counters, balance and settings.

Predictions keep only small metadata (output images live on disk), so
thousands of them stay cheap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .. import contract
from ..contract import Status
from .config import SimulatorConfig
from .directives import OutputFault
from .faults import FaultInjector
from .storage import MediaStore

_MICRO = 1_000_000
PRICE_MICRO_USD = round(contract.PRICE_PER_IMAGE_USD * _MICRO)


@dataclass(eq=False)
class Prediction:
    """One task and where it is in its life."""

    id: str
    prompt: str
    images: list[str]
    seed: int
    guidance_scale: float
    aspect_ratio: str | None
    latency_s: float
    #: decided at submit (directive or fail_rate draw): the task will fail with this code
    planned_failure: int | None = None
    nsfw: bool = False
    #: a ``[simulate:...]`` hostile-output directive: how GETs of the output are served
    output_fault: OutputFault | None = None
    #: GETs of the output so far (``cut=N`` cuts only the first N)
    downloads: int = 0
    webhook: str | None = None
    #: scheme://host of the submit, to resolve the simulator's own media URLs
    origin: str = ""
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    status: Status = Status.CREATED
    error: str = ""
    code: int = contract.Code.OK
    inference_ms: int = 0
    has_output: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def created_at_text(self) -> str:
        """ISO 8601 in UTC with milliseconds, like ``2023-04-01T12:34:56.789Z``."""
        return self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Stats:
    """Counters of everything, so tests can prove "zero submits" or "submitted once"."""

    submits: int = 0
    polls: int = 0
    uploads: int = 0
    puts: int = 0
    tasks_created: int = 0
    dropped: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    webhooks_sent: int = 0
    webhooks_failed: int = 0


class SimulatorState:
    """Everything one simulator app holds, shared by its handlers and task runner."""

    def __init__(self, config: SimulatorConfig, store: MediaStore) -> None:
        self.config = config
        self.store = store
        self.stats = Stats()
        self.predictions: dict[str, Prediction] = {}
        self.faults = FaultInjector(config.random_seed)
        self.balance_micro = round(config.balance_usd * _MICRO)
        self.webhook_secret = "whsec_" + secrets.token_hex(24)

    @property
    def balance_usd(self) -> float:
        return round(self.balance_micro / _MICRO, 6)

    def charge(self) -> bool:
        """Take the price of one call from the balance; False if it is too low."""
        if self.balance_micro < PRICE_MICRO_USD:
            return False
        self.balance_micro -= PRICE_MICRO_USD
        return True

    def configure(self, changes: dict[str, Any]) -> SimulatorConfig:
        """Apply setting changes (checked); a new seed restarts the fault sequence."""
        self.config = self.config.replace(**changes)
        if "random_seed" in changes:
            self.faults.reseed(self.config.random_seed)
        if "balance_usd" in changes:
            self.balance_micro = round(self.config.balance_usd * _MICRO)
        return self.config

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready values (the body of GET /_simulator/stats)."""
        by_status = Counter(p.status.value for p in self.predictions.values())
        s = self.stats
        return {
            "submits": s.submits,
            "polls": s.polls,
            "uploads": s.uploads,
            "puts": s.puts,
            "tasks_created": s.tasks_created,
            "answers": {str(k): v for k, v in sorted(s.answers.items())},
            "dropped": s.dropped,
            "faults": dict(sorted(s.faults.items())),
            "tasks": {status.value: by_status.get(status.value, 0) for status in Status},
            "webhooks": {"sent": s.webhooks_sent, "failed": s.webhooks_failed},
            "balance_usd": self.balance_usd,
        }
