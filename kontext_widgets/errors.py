"""Every error kontext-widgets raises, one class per thing that can go wrong.

All derive from :class:`KontextError`. None of them ever holds the API key or
request headers: they carry only what the user needs to act.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .contract import API_KEY_ENV, RETENTION_DAYS, Code


class KontextError(Exception):
    """Base class of every kontext-widgets error."""


@dataclass(frozen=True)
class Problem:
    """One refused value: which field, what it was, and what is allowed."""

    field: str
    value: Any
    allowed: str
    #: the service's code for it: 1400 missing, 1401 invalid
    code: int = Code.INVALID_PARAMETER
    #: how to show the value when its repr would mislead (e.g. "6 images")
    shown: str = ""

    def plain(self) -> str:
        """How the widget says it: what to do when the value is simply empty, else ``str()``.

        >>> Problem("prompt", "  ", "expected a non-empty edit instruction (a string)").plain()
        'prompt: write an edit instruction first'
        >>> Problem("seed", "x", "expected an integer").plain()
        "seed: 'x' is not allowed; expected an integer"
        """
        todo = _WHEN_EMPTY.get(self.field)
        if todo and (
            self.value is None or (isinstance(self.value, str) and not self.value.strip())
        ):
            return f"{self.field}: {todo}"
        return str(self)

    def __str__(self) -> str:
        if self.code == Code.MISSING_PARAMETER:
            return f"{self.field}: missing; {self.allowed}"
        return (
            f"{self.field}: {self.shown or _short_repr(self.value)} is not allowed; {self.allowed}"
        )


#: What to do about a field left empty, in the words of someone at the widget.
_WHEN_EMPTY: Final = {
    "prompt": "write an edit instruction first",
    "sweep_prompts": "write an edit instruction first",
}


def _short_repr(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # e.g. an int over 4300 digits, or an object whose repr is broken
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InvalidRequestError(KontextError, ValueError):
    """The request was refused before anything was sent (nothing was spent).

    ``problems`` lists every bad field at once, so a form can show them all.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidRequestError needs at least one problem")
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def field(self) -> str:
        return self.problems[0].field

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)


class ServiceError(KontextError):
    """The service answered with an error. ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class AuthenticationError(ServiceError):
    """HTTP 401: the key is missing or wrong."""

    def __init__(self, message: str, *, status: int | None = 401, code: int | None = None) -> None:
        hint = (
            f"{message} (HTTP 401). Set a valid key in the {API_KEY_ENV} environment variable "
            "or pass api_key=... ; without a key kontext-widgets uses its offline simulator."
        )
        super().__init__(hint, status=status, code=code)


class AccountError(ServiceError):
    """HTTP 403 or another 4xx: the account cannot run this (blocked, no balance, ...)."""


class ParameterRejectedError(ServiceError):
    """HTTP 400 with code 1400/1401: the service refused the parameters. Never retried."""


class PredictionNotFoundError(ServiceError):
    """HTTP 404: the service knows no prediction with this id (never made, or expired).

    >>> print(PredictionNotFoundError("abc"))  # doctest: +NORMALIZE_WHITESPACE
    no prediction with id 'abc' (HTTP 404): the id is unknown or the prediction has expired
    (the service deletes predictions and their outputs after 7 days); images already
    downloaded stay in the store
    """

    def __init__(self, prediction_id: str) -> None:
        self.prediction_id = prediction_id
        super().__init__(
            f"no prediction with id {prediction_id!r} (HTTP 404): the id is unknown or the "
            f"prediction has expired (the service deletes predictions and their outputs after "
            f"{RETENTION_DAYS} days); images already downloaded stay in the store",
            status=404,
        )


class OutputUnavailableError(ServiceError):
    """An output URL answered 4xx: the output is gone (outputs are deleted after about 7 days)
    or was never there. Not an account problem: other predictions are unaffected."""


class RateLimitedError(ServiceError):
    """HTTP 429 that persisted through every retry."""


class ServerError(ServiceError):
    """HTTP 5xx that persisted through every retry, or an answer we cannot read."""


class ProtocolError(ServiceError):
    """The service answered something that does not follow the contract."""


class SubmitOutcomeUnknownError(KontextError):
    """A submit got no usable answer: a billed task may exist. It is never resent blindly.

    ``payload`` is the JSON body that was sent and ``sent_at`` when; check the
    service's prediction history before submitting the same request again.
    """

    def __init__(self, reason: str, *, payload: Mapping[str, Any], sent_at: _dt.datetime) -> None:
        self.reason = reason
        self.payload = dict(payload)
        self.sent_at = sent_at
        super().__init__(
            f"the submit sent at {sent_at.isoformat(timespec='seconds')} got no answer ({reason}); "
            "the service may still have created (and billed) the task, so it was not resent. "
            "Check your prediction history before trying again."
        )


class TaskFailedError(KontextError):
    """The prediction ended with ``status: failed``.

    ``code`` is the contract's task code; :attr:`retryable` says whether a
    rerun with the same input may succeed (5xxx) or the input must change (1xxx).
    """

    def __init__(
        self, prediction_id: str, code: int | None, message: str, *, prediction: Any = None
    ) -> None:
        self.prediction_id = prediction_id
        #: the failed :class:`~kontext_widgets.prediction.Prediction`, when known
        self.prediction = prediction
        self.code = code
        self.message = message
        label = _code_label(code)
        super().__init__(
            f"prediction {prediction_id} failed ({label}): {message or 'no reason given'}"
        )

    @property
    def retryable(self) -> bool:
        return self.code is not None and self.code >= 5000


def _code_label(code: int | None) -> str:
    if code is None:
        return "no code"
    try:
        return f"code {code} {Code(code).name.lower().replace('_', ' ')}"
    except ValueError:
        return f"code {code}"


class PredictionTimeoutError(KontextError, TimeoutError):
    """We stopped waiting; the task may still finish. Resume with ``client.wait(prediction_id)``."""

    def __init__(self, prediction_id: str, waited_s: float, last_status: str) -> None:
        self.prediction_id = prediction_id
        self.waited_s = waited_s
        self.last_status = last_status
        super().__init__(
            f"prediction {prediction_id} still {last_status} after {waited_s:.1f} s; "
            f"it may still finish: resume with await client.wait({prediction_id!r})"
        )


class RequestTimeoutError(KontextError, TimeoutError):
    """One HTTP call took longer than its time-out."""


class BudgetExceededError(KontextError):
    """The plan costs more than allowed; nothing was sent.

    >>> print(BudgetExceededError(200, 8.0, 5.0))  # doctest: +ELLIPSIS
    this sweep has 200 cells and would cost $8.00, above the budget of $5.00; nothing was sent...
    """

    def __init__(self, cells: int, cost: float, budget: float) -> None:
        self.cells, self.cost, self.budget = cells, cost, budget
        super().__init__(
            f"this sweep has {cells} cells and would cost ${cost:.2f}, above the budget of "
            f"${budget:.2f}; nothing was sent. Pass max_cost_usd={math.ceil(cost)} (or None) "
            "to allow it, or make an axis shorter."
        )


class StoreError(KontextError):
    """The result store cannot be used: its path, what is wrong and what to do, in words.

    Raised instead of a raw ``sqlite3`` or ``OSError`` traceback; results already paid for
    stay where they are (the message says where).

    >>> print(StoreError("/tmp/s", "is read-only", "make it writable"))
    result store /tmp/s: is read-only; make it writable
    """

    def __init__(self, path: object, problem: str, advice: str) -> None:
        self.path, self.problem, self.advice = str(path), problem, advice
        super().__init__(f"result store {path}: {problem}; {advice}")


class UnreadableImageError(ValueError):
    """The bytes are not an image Pillow can read (the message says how many bytes)."""


class ImageBombError(UnreadableImageError):
    """The image declares absurd dimensions: refused before decoding.

    ``width``, ``height`` and ``limit`` are known when the header was read and
    the pixels passed ``limit``; they are ``None`` when Pillow refused it itself.
    """

    def __init__(
        self, message: str, width: int | None = None, height: int | None = None, limit: int = 0
    ) -> None:
        super().__init__(message)
        self.width, self.height, self.limit = width, height, limit


class FrontendBundleMissingError(FileNotFoundError):
    """The bundled front end (static/widget.js, static/widget.css) is not there."""
