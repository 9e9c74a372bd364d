"""What the simulator remembers: predictions, counters, balance and settings.

Predictions keep only small metadata (output images live on disk), so
thousands of them stay cheap. Each is also a row in the directory's task file
(:mod:`.taskdb`), so a new simulator on the same directory knows it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .. import contract
from . import taskdb
from .config import SimulatorConfig
from .directives import OutputFault
from .faults import FaultInjector
from .storage import MediaStore


class Status(str, enum.Enum):
    """Every ``data.status`` the service documents (the SDK ends a wait on the last four).

    >>> [s.value for s in Status if s.finished]
    ['completed', 'failed', 'cancelled', 'timeout', 'deleted']
    """

    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    DELETED = "deleted"

    @property
    def finished(self) -> bool:
        return self not in (Status.CREATED, Status.PROCESSING)


#: The statuses a test may ask a task to end with (directive ``status=`` or the control route).
END_STATUSES = (Status.CANCELLED, Status.TIMEOUT, Status.DELETED)
END_MESSAGES = {
    Status.CANCELLED: "task cancelled (simulated)",
    Status.TIMEOUT: "task timed out (simulated)",
    Status.DELETED: "task deleted (simulated)",
}
#: Fields of a Prediction that never change after submit (the row's ``task`` JSON).
_TASK_FIELDS = (
    "prompt", "images", "seed", "guidance_scale", "aspect_ratio", "latency_s",
    "planned_failure", "end_status", "nsfw", "webhook", "origin", "input",
)  # fmt: skip
#: Simulators running in this process (owner tokens): a stopped one is dead at once.
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()

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
    #: a ``status=`` directive: the task ends with this status instead of completing
    end_status: Status | None = None
    nsfw: bool = False
    #: a ``[simulate:...]`` hostile-output directive: how GETs of the output are served
    output_fault: OutputFault | None = None
    #: GETs of the output so far (``cut=N`` cuts only the first N)
    downloads: int = 0
    webhook: str | None = None
    #: scheme://host of the submit, to resolve the simulator's own media URLs
    origin: str = ""
    #: the request body as accepted (webhook bodies carry it as ``input``)
    input: dict[str, Any] = field(default_factory=dict)
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

    def record(self, owner: str) -> dict[str, Any]:
        """The row of this prediction in the task file.

        >>> p = Prediction("ab", "hi", ["http://x/a.png"], 1, 3.5, None, 0.1)
        >>> Prediction.from_record(p.record("me")).record("me") == p.record("me")
        True
        """
        task = {name: getattr(self, name) for name in _TASK_FIELDS}
        fault = self.output_fault
        task["output_fault"] = None if fault is None else [fault.kind, fault.value]
        return {
            "id": self.id,
            "created": self.created_at.timestamp(),
            "model": contract.MODEL,
            "owner": owner,
            "task": task,
            **self.progress(),
        }

    def progress(self) -> dict[str, Any]:
        """The columns that change as the task runs."""
        return {
            "status": self.status.value,
            "error": self.error,
            "code": self.code,
            "inference_ms": self.inference_ms,
            "has_output": self.has_output,
        }

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> Prediction:
        """The prediction a task row describes."""
        task = dict(row["task"])
        fault = task.pop("output_fault", None)
        end = task.get("end_status")
        task["end_status"] = None if end is None else Status(end)
        known = {f.name for f in dataclasses.fields(cls)}
        prediction = cls(
            id=row["id"],
            output_fault=None if fault is None else OutputFault(fault[0], fault[1]),
            created_at=dt.datetime.fromtimestamp(row["created"], dt.timezone.utc),
            status=Status(row["status"]),
            error=row["error"],
            code=row["code"],
            inference_ms=row["inference_ms"],
            has_output=row["has_output"],
            **{k: v for k, v in task.items() if k in known},
        )
        if prediction.status.finished:
            prediction.done.set()
        return prediction


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
        #: this simulator's name in the task file's ``owner`` column
        self.owner = secrets.token_hex(8)
        #: the base URL it serves on, once known (URLs in webhooks of adopted tasks)
        self.base_url = ""

    # the task file -------------------------------------------------------------------

    def open(self) -> None:
        """Join the directory: this simulator is alive from now on."""
        with _LIVE_LOCK:
            _LIVE.add(self.owner)
        self.store.db.beat(self.owner)

    def leave(self) -> None:
        """This simulator stops: its unfinished tasks are orphans for the next one."""
        with _LIVE_LOCK:
            _LIVE.discard(self.owner)
        self.store.db.release(self.owner)

    def add(self, prediction: Prediction) -> None:
        """A new task: remembered here and in the task file."""
        self.predictions[prediction.id] = prediction
        self.store.db.insert(prediction.record(self.owner))

    def save(self, prediction: Prediction) -> None:
        """Record a task's progress (unless it was deleted meanwhile)."""
        if prediction.id in self.predictions:
            self.store.db.update(prediction.id, self.owner, prediction.progress())

    def expired(self, prediction: Prediction) -> bool:
        """True once the prediction is older than the retention time."""
        age = time.time() - prediction.created_at.timestamp()
        return age >= self.config.retention_s

    def forget(self, prediction_id: str) -> None:
        """Drop a task everywhere: here, the task file and its output."""
        self.predictions.pop(prediction_id, None)
        self.store.db.delete([prediction_id])
        self.store.delete_output(prediction_id)

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
        if "state_dir" in changes and changes["state_dir"] != self.config.state_dir:
            raise ValueError("state_dir cannot change while the simulator runs; start a new one")
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


def is_alive(owner: str, pid: int, beat: float) -> bool:
    """Whether the simulator ``owner`` (process ``pid``, lease renewed at ``beat``) still runs.

    >>> is_alive("nobody", os.getpid(), time.time())
    False
    """
    if pid == os.getpid():
        with _LIVE_LOCK:
            return owner in _LIVE
    if time.time() - beat > taskdb.LEASE_S:
        return False
    return _process_exists(pid)


def _process_exists(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap, safe check (os.kill ends processes on Windows): trust the lease
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: that pid is in use
    return True
