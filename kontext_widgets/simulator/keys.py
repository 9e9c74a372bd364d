"""Typed keys for what an app and a request carry between middleware and handlers."""

from __future__ import annotations

from contextvars import ContextVar

from aiohttp import web

from .faults import Fault
from .runner import TaskRunner
from .state import SimulatorState

STATE = web.AppKey("kontext_sim_state", SimulatorState)
RUNNER = web.AppKey("kontext_sim_runner", TaskRunner)
#: the Fault drawn for the request being handled, or None; each request runs in
#: its own task and so its own context, which keeps this per request
FAULT: ContextVar[Fault | None] = ContextVar("kontext_sim_fault", default=None)


def origin(request: web.Request) -> str:
    """``scheme://host[:port]`` as the client addressed us, so URLs work on any port."""
    return f"{request.scheme}://{request.host}"
