"""Simulator-only routes under /_simulator/: counters and run-time settings.

They are not part of the service's contract: tests and demos use them to
prove what a client did and to switch faults on and off while running.
"""

from __future__ import annotations

from aiohttp import web

from .keys import RUNNER, STATE
from .state import END_STATUSES, Status


async def stats(request: web.Request) -> web.Response:
    """GET /_simulator/stats"""
    return web.json_response(request.app[STATE].snapshot())


async def get_config(request: web.Request) -> web.Response:
    """GET /_simulator/config: the settings, API key redacted."""
    return web.json_response(request.app[STATE].config.public_dict())


async def set_config(request: web.Request) -> web.Response:
    """POST /_simulator/config with ``{"error_rate": 0.5, ...}``: change settings now."""
    try:
        changes = await request.json()
    except ValueError:
        changes = None
    if not isinstance(changes, dict):
        return web.json_response({"error": "expected a JSON object of settings"}, status=400)
    state = request.app[STATE]
    try:
        config = state.configure(changes)
    except (TypeError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[RUNNER].pump()  # a higher concurrency frees queued tasks at once
    return web.json_response(config.public_dict())


async def tasks(request: web.Request) -> web.Response:
    """GET /_simulator/tasks: every task created, with its parameters (proves "never twice")."""
    items = [
        {
            "id": p.id,
            "prompt": p.prompt,
            "images": p.images,
            "seed": p.seed,
            "guidance_scale": p.guidance_scale,
            "aspect_ratio": p.aspect_ratio,
            "status": p.status.value,
            "created_at": p.created_at_text,
        }
        for p in request.app[STATE].predictions.values()
    ]
    return web.json_response(items)


async def end_task(request: web.Request) -> web.Response:
    """POST /_simulator/tasks/{id}/end with ``{"status": "cancelled"}``: end a task now.

    ``status`` is ``cancelled``, ``timeout`` or ``deleted`` (a finished task may still be
    marked deleted: its output goes). For tests of what a client does with each.
    """
    try:
        body = await request.json()
    except ValueError:
        body = None
    allowed = [s.value for s in END_STATUSES]
    status = body.get("status") if isinstance(body, dict) else None
    if status not in allowed:
        message = f"status: {status!r} is not allowed; expected one of {', '.join(allowed)}"
        return web.json_response({"error": message}, status=400)
    prediction_id = request.match_info["id"]
    prediction = request.app[STATE].predictions.get(prediction_id)
    if prediction is None:
        message = f"no task {prediction_id!r} run by this simulator"
        return web.json_response({"error": message}, status=404)
    request.app[RUNNER].end(prediction, Status(status))
    return web.json_response({"id": prediction.id, "status": prediction.status.value})
