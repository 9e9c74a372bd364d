"""Helpers of the widget tests: the widget as the front end drives it, and what it sends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from typing import Any

from kontext_widgets import KontextWidget, RetryPolicy, samples

SECRET = "ws_widget_key_that_must_never_leak_0123456789"
FAST_RETRY = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02, max_retry_after_s=0.02)
DATA_URI = re.compile(r"data:image/([a-z+]+);base64,([A-Za-z0-9+/=]+)")
PERSON = samples.path("person")
SHOES = samples.path("shoes")
LANDSCAPE = samples.path("landscape")


class Recording(KontextWidget):
    """The widget, with what it sends to the front end recorded (answers travel only so)."""

    sent: list[tuple[dict[str, Any], list[bytes]]]

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        if not hasattr(self, "sent"):
            self.sent = []
        self.sent.append((content, list(buffers or [])))
        super().send(content, buffers)


WidgetFactory = Callable[..., Recording]


def from_front_end(
    widget: KontextWidget, content: dict[str, Any], buffers: Iterable[bytes] = ()
) -> None:
    """A custom message exactly as it arrives from the browser (the comm message shape)."""
    message = {
        "content": {"data": {"method": "custom", "content": content}},
        "buffers": [memoryview(b) for b in buffers],
    }
    widget._handle_msg(message)


def edit(widget: KontextWidget, **state: Any) -> None:
    """Trait edits exactly as the front end syncs them."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the widget")
        await asyncio.sleep(0.01)


async def settled(widget: KontextWidget) -> None:
    await until(lambda: not widget.busy)


def states(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["state"] for job in jobs]


def answers(widget: Recording, kind: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    return [(c, b) for c, b in getattr(widget, "sent", []) if c.get("type") == kind]
