"""A prediction as the service reports it, and its downloaded output images."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contract import Status
from .errors import ProtocolError

if TYPE_CHECKING:
    from PIL import Image

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

    def to_pil(self) -> Image.Image:
        """Decode the image with Pillow."""
        from PIL import Image

        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image

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
        when the answer does not follow the contract.
        """
        if not isinstance(envelope, Mapping):
            raise ProtocolError(f"expected a JSON object, got {type(envelope).__name__}")
        data = envelope.get("data")
        if not isinstance(data, Mapping):
            raise ProtocolError("answer has no 'data' object")
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Prediction:
        pid = data.get("id")
        if not isinstance(pid, str) or not pid:
            raise ProtocolError(f"prediction has no valid 'id': {pid!r}")
        raw_status = data.get("status")
        try:
            status = Status(raw_status)
        except ValueError:
            raise ProtocolError(
                f"prediction {pid} has unknown status {raw_status!r}; "
                f"expected one of {', '.join(s.value for s in Status)}"
            ) from None
        outputs = _str_list(data.get("outputs"), "outputs", pid)
        nsfw = data.get("has_nsfw_contents") or []
        if not isinstance(nsfw, list) or not all(isinstance(x, bool) for x in nsfw):
            raise ProtocolError(f"prediction {pid} has malformed has_nsfw_contents: {nsfw!r}")
        timings = data.get("timings") or {}
        if not isinstance(timings, Mapping):
            raise ProtocolError(f"prediction {pid} has malformed timings: {timings!r}")
        code = data.get("code")
        urls = data.get("urls") or {}
        return cls(
            id=pid,
            status=status,
            model=str(data.get("model") or ""),
            outputs=tuple(outputs),
            has_nsfw_contents=tuple(nsfw),
            error=str(data.get("error") or ""),
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            created_at=str(data.get("created_at") or ""),
            timings={
                k: float(v)
                for k, v in timings.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            },
            result_url=str(urls.get("get") or "") if isinstance(urls, Mapping) else "",
        )


def _str_list(value: object, name: str, pid: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ProtocolError(f"prediction {pid} has malformed {name}: {value!r:.200}")
    return list(value)
