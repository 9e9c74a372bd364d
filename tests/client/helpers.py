"""Helpers shared by the client's real-TCP tests."""

from __future__ import annotations

import socket
from typing import Any

from kontext_widgets import Client, KontextRequest, RetryPolicy

from ..conftest import png_bytes

FAST_RETRY = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05, max_retry_after_s=0.05)
SECRET = "ws_test_key_that_must_never_leak_0123456789"


def client_for(server: Any, **options: Any) -> Client:
    options.setdefault("retry", FAST_RETRY)
    return Client(base_url=server.url, **options)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(prompt: str = "x") -> KontextRequest:
    return KontextRequest.build(prompt=prompt, images=[png_bytes()])
