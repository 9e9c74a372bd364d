"""Running the simulator: in a background thread, or inside a running event loop.

It listens on loopback only: the simulator has no authentication worth the
name and fetches URLs on request, so it must never face a network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .app import create_app
from .config import SimulatorConfig
from .keys import RUNNER, STATE

DEFAULT_HOST = "127.0.0.1"
_T = TypeVar("_T")
_START_TIMEOUT_S = 30.0


def loopback_host(host: str) -> str:
    """``host`` if it is a loopback address (``localhost`` becomes 127.0.0.1), else ValueError.

    >>> loopback_host("localhost"), loopback_host("::1")
    ('127.0.0.1', '::1')
    >>> loopback_host("0.0.0.0")
    Traceback (most recent call last):
    ...
    ValueError: the simulator listens on loopback only (e.g. 127.0.0.1); refusing host '0.0.0.0'
    """
    if host.lower() == "localhost":
        return DEFAULT_HOST
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return host.strip("[]")
    except ValueError:
        pass
    raise ValueError(
        f"the simulator listens on loopback only (e.g. 127.0.0.1); refusing host {host!r}"
    )


class RunningSimulator:
    """A simulator serving inside the current event loop (see :func:`serve`)."""

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self._runner = runner
        self.url = url

    @property
    def app(self) -> web.Application:
        return self._runner.app

    @property
    def storage_dir(self) -> Path:
        """The directory holding uploads and outputs (a temporary one is removed by
        :meth:`close`; a configured ``state_dir`` is kept)."""
        return self.app[STATE].store.root

    def stats(self) -> dict[str, Any]:
        """The counters (same JSON as GET /_simulator/stats)."""
        return self.app[STATE].snapshot()

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change settings now (checked; unknown names are an error)."""
        config = self.app[STATE].configure(changes)
        self.app[RUNNER].pump()
        return config

    async def close(self) -> None:
        """Stop listening and cancel tasks (a configured ``state_dir`` keeps them for the next
        simulator); a temporary directory is deleted."""
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def serve(
    config: SimulatorConfig | None = None, host: str = DEFAULT_HOST, port: int = 0
) -> RunningSimulator:
    """Start the simulator in the running loop; port 0 picks a free port.

    >>> async def demo() -> bool:
    ...     async with await serve(SimulatorConfig(latency_s=0.05, state_dir=None)) as sim:
    ...         return sim.url.startswith("http://127.0.0.1:")
    >>> asyncio.run(demo())
    True
    """
    bind = loopback_host(host)
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, bind, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    shown = f"[{bind}]" if ":" in bind else bind
    url = f"http://{shown}:{bound_port}"
    runner.app[STATE].base_url = url
    return RunningSimulator(runner, url)


class SimulatorServer:
    """The simulator in a daemon thread with its own event loop, for notebooks and sync code.

    >>> import json, urllib.request
    >>> with SimulatorServer(SimulatorConfig(balance_usd=5.0, state_dir=None)) as server:
    ...     with urllib.request.urlopen(server.url + "/api/v3/balance") as answer:
    ...         json.load(answer)["data"]
    {'balance': 5.0}
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, host: str = DEFAULT_HOST, port: int = 0
    ) -> None:
        self._config = config or SimulatorConfig()
        self._host = loopback_host(host)
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._running: RunningSimulator | None = None

    def start(self) -> str:
        """Start serving (once); returns the base URL ``http://127.0.0.1:PORT``."""
        if self._running is not None:
            return self._running.url
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="kontext-widgets-simulator", daemon=True
        )
        thread.start()
        future = asyncio.run_coroutine_threadsafe(serve(self._config, self._host, self._port), loop)
        try:
            self._running = future.result(_START_TIMEOUT_S)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT_S)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        return self._running.url

    @property
    def url(self) -> str:
        """The base URL; the server must be started."""
        return self._started()[0].url

    @property
    def storage_dir(self) -> Path:
        """The directory holding uploads and outputs (a temporary one is removed by
        :meth:`stop`; a configured ``state_dir`` is kept)."""
        running, loop = self._started()
        return self._call(loop, lambda: running.storage_dir)

    def stats(self) -> dict[str, Any]:
        """The counters (same JSON as GET /_simulator/stats)."""
        running, loop = self._started()
        return self._call(loop, running.stats)

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change settings now, e.g. ``server.configure(error_rate=0.5)``."""
        running, loop = self._started()
        return self._call(loop, lambda: running.configure(**changes))

    def stop(self) -> None:
        """Stop serving (see :meth:`RunningSimulator.close`); safe to call twice."""
        running, loop, thread = self._running, self._loop, self._thread
        self._running = self._loop = self._thread = None
        if running is None or loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(running.close(), loop).result(_START_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT_S)
            loop.close()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _started(self) -> tuple[RunningSimulator, asyncio.AbstractEventLoop]:
        if self._running is None or self._loop is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return self._running, self._loop

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, function: Callable[[], _T]) -> _T:
        # State belongs to the server's loop thread: read and change it there.
        async def run() -> _T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_START_TIMEOUT_S)
