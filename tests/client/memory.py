"""An in-memory :class:`~kontext_widgets.client.Transport`: the API logic without a server.

Routes map ``(METHOD, path)`` to a handler that gets the :class:`Call` and returns an
:class:`Answer` (or a JSON-ready value, answered with HTTP 200). Every call is recorded.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from kontext_widgets.client import Answer, Call

Handler = Callable[[Call], Any]


def answer(body: Any, status: int = 200, *, simulated: bool = False, **headers: str) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, raw, headers, simulated)


def png(size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "blue").save(buf, format="PNG")
    return buf.getvalue()


def prediction(pid: str, status: str, **data: Any) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": {"id": pid, "status": status, **data}}


class MemoryTransport:
    """Answers calls from ``routes``; ``calls`` lists every call made, in order."""

    def __init__(self, routes: dict[tuple[str, str], Handler], *, simulated: bool = False) -> None:
        self.routes = routes
        self.simulated = simulated
        self.calls: list[Call] = []
        self.closed = False

    def paths(self, method: str | None = None) -> list[str]:
        return [urlsplit(c.url).path for c in self.calls if method in (None, c.method)]

    async def send(self, call: Call) -> Answer:
        self.calls.append(call)
        key = (call.method, urlsplit(call.url).path)
        handler = self.routes.get(key)
        if handler is None:
            return answer({"code": 404, "message": f"no route {key}"}, 404)
        result = handler(call)
        if isinstance(result, Answer):
            return result
        return answer(result, simulated=self.simulated)

    async def close(self) -> None:
        self.closed = True


def sequence(*results: Any) -> Handler:
    """A handler answering each call with the next result (the last one repeats)."""
    remaining = list(results)

    def handler(call: Call) -> Any:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return handler
