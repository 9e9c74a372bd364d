"""A concurrency limit that follows the running event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LoopSlots:
    """``get()`` is an ``asyncio.Semaphore`` of ``size()`` slots for the running loop.

    A semaphore belongs to one loop; a new loop (a second ``asyncio.run``) gets a new one.

    >>> async def demo() -> bool:
    ...     async with LoopSlots(lambda: 2).get():
    ...         return True
    >>> asyncio.run(demo())
    True
    """

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def get(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore = asyncio.Semaphore(self._size())
            self._loop = loop
        return self._semaphore
