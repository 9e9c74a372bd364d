"""Handlers of the media routes: both upload flows and serving uploads and outputs."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image

from .. import contract
from . import envelope, hostile
from .keys import RUNNER, STATE, origin
from .storage import StoredFile, safe_filename

_CHUNK = 256 * 1024
_LIMIT_MB = contract.MAX_UPLOAD_BYTES // (1024 * 1024)
TOO_LARGE = f"file too large: images up to {_LIMIT_MB} MB are accepted"


class _TooLarge(Exception):
    pass


def image_type(data: bytes) -> str | None:
    """The MIME type of an image Pillow can read, or None for anything else.

    >>> buf = io.BytesIO(); Image.new("RGB", (4, 4)).save(buf, "PNG")
    >>> image_type(buf.getvalue()), image_type(b"hello")
    ('image/png', None)
    """
    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind = picture.format
            picture.verify()
    except Exception:  # Pillow raises many kinds for junk input
        return None
    return Image.MIME.get(kind or "", "application/octet-stream")


async def upload_binary(request: web.Request) -> web.Response:
    """POST /api/v3/media/upload/binary, multipart field ``file``."""
    try:
        part = await _file_part(request)
        data = await _read_capped(part) if part is not None else b""
    except _TooLarge:
        return envelope.error(413, TOO_LARGE)
    except (AssertionError, ValueError, LookupError, HttpProcessingError):
        part = None  # not multipart, or malformed (e.g. a NUL byte in a part's headers)
    if part is None:
        return envelope.error(400, "expected a multipart/form-data body with a field 'file'")
    content_type = await asyncio.to_thread(image_type, data)
    if content_type is None:
        return envelope.error(400, "the file is not an image this service can read")
    state = request.app[STATE]
    filename = safe_filename(part.filename or "upload.png")
    token = await asyncio.to_thread(state.store.save_upload, data, filename, content_type)
    url = envelope.upload_url(origin(request), token, filename)
    data_out = {"type": "image", "download_url": url, "filename": filename, "size": len(data)}
    return envelope.respond(envelope.success(data_out))


async def _file_part(request: web.Request) -> BodyPartReader | None:
    reader = await request.multipart()
    part: Any = await reader.next()
    while part is not None and not (isinstance(part, BodyPartReader) and part.name == "file"):
        part = await reader.next()
    return part if isinstance(part, BodyPartReader) else None


async def _read_capped(part: BodyPartReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > contract.MAX_UPLOAD_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def upload_ticket(request: web.Request) -> web.Response:
    """POST /api/v3/media/uploads: reserve a PUT target (the SDK 2.x flow)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return envelope.error(400, "expected a JSON object {filename, size, content_type}")
    filename, size, content_type = body.get("filename"), body.get("size"), body.get("content_type")
    if not isinstance(filename, str) or not filename.strip():
        return envelope.error(400, f"filename: {filename!r} is not allowed; expected a file name")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        return envelope.error(400, f"size: {size!r} is not allowed; expected a byte count above 0")
    if size > contract.MAX_UPLOAD_BYTES:
        return envelope.error(413, TOO_LARGE)
    if not isinstance(content_type, str) or not content_type.startswith("image/"):
        return envelope.error(
            400, f"content_type: {content_type!r} is not allowed; expected an image/* type"
        )
    ticket = request.app[STATE].store.reserve(filename, size, content_type)
    base = origin(request)
    upload = {
        "method": "PUT",
        "url": f"{base}/media/put/{ticket.token}",
        "headers": {"Content-Type": content_type},
    }
    download_url = envelope.upload_url(base, ticket.token, ticket.filename)
    return envelope.respond(envelope.success({"upload": upload, "download_url": download_url}))


async def put_upload(request: web.Request) -> web.Response:
    """PUT /media/put/{token}: the bytes for a reserved upload."""
    store = request.app[STATE].store
    ticket = store.ticket(request.match_info["token"])
    if ticket is None:
        return envelope.error(404, "no open upload with this token")
    cap = min(ticket.size, contract.MAX_UPLOAD_BYTES)
    if (request.content_length or 0) > cap:
        return envelope.error(413, f"body larger than the {ticket.size} bytes announced")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > cap:
            return envelope.error(413, f"body larger than the {ticket.size} bytes announced")
        chunks.append(chunk)
    data = b"".join(chunks)
    if await asyncio.to_thread(image_type, data) is None:
        return envelope.error(400, "the file is not an image this service can read")
    await asyncio.to_thread(store.complete, ticket, data)
    return web.Response(status=200)


async def get_upload(request: web.Request) -> web.StreamResponse:
    """GET /media/uploads/{token}/{filename}"""
    state = request.app[STATE]
    stored: StoredFile | None = state.store.upload(
        request.match_info["token"], max_age_s=state.config.retention_s
    )
    if stored is None or stored.filename != request.match_info["filename"]:
        return envelope.error(404, "no such upload")
    return web.FileResponse(stored.path, headers={"Content-Type": stored.content_type})


async def get_output(request: web.Request) -> web.StreamResponse:
    """GET /media/outputs/{id}/output.png (served as a hostile host would, if the prompt asked)"""
    state = request.app[STATE]
    prediction_id = request.match_info["id"]
    # Deleted, expired or ended without one: no output (as the service deletes them too).
    prediction = request.app[RUNNER].find(prediction_id)
    path = state.store.output(prediction_id) if prediction and prediction.has_output else None
    if prediction is None or path is None:
        return envelope.error(404, "no such output")
    fault = prediction.output_fault
    if fault is not None and "hop" not in request.query:
        prediction.downloads += 1
        state.stats.faults[f"output_{fault.kind}"] += 1
        return await hostile.serve(request, fault, path, prediction.downloads)
    return web.FileResponse(path, headers={"Content-Type": "image/png"})
