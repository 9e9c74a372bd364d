"""Handlers of the prediction routes: submit, result, list, delete, balance, webhook secret."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .. import contract
from ..contract import Code
from ..errors import Problem
from ..payload import check_payload, is_http_url
from . import directives, envelope
from .config import SimulatorConfig
from .keys import FAULT, RUNNER, STATE, origin
from .state import Prediction

MAX_PAGE_SIZE = 100


def validate(body: object, config: SimulatorConfig) -> list[Problem]:
    """The shared body checks; unknown keys are dropped unless the config rejects them.

    >>> problems = validate({"prompt": "hi", "images": []}, SimulatorConfig())
    >>> [(p.field, int(p.code)) for p in problems]
    [('images', 1401)]
    >>> validate({"prompt": "hi", "images": ["https://x/a.png"], "n": 2}, SimulatorConfig())
    []
    """
    if isinstance(body, Mapping) and not config.reject_unknown_fields:
        # The real service silently drops unknown keys; so does the simulator by default.
        body = {k: v for k, v in body.items() if k in contract.REQUEST_FIELDS}
    return check_payload(body)


def bad_request(problems: list[Problem]) -> web.Response:
    """HTTP 400 naming every bad field; code 1400 if one is missing, else 1401."""
    missing = any(p.code == Code.MISSING_PARAMETER for p in problems)
    code = Code.MISSING_PARAMETER if missing else Code.INVALID_PARAMETER
    return envelope.error(400, "; ".join(str(p) for p in problems), code)


async def read_json(request: web.Request) -> tuple[Any, web.Response | None]:
    """The JSON body, or an HTTP 400 answer if it is not JSON."""
    try:
        return await request.json(), None
    except (json.JSONDecodeError, UnicodeDecodeError):
        problem = Problem("body", "not valid JSON", "expected a JSON object")
        return None, bad_request([problem])


async def submit(request: web.Request) -> web.Response:
    """POST /api/v3/wavespeed-ai/flux-kontext-pro/multi"""
    state = request.app[STATE]
    body, refused = await read_json(request)
    if refused:
        return refused
    webhook = request.query.get("webhook")
    if isinstance(body, dict) and "webhook_url" in body:
        # The docs also show the webhook as a body field; accept both spellings.
        body = dict(body)
        in_body = body.pop("webhook_url")
        webhook = webhook if webhook is not None else in_body
    problems = validate(body, state.config)
    if webhook is not None and not is_http_url(webhook):
        problems.append(Problem("webhook", webhook, "expected an http(s) URL"))
    if problems:
        return bad_request(problems)
    try:
        plan = directives.parse(body["prompt"])
    except directives.DirectiveError as exc:
        return bad_request([Problem("prompt", body["prompt"], str(exc))])
    if not state.charge():
        return envelope.error(
            403,
            f"Insufficient balance: {state.balance_usd:.2f} USD left and one call costs "
            f"{contract.PRICE_PER_IMAGE_USD:.2f} USD (simulated account); top up to continue",
        )

    seed = body.get("seed", contract.RANDOM_SEED)
    fail_code = plan.fail_code
    injected = state.faults.task_failure(state.config)
    prediction = Prediction(
        id=secrets.token_hex(16),
        prompt=body["prompt"],
        images=list(body["images"]),
        seed=state.faults.seed() if seed == contract.RANDOM_SEED else seed,
        guidance_scale=float(body.get("guidance_scale", contract.GUIDANCE_DEFAULT)),
        aspect_ratio=body.get("aspect_ratio"),
        latency_s=state.config.latency_s if plan.latency_s is None else plan.latency_s,
        planned_failure=fail_code if fail_code is not None else injected,
        nsfw=plan.nsfw,
        output_fault=plan.output,
        webhook=webhook,
        origin=origin(request),
    )
    state.predictions[prediction.id] = prediction
    state.stats.tasks_created += 1
    request.app[RUNNER].enqueue(prediction)

    # A request the gateway will cut (502/504/drop) is not held open for sync mode.
    if body.get("enable_sync_mode") and FAULT.get() is None:
        return await _wait_for(prediction, request)
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


async def _wait_for(prediction: Prediction, request: web.Request) -> web.Response:
    timeout = request.app[STATE].config.sync_timeout_s
    try:
        await asyncio.wait_for(prediction.done.wait(), timeout)
    except asyncio.TimeoutError:
        data = envelope.prediction_data(prediction, origin(request))
        message = (
            f"Sync mode timed out after {timeout:g} seconds; the task goes on: "
            f"poll {data['urls']['get']}"
        )
        data["error"] = message
        return envelope.respond({"code": Code.TIMED_OUT.value, "message": message, "data": data})
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


async def result(request: web.Request) -> web.Response:
    """GET /api/v3/predictions/{id}/result and GET /api/v3/predictions/{id}"""
    prediction_id = request.match_info["id"]
    prediction = request.app[STATE].predictions.get(prediction_id)
    if prediction is None:
        return envelope.error(404, f"prediction {prediction_id!r} not found")
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


async def list_predictions(request: web.Request) -> web.Response:
    """POST /api/v3/predictions with ``{"page": 1, "page_size": 20}``, newest first."""
    body: Any = {}
    if request.can_read_body:
        body, refused = await read_json(request)
        if refused:
            return refused
    if not isinstance(body, dict):
        return bad_request([Problem("body", type(body).__name__, "expected a JSON object")])
    page, page_size = body.get("page", 1), body.get("page_size", 20)
    problems = [
        Problem(name, value, f"expected an integer from 1 to {high}")
        for name, value, high in (("page", page, 10**9), ("page_size", page_size, MAX_PAGE_SIZE))
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high
    ]
    if problems:
        return bad_request(problems)
    everything = list(reversed(request.app[STATE].predictions.values()))
    chosen = everything[(page - 1) * page_size : page * page_size]
    items = [envelope.prediction_data(p, origin(request)) for p in chosen]
    data = {"items": items, "page": page, "page_size": page_size, "total": len(everything)}
    return envelope.respond(envelope.success(data))


async def delete_predictions(request: web.Request) -> web.Response:
    """POST /api/v3/predictions/delete with ``{"ids": [...]}``."""
    body, refused = await read_json(request)
    if refused:
        return refused
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return bad_request([Problem("ids", ids, "expected a list of prediction ids")])
    state = request.app[STATE]
    deleted = []
    for prediction_id in ids:
        if state.predictions.pop(prediction_id, None) is not None:
            state.store.delete_output(prediction_id)
            deleted.append(prediction_id)
    return envelope.respond(envelope.success({"deleted": deleted}))


async def balance(request: web.Request) -> web.Response:
    """GET /api/v3/balance"""
    return envelope.respond(envelope.success({"balance": request.app[STATE].balance_usd}))


async def webhook_secret(request: web.Request) -> web.Response:
    """GET /api/v3/webhook/secret: the key the webhook signatures use."""
    return envelope.respond(envelope.success({"secret": request.app[STATE].webhook_secret}))
