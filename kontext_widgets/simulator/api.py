"""Handlers of the prediction routes: submit, result, balance, webhook secret.

The history routes (list, delete) are in :mod:`.history`.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from .. import contract
from ..contract import Code
from ..errors import Problem
from ..fields import REQUEST_FIELDS
from ..payload import check_payload, is_http_url
from . import directives, envelope
from .config import SimulatorConfig
from .keys import FAULT, RUNNER, STATE, origin
from .state import Prediction, Status

#: The window of the images-per-minute limit, in seconds.
RATE_WINDOW_S = 60.0


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
        body = {k: v for k, v in body.items() if k in REQUEST_FIELDS}
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
    limited = _over_image_limit(request)
    if limited is not None:
        return limited
    if not state.charge():
        return envelope.error(
            403,
            f"Insufficient balance: {state.balance_usd:.2f} USD left and one call costs "
            f"{contract.PRICE_PER_IMAGE_USD:.2f} USD (simulated account); top up to continue",
        )
    prediction = _new_prediction(request, body, plan, webhook)
    state.add(prediction)
    state.stats.tasks_created += 1
    request.app[RUNNER].enqueue(prediction)

    # A request the gateway will cut (502/504/drop) is not held open for sync mode.
    if body.get("enable_sync_mode") and FAULT.get() is None:
        return await _wait_for(prediction, request)
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


def _new_prediction(
    request: web.Request, body: dict[str, Any], plan: directives.Directives, webhook: str | None
) -> Prediction:
    state = request.app[STATE]
    seed = body.get("seed", contract.RANDOM_SEED)
    fail_code = plan.fail_code
    injected = state.faults.task_failure(state.config)
    return Prediction(
        id=secrets.token_hex(16),
        prompt=body["prompt"],
        images=list(body["images"]),
        seed=state.faults.seed() if seed == contract.RANDOM_SEED else seed,
        guidance_scale=float(body.get("guidance_scale", contract.GUIDANCE_DEFAULT)),
        aspect_ratio=body.get("aspect_ratio"),
        latency_s=state.config.latency_s if plan.latency_s is None else plan.latency_s,
        planned_failure=fail_code if fail_code is not None else injected,
        end_status=None if plan.end_status is None else Status(plan.end_status),
        nsfw=plan.nsfw,
        output_fault=plan.output,
        webhook=webhook,
        origin=origin(request),
        input={k: v for k, v in body.items() if k in REQUEST_FIELDS},
    )


def _over_image_limit(request: web.Request) -> web.Response | None:
    """HTTP 429 when the account made its images-per-minute already (None: go ahead)."""
    state = request.app[STATE]
    limit = state.config.images_per_minute
    if limit is None:
        return None
    now = time.time()
    # The directory is the account: every simulator on it counts.
    recent = state.store.db.created_since(now - RATE_WINDOW_S)
    if len(recent) < limit:
        return None
    # One more fits once the oldest of the last `limit` leaves the window.
    wait = max(1, math.ceil(recent[-limit] + RATE_WINDOW_S - now))
    message = (
        f"Too Many Requests: this account may create {limit} images a minute "
        f"(simulated account tier); try again in {wait} s"
    )
    return envelope.respond(
        envelope.failure(429, message), status=429, headers={"Retry-After": str(wait)}
    )


async def _wait_for(prediction: Prediction, request: web.Request) -> web.Response:
    config = request.app[STATE].config
    timeout = config.sync_timeout_s
    try:
        await asyncio.wait_for(prediction.done.wait(), timeout)
    except asyncio.TimeoutError:
        data = envelope.prediction_data(prediction, origin(request))
        message = (
            f"Sync mode timed out after {timeout:g} seconds; the task goes on: "
            f"poll {data['urls']['get']}"
        )
        data["error"] = message
        if config.sync_timeout_code_top_level:
            return envelope.respond(
                {"code": Code.TIMED_OUT.value, "message": message, "data": data}
            )
        # The official SDK's shape: a success envelope whose data carries the code.
        data["code"] = Code.TIMED_OUT.value
        return envelope.respond(envelope.success(data))
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


async def result(request: web.Request) -> web.Response:
    """GET /api/v3/predictions/{id}/result and GET /api/v3/predictions/{id}

    An unknown id, a deleted one and one past the retention time all answer 404.
    """
    prediction_id = request.match_info["id"]
    prediction = request.app[RUNNER].find(prediction_id)
    if prediction is None:
        return envelope.error(404, f"prediction {prediction_id!r} not found")
    return envelope.respond(envelope.success(envelope.prediction_data(prediction, origin(request))))


async def balance(request: web.Request) -> web.Response:
    """GET /api/v3/balance"""
    return envelope.respond(envelope.success({"balance": request.app[STATE].balance_usd}))


async def webhook_secret(request: web.Request) -> web.Response:
    """GET /api/v3/webhook/secret: the key the webhook signatures use."""
    return envelope.respond(envelope.success({"secret": request.app[STATE].webhook_secret}))
