"""Reading the service's answers: predictions, every documented status, and errors.

Data is read from the answer exactly as decoded; text meant for people goes through
the :class:`~.redaction.Redactor` first (see that module for why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..contract import Code, Status
from ..errors import (
    AccountError,
    AuthenticationError,
    ParameterRejectedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TaskFailedError,
)
from ..prediction import Prediction
from .redaction import Redactor
from .transport import Answer

#: This model returns one output per prediction; an answer listing more than this many is
#: refused (10,000 listed outputs would otherwise mean 10,000 downloads).
MAX_OUTPUTS = 4
#: Statuses the official SDK (2.0.5) also ends a wait on, as failures. ``timeout`` is the
#: service's time-out (code 5004, worth a rerun); ``cancelled`` and ``deleted`` mean someone
#: stopped or removed the task.
ENDING_STATUSES: Mapping[str, int | None] = {
    "cancelled": None,
    "timeout": int(Code.TIMED_OUT),
    "deleted": None,
}
#: Free-text fields of a prediction: shown to people, so redacted.
_TEXT_FIELDS = ("error", "model", "created_at")


def parse_prediction(envelope: object, redactor: Redactor, what: str = "") -> Prediction:
    """A :class:`Prediction` from a decoded answer; ProtocolError (redacted) when it is off.

    ``cancelled``, ``timeout`` and ``deleted`` become ``failed`` with the status named
    in ``error``, so every caller that handles a failed task handles them too.

    >>> p = parse_prediction({"data": {"id": "a1", "status": "cancelled"}}, Redactor(None))
    >>> p.status.value, p.error
    ('failed', "the service ended the task as 'cancelled'")
    """
    failure: ProtocolError | None
    try:
        prediction = Prediction.from_envelope(_readable(envelope, redactor))
    except ProtocolError as exc:
        failure = exc
    else:
        failure = None
    if failure is not None:
        # Raised outside the handler: the unredacted error must not ride along as __context__.
        raise _shown_error(envelope, redactor, what, failure)
    if len(prediction.outputs) > MAX_OUTPUTS:
        raise ProtocolError(
            f"{what or 'answer'}: prediction {redactor.text(prediction.id)} lists "
            f"{len(prediction.outputs)} outputs; this model returns one, and at most "
            f"{MAX_OUTPUTS} are accepted"
        )
    return prediction


def _readable(envelope: object, redactor: Redactor) -> object:
    """The envelope with its text fields redacted and ending statuses made ``failed``."""
    if not isinstance(envelope, Mapping):
        return envelope
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        return envelope
    data = dict(data)
    for name in _TEXT_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = redactor.text(data[name])
    status = data.get("status")
    if isinstance(status, str) and status in ENDING_STATUSES:
        reason = f"the service ended the task as {status!r}"
        data["error"] = f"{reason}: {data['error']}" if data.get("error") else reason
        data["status"] = Status.FAILED.value
        if data.get("code") in (None, 0):
            data["code"] = ENDING_STATUSES[status]
    return {**envelope, "data": data}


def _shown_error(
    envelope: object, redactor: Redactor, what: str, raw: ProtocolError
) -> ProtocolError:
    # The message is rebuilt from a redacted copy, so values are redacted *before* the
    # parser shortens them: no piece of the key survives a cut.
    try:
        Prediction.from_envelope(redactor.tree(envelope))
    except ProtocolError as exc:
        message = str(exc)
    else:
        message = redactor.text(str(raw))
    if what and not message.startswith(what):
        message = f"{what}: {message}"
    return ProtocolError(message)


def sync_timed_out(envelope: object) -> bool:
    """True for the 5004 hand-over of sync mode (``code`` at the top level or in ``data``).

    >>> sync_timed_out({"code": 200, "data": {"code": 5004, "status": "processing"}})
    True
    """
    if not isinstance(envelope, Mapping):
        return False
    data = envelope.get("data")
    inner = data.get("code") if isinstance(data, Mapping) else None
    status = data.get("status") if isinstance(data, Mapping) else None
    timed_out = Code.TIMED_OUT.value in (envelope.get("code"), inner)
    return timed_out and status != Status.FAILED.value


def task_failed(prediction: Prediction, redactor: Redactor) -> TaskFailedError:
    """The error for a failed prediction: its id, code and reason (the text redacted)."""
    error = TaskFailedError(prediction.id, prediction.code, prediction.error, prediction=prediction)
    redactor.exception(error)
    return error


def message_of(answer: Answer, redactor: Redactor) -> str:
    """The service's message in an answer, redacted, at most 500 characters."""
    body = answer.json()
    message = body.get("message") if isinstance(body, Mapping) else None
    if isinstance(message, str) and message:
        return redactor.text(message)[:500]
    return redactor.body(answer.body, 300).strip() or "no message"


def envelope_of(answer: Answer, what: str, redactor: Redactor) -> Any:
    """The decoded body, or a ProtocolError saying the answer is not JSON at all."""
    body = answer.json()
    if body is None and answer.body.strip() != b"null":
        start = redactor.body(answer.body, 80)
        raise ProtocolError(
            f"{what}: the answer (HTTP {answer.status}, {len(answer.body)} bytes) is not JSON; "
            f"it starts with {start!r}"
        )
    return body


def error_for(answer: Answer, what: str, redactor: Redactor) -> ServiceError:
    """The error an unwanted HTTP status stands for, with the service's message."""
    body = answer.json()
    code = body.get("code") if isinstance(body, Mapping) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = f"{what}: {message_of(answer, redactor)}"
    status = answer.status
    tries = f", gave up after {answer.attempts} tries" if answer.attempts > 1 else ""
    if status == 401:
        return AuthenticationError(message, code=code)
    if status == 400:
        return ParameterRejectedError(
            f"{message} (HTTP 400, code {code})", status=status, code=code
        )
    if status == 429:
        return RateLimitedError(
            f"{message} (HTTP 429, still refused after retries{tries})", status=status, code=code
        )
    if 400 <= status < 500:
        return AccountError(f"{message} (HTTP {status})", status=status, code=code)
    return ServerError(f"{message} (HTTP {status}{tries})", status=status, code=code)
