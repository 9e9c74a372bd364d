"""Handlers of the history routes: the paged, filtered list and delete.

Both read the directory's task file, so they see every simulator's tasks on it
(the directory is the account). Tasks past the retention time are gone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from ..errors import Problem
from . import envelope
from .api import bad_request, read_json
from .keys import RUNNER, STATE, origin
from .state import Prediction, Status
from .taskdb import Filters

#: The documented page size: 100 by default, at most 100.
MAX_PAGE_SIZE = 100
_TIME_FILTERS = ("created_after", "created_before")


async def list_predictions(request: web.Request) -> web.Response:
    """POST /api/v3/predictions with ``{"page": 1, "page_size": 100, "status": ...}``.

    Filters: ``model``, ``status``, ``created_after``, ``created_before`` (ISO 8601
    times). Answers ``data`` with ``page``, ``page_size``, ``total`` and ``items``, newest first;
    each item is a prediction's ``data`` plus its ``input`` (the request body's fields).
    """
    body: Any = {}
    if request.can_read_body:
        body, refused = await read_json(request)
        if refused:
            return refused
    if not isinstance(body, dict):
        return bad_request([Problem("body", type(body).__name__, "expected a JSON object")])
    page, page_size = body.get("page", 1), body.get("page_size", MAX_PAGE_SIZE)
    problems = [
        Problem(name, value, f"expected an integer from 1 to {high}")
        for name, value, high in (("page", page, 10**9), ("page_size", page_size, MAX_PAGE_SIZE))
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high
    ]
    filters = _filters(body, problems)
    if problems:
        return bad_request(problems)
    state = request.app[STATE]
    request.app[RUNNER].purge()
    total, rows = state.store.db.page(filters, page, page_size)
    items = []
    for row in rows:
        prediction = Prediction.from_record(row)
        item = envelope.prediction_data(prediction, origin(request))
        # Like a webhook body, each item carries the task's input: what made it, so a client
        # can tell its own interrupted submit from another request's task.
        item["input"] = prediction.input
        items.append(item)
    data = {"page": page, "page_size": page_size, "total": total, "items": items}
    return envelope.respond(envelope.success(data))


def _filters(body: dict[str, Any], problems: list[Problem]) -> Filters:
    """The filters ``body`` asks for; each bad one is added to ``problems``."""
    model, status = body.get("model"), body.get("status")
    if model is not None and (not isinstance(model, str) or not model):
        problems.append(Problem("model", model, "expected a model id such as 'owner/model'"))
        model = None
    statuses = [s.value for s in Status]
    if status is not None and status not in statuses:
        problems.append(Problem("status", status, "expected one of " + ", ".join(statuses)))
        status = None
    times: dict[str, float | None] = {}
    for name in _TIME_FILTERS:
        times[name] = _time(name, body.get(name), problems)
    return Filters(model, status, times["created_after"], times["created_before"])


def _time(name: str, value: object, problems: list[Problem]) -> float | None:
    """``value`` (ISO 8601; no zone means UTC) as epoch seconds, or None."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        # Python 3.10 reads no "Z"; the service writes its times with one.
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        problems.append(
            Problem(name, value, "expected an ISO 8601 time such as 2024-05-01T12:00:00Z")
        )
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


async def delete_predictions(request: web.Request) -> web.Response:
    """POST /api/v3/predictions/delete with ``{"ids": [...]}``: answers ``data.deleted_count``."""
    body, refused = await read_json(request)
    if refused:
        return refused
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return bad_request([Problem("ids", ids, "expected a list of prediction ids")])
    state = request.app[STATE]
    request.app[RUNNER].purge()  # what expired is gone already: not counted as deleted now
    deleted = state.store.db.delete(ids)
    for prediction_id in deleted:
        # A task still running notices it is gone when it finishes (see TaskRunner._run).
        state.predictions.pop(prediction_id, None)
        state.store.delete_output(prediction_id)
    return envelope.respond(envelope.success({"deleted_count": len(deleted)}))
