"""Hostile output hosts: how the simulator serves an output a ``[simulate:...]`` directive spoiled.

Each mode is something a broken or malicious output host can do to a client that
downloads from it (see :mod:`.directives` for the markers): a body that is not an
image, a decompression bomb, an endless body, a stall mid-body, a cut connection,
and redirects to places a client must not follow.
"""

from __future__ import annotations

import asyncio
import functools
import math
import struct
import zlib
from pathlib import Path

from aiohttp import web

from .directives import OutputFault

_CHUNK = 64 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOT_AN_IMAGE = (
    b"<!doctype html><html><body><h1>502 Bad Gateway</h1>"
    b"<p>simulated: this output host answered a web page, not an image</p></body></html>\n"
)


async def serve(
    request: web.Request, fault: OutputFault, path: Path, attempt: int
) -> web.StreamResponse:
    """The answer to GET of an output whose prompt asked for ``fault``."""
    if fault.kind == "not_image":
        return web.Response(body=NOT_AN_IMAGE, content_type="image/png")
    if fault.kind == "bomb":
        data = await asyncio.to_thread(bomb_png, int(fault.value or 64))
        return web.Response(body=data, content_type="image/png")
    if fault.kind == "redirect":
        return _redirect(request, str(fault.value))
    if fault.kind == "huge":
        return await _endless(request, int(fault.value or 256) * 1024 * 1024)
    data = await asyncio.to_thread(path.read_bytes)
    if fault.kind == "stall":
        return await _stall(request, data, float(fault.value or 3600))
    if fault.kind == "cut" and (fault.value is None or attempt <= int(fault.value)):
        return await _cut(request, data)
    return web.Response(body=data, content_type="image/png")


def _redirect(request: web.Request, kind: str) -> web.Response:
    own = request.url.with_query({"hop": "1"})
    targets = {
        "ftp": str(own.with_scheme("ftp").with_port(None)),
        "file": "file:///etc/passwd",
        "data": "data:image/png;base64,iVBORw0KGgo=",
        "javascript": "javascript:alert(document.cookie)",
        "nohost": f"http:///{request.path.lstrip('/')}?hop=1",
        "loop": str(request.url),
        "ok": str(own),
    }
    return web.Response(status=302, headers={"Location": targets[kind]})


async def _endless(request: web.Request, size: int) -> web.StreamResponse:
    """``size`` bytes starting like a PNG, chunked (no Content-Length), until the client leaves."""
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    block = bytes(_CHUNK)
    sent = 0
    try:
        await response.write(_PNG_SIGNATURE)
        while sent < size:
            await response.write(block)
            sent += len(block)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client stopped reading, as it should
    return response


async def _half_body(request: web.Request, data: bytes) -> tuple[web.StreamResponse, bool]:
    """Half the body under the full Content-Length; False when the client already left."""
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.content_length = len(data)
    await response.prepare(request)
    try:
        await response.write(data[: len(data) // 2])
    except (ConnectionError, RuntimeError):
        return response, False
    return response, True


async def _stall(request: web.Request, data: bytes, seconds: float) -> web.StreamResponse:
    """Half the body with the full Content-Length, then silence until ``seconds`` or hang-up."""
    response, connected = await _half_body(request, data)
    if not connected:
        return response
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.abort()  # never finish the body: the client must give up by itself
    return response


async def _cut(request: web.Request, data: bytes) -> web.StreamResponse:
    """Half the body with the full Content-Length, then the connection is cut."""
    response, connected = await _half_body(request, data)
    if not connected:
        return response
    if request.transport is not None:
        request.transport.abort()
    return response


@functools.lru_cache(maxsize=4)
def bomb_png(megapixels: int) -> bytes:
    """A valid 1-bit greyscale PNG of about ``megapixels`` million pixels, all black.

    It decodes to that many bytes in Pillow (one per pixel) yet is a few hundred
    kilobytes at most: a decompression bomb whose danger is all in its header.

    >>> import io
    >>> from PIL import Image
    >>> data = bomb_png(1)
    >>> len(data) < 2_000, Image.open(io.BytesIO(data)).size
    (True, (1000, 1000))
    """
    side = math.ceil(math.sqrt(megapixels * 1_000_000))
    row = b"\0" + bytes(math.ceil(side / 8))  # filter byte "None", then the packed bits
    packer = zlib.compressobj(9)
    rows_per_block = max(1, (1024 * 1024) // len(row))
    block = row * rows_per_block
    parts = []
    left = side
    while left > 0:
        n = min(rows_per_block, left)
        parts.append(packer.compress(block if n == rows_per_block else row * n))
        left -= n
    parts.append(packer.flush())
    idat = b"".join(parts)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return _PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
