"""The widget's background tasks: runs (replaced or queued) and side work, none of them lost.

Every task is referenced until it ends (so the loop never drops one half-way), every
exception is retrieved (it is already shown in the widget and logged by the guard),
and a coroutine whose task was cancelled before its first step is closed (no "never
awaited" warning).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Tasks", "running_loop"]

T = TypeVar("T")
Guard = Callable[[Awaitable[Any]], Coroutine[Any, Any, Any]]


class Tasks:
    """Run tasks (their count drives ``busy``) and side tasks, on the running loop.

    >>> import asyncio
    >>> async def main() -> tuple[bool, list[bool]]:
    ...     seen: list[bool] = []
    ...     tasks = Tasks(on_busy=seen.append)
    ...     task = tasks.start_run(asyncio.get_running_loop(), asyncio.sleep(0, "done"))
    ...     await task
    ...     await asyncio.sleep(0)
    ...     return tasks.busy, seen
    >>> asyncio.run(main())
    (False, [True, False])
    """

    def __init__(self, *, on_busy: Callable[[bool], None], guard: Guard | None = None) -> None:
        self.runs: list[asyncio.Task[Any]] = []
        self.side: set[asyncio.Task[Any]] = set()
        self._on_busy = on_busy
        self._guard = guard

    @property
    def busy(self) -> bool:
        return any(not task.done() for task in self.runs)

    def pending(self) -> list[asyncio.Task[Any]]:
        return [task for task in self.runs if not task.done()]

    def start_run(
        self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]
    ) -> asyncio.Task[T]:
        """Start a run's task; ``busy`` is true until every run has ended."""
        wrapped = self._guard(work) if self._guard else work
        task: asyncio.Task[T] = loop.create_task(wrapped)
        self.runs.append(task)
        task.add_done_callback(self._run_done)
        task.add_done_callback(_closer(work))
        self._on_busy(True)
        return task

    def cancel_runs(self) -> list[asyncio.Task[Any]]:
        """Cancel every run that has not ended; return them."""
        pending = self.pending()
        for task in pending:
            task.cancel()
        return pending

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Start side work (e.g. the balance) if a loop runs; never blocks."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            work.close()
            return
        task = loop.create_task(self._guard(work) if self._guard else work)
        self.side.add(task)
        task.add_done_callback(self._side_done)
        task.add_done_callback(_closer(work))

    def after(self, waiting: list[asyncio.Task[Any]], then: Callable[[], None]) -> None:
        """Call ``then`` once the ``waiting`` tasks have ended (at once when none do)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            waiting = []  # no loop: those tasks cannot run any more
        if not waiting:
            then()
            return

        async def when_stopped() -> None:
            await asyncio.gather(*waiting, return_exceptions=True)
            then()

        self.in_background(when_stopped())

    def forget_closed_loops(self) -> None:
        """Drop tasks of loops that have closed (e.g. an earlier ``asyncio.run``)."""
        self.runs = [task for task in self.runs if not task.get_loop().is_closed()]

    def cancel_side(self) -> None:
        for task in list(self.side):
            if not task.get_loop().is_closed():
                task.cancel()

    async def wait_all(
        self, loop: asyncio.AbstractEventLoop, runs: list[asyncio.Task[Any]]
    ) -> None:
        """Wait for the given runs and this loop's side tasks to end."""
        await asyncio.gather(*runs, return_exceptions=True)
        side = [task for task in self.side if task.get_loop() is loop]
        await asyncio.gather(*side, return_exceptions=True)

    def _run_done(self, task: asyncio.Task[Any]) -> None:
        if task in self.runs:
            self.runs.remove(task)
        self._on_busy(self.busy)
        if not task.cancelled():
            task.exception()  # retrieved: it is already in `error` and the log

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self.side.discard(task)
        if not task.cancelled():
            task.exception()


def running_loop() -> asyncio.AbstractEventLoop:
    """The running loop (the kernel's, inside ipykernel), or a clear error outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "KontextWidget runs its work on the notebook's event loop: use it in Jupyter, "
            "or call `await widget.generate()` from async code"
        ) from None


def _closer(work: Coroutine[Any, Any, Any]) -> Callable[[asyncio.Task[Any]], None]:
    """A done-callback that closes ``work``: a task cancelled before its first step never
    awaited it, and Python would warn that the coroutine was never awaited."""

    def close(_task: asyncio.Task[Any]) -> None:
        work.close()  # a no-op for a coroutine that ran to its end

    return close
