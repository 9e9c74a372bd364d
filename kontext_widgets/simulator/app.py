"""The simulator as an aiohttp application: routes, gateway behaviour and lifetime.

The gateway middleware does what sits in front of the real service: counting,
injected faults (429, 5xx, dropped connections) and the API-key check.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from .. import contract
from . import api, control, envelope, history, media
from .config import SimulatorConfig
from .faults import Fault
from .keys import FAULT, RUNNER, STATE
from .runner import TaskRunner
from .state import SimulatorState
from .storage import MediaStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Header on every answer (the client reads it to label results SIMULATED).
SIMULATOR_HEADER = "X-Kontext-Simulator"

_API = "/api/v3/"
_CONTROL = "/_simulator/"
_ERROR_MESSAGES = {
    500: "Internal Server Error (simulated fault)",
    502: "Bad Gateway (simulated fault)",
    503: "Service Unavailable (simulated fault)",
    504: "Gateway Timeout (simulated fault)",
}


def create_app(config: SimulatorConfig | None = None) -> web.Application:
    """The simulator app; run it with any aiohttp runner.

    Its files live in ``config.state_dir`` (kept, and shared with any other simulator
    using it) or, when that is None, in a temporary directory removed on app cleanup.

    >>> app = create_app(SimulatorConfig(latency_s=0.1, state_dir=None))
    >>> sorted(r.resource.canonical for r in app.router.routes() if r.method == "GET")[:2]
    ['/_simulator/config', '/_simulator/stats']
    """
    config = config or SimulatorConfig()
    app = web.Application(middlewares=[_gateway])
    # The state exists from the start so the app can be inspected before it runs;
    # the store and HTTP session belong to the running app (see _lifetime).
    app[STATE] = SimulatorState(config, MediaStore(config.state_dir))
    app.cleanup_ctx.append(_lifetime)
    app.on_response_prepare.append(_mark_simulated)

    router = app.router
    router.add_post(contract.SUBMIT_PATH, api.submit)
    router.add_get(contract.RESULT_PATH, api.result)
    router.add_get(contract.PREDICTION_PATH, api.result)
    router.add_post("/api/v3/predictions", history.list_predictions)
    router.add_post("/api/v3/predictions/delete", history.delete_predictions)
    router.add_get(contract.BALANCE_PATH, api.balance)
    router.add_get("/api/v3/webhook/secret", api.webhook_secret)
    router.add_post(contract.UPLOAD_BINARY_PATH, media.upload_binary)
    router.add_post(contract.UPLOAD_TICKET_PATH, media.upload_ticket)
    router.add_put("/media/put/{token}", media.put_upload)
    router.add_get("/media/uploads/{token}/{filename}", media.get_upload)
    router.add_get("/media/outputs/{id}/output.png", media.get_output)
    router.add_get("/_simulator/stats", control.stats)
    router.add_get("/_simulator/tasks", control.tasks)
    router.add_post("/_simulator/tasks/{id}/end", control.end_task)
    router.add_get("/_simulator/config", control.get_config)
    router.add_post("/_simulator/config", control.set_config)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    session = aiohttp.ClientSession()
    app[RUNNER] = TaskRunner(state, session)
    app[RUNNER].start()
    try:
        yield
    finally:
        await app[RUNNER].close()
        await session.close()
        state.store.close()


@web.middleware
async def _gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(_CONTROL):
        return await handler(request)  # simulator controls: never counted, faulted or locked
    state = request.app[STATE]
    api_route = request.path.startswith(_API)
    _count_request(request, state)

    fault = state.faults.draw(state.config) if api_route else None
    if fault is not None:
        state.stats.faults[_fault_name(fault)] += 1
    if fault is not None and not fault.after_handling:
        return _answer(state, _fault_response(fault))
    if api_route and not _authorized(request, state.config.api_key):
        return _answer(state, envelope.error(401, "Unauthorized: missing or invalid API key"))

    FAULT.set(fault)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # unknown route, wrong method, body too large ...
        response = envelope.error(exc.status, exc.reason)
    if fault is not None and fault.drop and request.transport is not None:
        # Close without answering, as a cut connection does; the effects above stay.
        state.stats.dropped += 1
        request.transport.abort()
        return response
    if fault is not None and fault.status is not None:
        response = _fault_response(fault)
    return _answer(state, response)


async def _mark_simulated(request: web.Request, response: web.StreamResponse) -> None:
    # Every answer says where it came from, so a client can label results SIMULATED.
    response.headers[SIMULATOR_HEADER] = "SIMULATED; kontext-widgets simulator, not the real model"


def _count_request(request: web.Request, state: SimulatorState) -> None:
    path, method, stats = request.path, request.method, state.stats
    if method == "POST" and path == contract.SUBMIT_PATH:
        stats.submits += 1
    elif method == "GET" and path.startswith("/api/v3/predictions/"):
        stats.polls += 1
    elif method == "POST" and path in (contract.UPLOAD_BINARY_PATH, contract.UPLOAD_TICKET_PATH):
        stats.uploads += 1
    elif method == "PUT" and path.startswith("/media/put/"):
        stats.puts += 1


def _authorized(request: web.Request, api_key: str | None) -> bool:
    if api_key is None:
        return True
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode())


def _fault_name(fault: Fault) -> str:
    return "drop" if fault.status is None else str(fault.status)


def _fault_response(fault: Fault) -> web.Response:
    if fault.status == 429:
        headers = {} if fault.retry_after_s is None else {"Retry-After": str(fault.retry_after_s)}
        body = envelope.failure(429, "Too Many Requests: rate limit exceeded (simulated fault)")
        return envelope.respond(body, status=429, headers=headers)
    status = fault.status or 500
    return envelope.error(status, _ERROR_MESSAGES.get(status, "simulated fault"))


def _answer(state: SimulatorState, response: web.StreamResponse) -> web.StreamResponse:
    state.stats.answers[response.status] += 1
    return response
