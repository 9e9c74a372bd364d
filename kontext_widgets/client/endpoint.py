"""Where requests go: the real service with a key, or the offline simulator without one."""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..contract import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, PRICE_PER_IMAGE_USD
from ..errors import AuthenticationError

if TYPE_CHECKING:
    from ..simulator import SimulatorServer

#: Latency of the simulator started when no key is set: quick, yet visibly asynchronous.
AUTO_SIMULATOR_LATENCY_S = 1.0


class Secret:
    """A string that never shows itself in a repr, a str or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Endpoint:
    """A resolved destination: base URL, optional key, and whether it is simulated."""

    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    simulated: bool = False

    def describe(self) -> str:
        if self.simulated:
            return (
                f"SIMULATED: offline simulator at {self.base_url} "
                "(no API key set; nothing is billed)"
            )
        key = "with an API key" if self.api_key else "without an API key"
        return f"service at {self.base_url} {key} (${PRICE_PER_IMAGE_USD:.2f} an image)"

    @property
    def is_local(self) -> bool:
        """True for a loopback host name (a simulator on this machine), see :func:`is_loopback`."""
        return is_loopback(self.base_url)

    def redact(self, text: str) -> str:
        """Remove the key from text that came back from the network, just in case."""
        if self.api_key:
            return text.replace(self.api_key.reveal(), "***")
        return text


def is_loopback(url: str) -> bool:
    """True when the URL's host *name* is loopback: ``localhost``, ``127.x.x.x`` or ``::1``.

    Decided by the name alone, never by resolving it: an ``/etc/hosts`` alias of
    127.0.0.1 counts as remote, so it gets the remote polling etiquette.

    >>> is_loopback("http://127.0.0.1:8000"), is_loopback("http://[::1]:9"), is_loopback("http://kontext-sim.test")
    (True, True, False)
    """
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def is_real_service(url: str) -> bool:
    """True for WaveSpeed's own host names (never to be reached without a key)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "wavespeed.ai" or host.endswith(".wavespeed.ai")


def resolve(api_key: str | None = None, base_url: str | None = None) -> Endpoint:
    """Pick the destination from arguments, then the environment.

    - a key (argument or ``WAVESPEED_API_KEY``): the real service, or ``base_url``
      (argument or ``WAVESPEED_BASE_URL``) when one is given;
    - no key and a non-WaveSpeed ``base_url``: that URL without a key (for a
      simulator you started yourself);
    - no key otherwise: a simulator started in this process on 127.0.0.1.
      Nothing is ever sent to the real service without a key.

    >>> resolve(api_key="k", base_url="http://127.0.0.1:9").api_key
    Secret('***')
    """
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    key = key.strip()
    url = base_url or os.environ.get(BASE_URL_ENV, "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url: {url!r} is not allowed; expected an http(s) URL")
        url = url.rstrip("/")
    if key:
        return Endpoint(base_url=url or DEFAULT_BASE_URL, api_key=Secret(key))
    if url is not None and is_real_service(url):
        raise AuthenticationError(f"no API key for {url}")
    if url is not None:
        return Endpoint(base_url=url)
    return Endpoint(base_url=shared_simulator().url, simulated=True)


_lock = threading.Lock()
_simulator: SimulatorServer | None = None


def shared_simulator() -> SimulatorServer:
    """The one simulator this process starts when no key is set (started on first use)."""
    global _simulator
    with _lock:
        if _simulator is None:
            from ..simulator import SimulatorConfig, SimulatorServer

            server = SimulatorServer(SimulatorConfig(latency_s=AUTO_SIMULATOR_LATENCY_S))
            server.start()
            atexit.register(server.stop)
            _simulator = server
        return _simulator
