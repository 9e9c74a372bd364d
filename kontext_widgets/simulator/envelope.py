"""The JSON shapes of the contract: the envelope and a prediction's ``data``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import contract
from .state import Prediction, Status


def success(data: Any) -> dict[str, Any]:
    """``{"code": 200, "message": "success", "data": ...}``

    >>> success({"balance": 1.5})
    {'code': 200, 'message': 'success', 'data': {'balance': 1.5}}
    """
    return {"code": contract.Code.SUCCESS.value, "message": "success", "data": data}


def failure(code: int, message: str) -> dict[str, Any]:
    """An error envelope: ``code`` is the HTTP status or a contract code like 1401.

    >>> failure(404, "no prediction with id 'x'")
    {'code': 404, 'message': "no prediction with id 'x'", 'data': None}
    """
    return {"code": int(code), "message": message, "data": None}


def respond(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``body`` as a JSON response."""
    return web.json_response(body, status=status, headers=headers)


def error(status: int, message: str, code: int | None = None) -> web.Response:
    """An error answer; the envelope code is ``code`` or else the HTTP status."""
    return respond(failure(status if code is None else code, message), status=status)


def prediction_data(prediction: Prediction, origin: str) -> dict[str, Any]:
    """The ``data`` object of a prediction; URLs start with ``origin`` (scheme://host)."""
    outputs = [output_url(origin, prediction.id)] if prediction.has_output else []
    data: dict[str, Any] = {
        "id": prediction.id,
        "model": contract.MODEL,
        "outputs": outputs,
        "urls": {"get": origin + contract.RESULT_PATH.format(id=prediction.id)},
        "has_nsfw_contents": [prediction.nsfw] * len(outputs),
        "status": prediction.status.value,
        "created_at": prediction.created_at_text,
        "error": prediction.error,
        "timings": {"inference": prediction.inference_ms},
    }
    if prediction.status is Status.FAILED:
        data["code"] = prediction.code
    return data


def output_url(origin: str, prediction_id: str) -> str:
    """Where the output PNG of a prediction is served.

    >>> output_url("http://127.0.0.1:8000", "ab12")
    'http://127.0.0.1:8000/media/outputs/ab12/output.png'
    """
    return f"{origin}/media/outputs/{prediction_id}/output.png"


def upload_url(origin: str, token: str, filename: str) -> str:
    """Where an uploaded file is served."""
    return f"{origin}/media/uploads/{token}/{filename}"
