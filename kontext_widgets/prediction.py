"""A prediction as the service reports it, and its downloaded output images."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._text import shorten
from .contract import Status
from .errors import ProtocolError

if TYPE_CHECKING:
    from .images import PILImage
    from .request import KontextRequest


@dataclass(frozen=True)
class OutputImage:
    """One downloaded output: its bytes, where they came from, and their hash.

    >>> import io; from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (4, 3)).save(buf, format="PNG")
    >>> OutputImage(url="http://127.0.0.1/o.png", data=buf.getvalue()).to_pil().size
    (4, 3)
    """

    url: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_pil(self) -> PILImage:
        """Decode the image with Pillow (refusing a decompression bomb, as downloads do)."""
        from .images import decode

        return decode(self.data)

    def save(self, path: str | Path) -> Path:
        """Write the bytes unchanged to ``path`` and return it."""
        target = Path(path)
        target.write_bytes(self.data)
        return target


@dataclass(frozen=True)
class Prediction:
    """What the service says about one task, plus what we know locally.

    ``request`` is the request that created it (when this client made it),
    ``images`` the downloaded outputs, ``simulated`` whether it came from the
    offline simulator rather than the real service.

    >>> p = Prediction.from_envelope({"code": 200, "message": "success",
    ...     "data": {"id": "abc", "status": "created", "outputs": []}})
    >>> p.id, p.status.value, p.finished
    ('abc', 'created', False)
    """

    id: str
    status: Status
    model: str = ""
    outputs: tuple[str, ...] = ()
    has_nsfw_contents: tuple[bool, ...] = ()
    error: str = ""
    code: int | None = None
    created_at: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)
    result_url: str = ""
    request: KontextRequest | None = None
    images: tuple[OutputImage, ...] = ()
    simulated: bool = False

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def inference_ms(self) -> float | None:
        value = self.timings.get("inference")
        return float(value) if value is not None else None

    def with_local(self, **changes: Any) -> Prediction:
        """A copy with local facts (request, images, simulated) filled in."""
        return replace(self, **changes)

    @classmethod
    def from_envelope(cls, envelope: object) -> Prediction:
        """Parse the service's ``{"code", "message", "data"}`` answer.

        Raises :class:`~kontext_widgets.errors.ProtocolError` naming what is wrong
        when the answer does not follow the contract (and nothing else, whatever
        JSON comes in).

        >>> Prediction.from_envelope({"code": 200, "data": {"id": "a", "status": "sleeping"}})
        Traceback (most recent call last):
        ...
        kontext_widgets.errors.ProtocolError: prediction a has unknown status 'sleeping'; ...
        """
        if not isinstance(envelope, Mapping):
            raise ProtocolError(
                f"expected a JSON object with 'data', got {_json_type(envelope)}: "
                f"{_shown(envelope)}"
            )
        data = envelope.get("data")
        if not isinstance(data, Mapping):
            raise ProtocolError(
                f"answer has no 'data' object (got {_json_type(data)}: {_shown(data)})"
            )
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Prediction:
        """Parse a prediction's ``data`` object (ProtocolError when it breaks the contract)."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"prediction is not a JSON object: {_shown(data)}")
        pid = data.get("id")
        if not isinstance(pid, str) or not _ID.fullmatch(pid):
            raise ProtocolError(
                f"prediction has no valid 'id': {_shown(pid)} (expected 1 to {MAX_ID_LENGTH} "
                "letters, digits, '.', '_' or '-')"
            )
        raw_status = data.get("status")
        status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
        if status is None:
            raise ProtocolError(
                f"prediction {pid} has unknown status {_shown(raw_status)}; "
                f"expected one of {', '.join(s.value for s in Status)}"
            )
        outputs = _str_list(data.get("outputs"), "outputs", pid)
        nsfw = data.get("has_nsfw_contents") or []
        if not isinstance(nsfw, list) or not all(isinstance(x, bool) for x in nsfw):
            raise ProtocolError(f"prediction {pid} has malformed has_nsfw_contents: {_shown(nsfw)}")
        timings = data.get("timings") or {}
        if not isinstance(timings, Mapping):
            raise ProtocolError(f"prediction {pid} has malformed timings: {_shown(timings)}")
        code = data.get("code")
        urls = data.get("urls") or {}
        return cls(
            id=pid,
            status=status,
            model=_text(data.get("model")),
            outputs=tuple(outputs),
            has_nsfw_contents=tuple(nsfw),
            error=_text(data.get("error"), MAX_ERROR_LENGTH),
            code=code if _is_code(code) else None,
            created_at=_text(data.get("created_at")),
            timings={
                str(k): v for k, raw in timings.items() if (v := finite_number(raw)) is not None
            },
            result_url=_text(urls.get("get")) if isinstance(urls, Mapping) else "",
        )


#: Prediction ids go into URL paths and file names: letters, digits, '.', '_', '-' only.
MAX_ID_LENGTH = 200
_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_LENGTH - 1}}}")
_STATUSES = {s.value: s for s in Status}
#: Longest text kept from the service's free-text fields (an error reason, a model name).
MAX_TEXT_LENGTH = 2_000
MAX_ERROR_LENGTH = 10_000


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def output_key(prediction_id: str, index: int) -> str:
    """The stable key of output ``index`` of a prediction, as the widget and its tiles name it.

    >>> output_key("a1b2", 0)
    'a1b2:0'
    """
    return f"{prediction_id}:{index}"


#: What a tile of a run shows: an output (``done``) or a placeholder saying why not.
TileState = Literal["queued", "uploading", "running", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class Pending:
    """A tile with no output image (yet): queued, uploading, running, failed or cancelled.

    ``id`` is the tile's key (the job's key in the widget); ``request`` gives it the
    same label as the finished tiles beside it and its placeholder's shape.

    >>> Pending("job-1", "queued").state
    'queued'
    """

    id: str
    state: TileState
    request: KontextRequest | None = None
    error: str = ""
    simulated: bool = False


def _shown(value: object, limit: int = 120) -> str:
    """A short, safe rendering of any JSON value for an error message."""
    try:
        text = repr(value)
    except Exception:  # an int over 4300 digits, or nesting deeper than the recursion limit
        text = f"<{_json_type(value)}>"
    return shorten(text, limit, squash=False)


def _text(value: object, limit: int = MAX_TEXT_LENGTH) -> str:
    """A free-text field as a string: strings as they are (capped), null as "", others as JSON."""
    if value is None or value is False:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = f"<{_json_type(value)}>"
    return shorten(text, limit, squash=False)


def finite_number(value: object) -> float | None:
    """A finite float from a JSON number, else None (bools, strings, inf, nan, overflow)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _is_code(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


def _str_list(value: object, name: str, pid: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ProtocolError(f"prediction {pid} has malformed {name}: {_shown(value, 200)}")
    return list(value)
