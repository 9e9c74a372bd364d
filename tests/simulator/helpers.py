"""Helpers of the simulator tests: plain aiohttp calls over real TCP (no mocks)."""

from __future__ import annotations

import asyncio
import io
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from PIL import Image

from kontext_widgets import contract
from kontext_widgets.simulator.server import RunningSimulator

SUBMIT = contract.SUBMIT_PATH
ENVELOPE_DATA_KEYS = {
    "id",
    "model",
    "outputs",
    "urls",
    "has_nsfw_contents",
    "status",
    "created_at",
    "error",
    "timings",
}
FAST: dict[str, Any] = {"latency_s": 0.05, "output_long_side": 256}

Json = dict[str, Any]
MakeSim = Callable[..., Awaitable[RunningSimulator]]


VALID: Json = {"prompt": "add a hat", "images": ["http://127.0.0.1:9/a.png"]}


# helpers ---------------------------------------------------------------------


def png_bytes(colour: str = "teal", size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    picture = Image.new("RGB", size, colour)
    # Some structure, so crops and placements show in the pixels.
    picture.paste(Image.new("RGB", (size[0] // 3, size[1] // 3), "yellow"), (10, 10))
    picture.save(buf, "PNG")
    return buf.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connecting is refused


async def post_json(
    session: aiohttp.ClientSession, url: str, body: object, **kwargs: Any
) -> tuple[int, Json]:
    async with session.post(url, json=body, **kwargs) as answer:
        return answer.status, await answer.json()


async def get_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Json]:
    async with session.get(url, **kwargs) as answer:
        return answer.status, await answer.json()


async def upload(session: aiohttp.ClientSession, base: str, data: bytes, **kwargs: Any) -> str:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="input.png", content_type="image/png")
    async with session.post(base + contract.UPLOAD_BINARY_PATH, data=form, **kwargs) as answer:
        assert answer.status == 200, await answer.text()
        url: str = (await answer.json())["data"]["download_url"]
    return url


async def submit(
    session: aiohttp.ClientSession, base: str, images: list[str], **fields: Any
) -> Json:
    body = {"prompt": "add a red hat", "images": images, **fields}
    status, answer = await post_json(session, base + SUBMIT, body)
    assert status == 200, answer
    return answer


async def wait_finished(
    session: aiohttp.ClientSession, get_url: str, timeout: float = 10.0
) -> Json:
    deadline = time.monotonic() + timeout
    while True:
        status, answer = await get_json(session, get_url)
        assert status == 200, answer
        if answer["data"]["status"] in ("completed", "failed"):
            return answer["data"]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"still {answer['data']['status']}"
        await asyncio.sleep(0.02)


async def run_to_end(
    session: aiohttp.ClientSession, base: str, images: list[str], **fields: Any
) -> Json:
    answer = await submit(session, base, images, **fields)
    return await wait_finished(session, answer["data"]["urls"]["get"])


async def fetch_bytes(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as answer:
        assert answer.status == 200, url
        return await answer.read()


class Assets:
    """A second local server: images to fetch, junk, and a webhook receiver."""

    def __init__(self) -> None:
        self.url = ""
        self.hooks: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
