"""Settings of the offline simulator: latency, faults, limits and account state.

Every value is checked on construction (and again on every change), so a bad
setting fails at once with a message naming it instead of as odd behaviour later.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import contract

#: Task codes the ``fail_rate`` draw picks from (model trouble, never input trouble).
INJECTED_FAIL_CODES: tuple[int, ...] = (
    contract.Code.EXECUTION_FAILED,
    contract.Code.TASK_FAILED,
    contract.Code.INTERNAL,
    contract.Code.UNAVAILABLE,
)

_RATES = ("fail_rate", "error_rate", "rate_limit_rate", "drop_rate")
_BOOLS = ("allow_remote_fetch", "reject_unknown_fields", "sync_timeout_code_top_level")

#: Where the simulator keeps its tasks; the value ``off`` keeps them only while it runs.
STATE_DIR_ENV = "KONTEXT_WIDGETS_SIMULATOR_DIR"
#: The service keeps predictions, outputs and uploads this long ("what are predictions" docs).
RETENTION_S = 7 * 24 * 3600.0


def default_state_dir() -> str | None:
    """Where tasks are kept unless a config says otherwise: see :func:`state_dir_from`.

    >>> default_state_dir() == state_dir_from(os.environ)
    True
    """
    return state_dir_from(os.environ)


def state_dir_from(environ: Mapping[str, str], home: Path | None = None) -> str | None:
    """``$KONTEXT_WIDGETS_SIMULATOR_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, plus
    ``kontext-widgets/simulator``; None (nothing kept after a stop) when the variable is ``off``.

    >>> state_dir_from({}, home=Path("/home/me"))
    '/home/me/.cache/kontext-widgets/simulator'
    >>> state_dir_from({"XDG_CACHE_HOME": "/var/cache/me"})
    '/var/cache/me/kontext-widgets/simulator'
    >>> state_dir_from({STATE_DIR_ENV: "/tmp/sim"}), state_dir_from({STATE_DIR_ENV: "off"})
    ('/tmp/sim', None)
    """
    chosen = environ.get(STATE_DIR_ENV, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return str(Path(chosen).expanduser().absolute())
    cache = environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says to ignore a relative value.
    absolute = bool(cache) and Path(cache).is_absolute()
    base = Path(cache) if absolute else (home or Path.home()) / ".cache"
    return str(base / "kontext-widgets" / "simulator")


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulator behaves. Frozen: change it with :meth:`replace`.

    >>> SimulatorConfig(latency_s=0.1, concurrency=2).concurrency
    2
    >>> SimulatorConfig(fail_rate=1.5)
    Traceback (most recent call last):
    ...
    ValueError: fail_rate must be a number from 0 to 1, got 1.5
    """

    #: seconds a task spends in ``processing`` (a prompt directive may override it)
    latency_s: float = 0.5
    #: when set, /api/v3 routes need ``Authorization: Bearer <api_key>`` (else HTTP 401)
    api_key: str | None = None
    #: tasks running at once; more wait in ``created``. None: no limit
    concurrency: int | None = None
    #: share of tasks that fail with 1403, 1405, 5000 or 5003
    fail_rate: float = 0.0
    #: share of /api/v3 requests answered 500, 502, 503 or 504
    error_rate: float = 0.0
    #: share of /api/v3 requests answered 429 (about half carry Retry-After)
    rate_limit_rate: float = 0.0
    #: share of /api/v3 requests whose connection is closed without an answer
    drop_rate: float = 0.0
    #: how long a sync-mode submit is held open before the 5004 hand-over
    sync_timeout_s: float = contract.SYNC_MODE_TIMEOUT_S
    #: starting account balance; every created task costs contract.PRICE_PER_IMAGE_USD
    balance_usd: float = 100.0
    #: long side of output images in pixels (rounded to a multiple of 16)
    output_long_side: int = 1024
    #: seed of the fault RNG (and of seed -1 picks), so fault runs repeat exactly
    random_seed: int = 0
    #: False: fetch only loopback URLs and the simulator's own media
    allow_remote_fetch: bool = True
    #: seconds allowed for fetching one input image
    fetch_timeout_s: float = 10.0
    #: value of Retry-After on the 429 answers that carry one
    retry_after_s: int = 1
    #: True: unknown body fields get HTTP 400; False (the real service): they are dropped
    reject_unknown_fields: bool = False
    #: directory keeping tasks, uploads and outputs across restarts (several simulators may
    #: share it); None: a temporary one, removed on stop. Default: see default_state_dir()
    state_dir: str | None = field(default_factory=default_state_dir)
    #: seconds predictions, their outputs and uploads are kept (the service: 7 days)
    retention_s: float = RETENTION_S
    #: images a minute the account may create (the lowest tier: 2); more get HTTP 429.
    #: None: no limit
    images_per_minute: int | None = None
    #: False (the official SDK's shape): a sync time-out carries code 5004 in ``data.code``;
    #: True: in the envelope's top-level ``code``, as some gateways answer
    sync_timeout_code_top_level: bool = False

    def __post_init__(self) -> None:
        _check_number("latency_s", self.latency_s, low=0.0, high=3600.0)
        _check_number("sync_timeout_s", self.sync_timeout_s, low=0.0, high=3600.0, open_low=True)
        _check_number("balance_usd", self.balance_usd, low=0.0, high=1e9)
        _check_number("fetch_timeout_s", self.fetch_timeout_s, low=0.0, high=600.0, open_low=True)
        for name in _RATES:
            _check_number(name, getattr(self, name), low=0.0, high=1.0)
        if self.api_key is not None and (
            not isinstance(self.api_key, str)
            or not self.api_key
            or self.api_key != self.api_key.strip()
        ):
            # The key itself is never echoed: error messages may end up in logs.
            raise ValueError(
                "api_key must be a non-empty string without surrounding spaces, or None"
            )
        if self.concurrency is not None:
            _check_int("concurrency", self.concurrency, low=1, high=10_000)
        _check_int("output_long_side", self.output_long_side, low=64, high=4096)
        _check_int("random_seed", self.random_seed, low=-(2**63), high=2**63 - 1)
        _check_int("retry_after_s", self.retry_after_s, low=0, high=3600)
        _check_number("retention_s", self.retention_s, low=0.0, high=3.2e9, open_low=True)
        if self.images_per_minute is not None:
            _check_int("images_per_minute", self.images_per_minute, low=1, high=100_000)
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        self._check_state_dir()

    def _check_state_dir(self) -> None:
        value: object = self.state_dir
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(
                f"state_dir must be a directory path or None (temporary), got {value!r}"
            )
        # Frozen: set the normalised value the one way a frozen dataclass allows.
        object.__setattr__(self, "state_dir", value)

    def replace(self, **changes: Any) -> SimulatorConfig:
        """A copy with ``changes`` applied and checked.

        >>> SimulatorConfig().replace(error_rate=0.25).error_rate
        0.25
        >>> SimulatorConfig().replace(colour="red")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown simulator setting 'colour'; known: allow_remote_fetch, ...
        """
        unknown = sorted(set(changes) - field_names())
        if unknown:
            known = ", ".join(sorted(field_names()))
            raise ValueError(f"unknown simulator setting {unknown[0]!r}; known: {known}")
        return dataclasses.replace(self, **changes)

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values, with the API key replaced by whether one is set.

        >>> SimulatorConfig(api_key="sk-secret").public_dict()["api_key"]
        '<set>'
        """
        values = dataclasses.asdict(self)
        values["api_key"] = None if self.api_key is None else "<set>"
        return values


def field_names() -> frozenset[str]:
    """Names of every setting."""
    return frozenset(f.name for f in dataclasses.fields(SimulatorConfig))


def _check_number(
    name: str, value: object, *, low: float, high: float, open_low: bool = False
) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low < value if open_low else low <= value)
        and value <= high
    )
    if not ok:
        lower = f"above {low:g}" if open_low else f"from {low:g}"
        what = "from 0 to 1" if (low, high) == (0.0, 1.0) else f"{lower} to {high:g}"
        raise ValueError(f"{name} must be a number {what}, got {value!r}")


def _check_int(name: str, value: object, *, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
