"""Images in and out: the two upload flows, and the check every downloaded output passes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import images
from ..contract import MAX_UPLOAD_BYTES, UPLOAD_BINARY_PATH, UPLOAD_TICKET_PATH
from ..errors import (
    ImageBombError,
    InvalidRequestError,
    ParameterRejectedError,
    Problem,
    ProtocolError,
    UnreadableImageError,
)
from ..payload import is_http_url
from ..request import ImageInput, LocalImage, normalize_image
from .answers import error_for
from .redaction import Redactor
from .transport import Answer, FilePart

if TYPE_CHECKING:
    from .host import ClientHost

log = logging.getLogger("kontext_widgets")

#: Output images with more pixels than this are refused from their header, before decoding
#: (a small file can declare absurd dimensions: a decompression bomb).
MAX_OUTPUT_PIXELS = images.MAX_PIXELS

#: ``send(method, path_or_url, **call options)``: the client's way of making one call.
Send = Callable[..., Awaitable[Answer]]


async def upload_binary(send: Send, image: LocalImage, redactor: Redactor) -> str:
    """``POST /api/v3/media/upload/binary`` with the file; returns its ``download_url``."""
    part = FilePart("file", image.filename, image.content_type, image.data)
    answer = await send("POST", UPLOAD_BINARY_PATH, kind="upload", file=part)
    return download_url(answer, image, redactor)


async def upload_ticket(send: Send, image: LocalImage, redactor: Redactor) -> str:
    """The SDK 2.x flow: ask for a ticket, PUT the bytes where it says, use its ``download_url``."""
    ticket_body = {
        "filename": image.filename,
        "size": len(image.data),
        "content_type": image.content_type,
    }
    answer = await send("POST", UPLOAD_TICKET_PATH, kind="upload", json_body=ticket_body)
    url = download_url(answer, image, redactor)
    data = answer.json()["data"]
    upload = data.get("upload") if isinstance(data, Mapping) else None
    if not isinstance(upload, Mapping) or not is_http_url(upload.get("url")):
        raise ProtocolError(f"upload ticket for {image.name} has no usable upload URL")
    method = str(upload.get("method") or "PUT").upper()
    if method not in ("PUT", "POST"):
        raise ProtocolError(
            f"upload ticket asks for method {redactor.text(method)!r:.40}; expected PUT"
        )
    headers = upload.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ProtocolError("upload ticket headers are not an object")
    put = await send(
        method,
        str(upload["url"]),
        kind="upload",
        raw_body=image.data,
        extra_headers={str(k): str(v) for k, v in headers.items()},
        authorize=False,
    )
    if not 200 <= put.status < 300:
        raise error_for(put, f"upload of {image.name}", redactor)
    return url


async def upload_once(client: ClientHost, image: ImageInput) -> str:
    """Upload a local image once per content and return its URL (URLs pass through)."""
    source = normalize_image(image, "image")
    if isinstance(source, Problem):
        raise InvalidRequestError([source])
    if isinstance(source, str):
        return source
    digest = source.sha256
    if digest in client._uploaded:
        return client._uploaded[digest]
    task = client._uploading.get(digest)
    if task is None:
        # One upload per content even when several runs ask for it at once.
        task = asyncio.ensure_future(_upload_new(client, source))
        client._uploading[digest] = task
        task.add_done_callback(lambda _t: client._uploading.pop(digest, None))
    return await asyncio.shield(task)


async def _upload_new(client: ClientHost, image: LocalImage) -> str:
    flow = upload_binary if client.upload_method == "binary" else upload_ticket
    url = await flow(client._send, image, client._redactor)
    client._uploaded[image.sha256] = url
    log.debug("uploaded %s as %s", image.name, client._redactor.text(url))
    return url


def download_url(answer: Answer, image: LocalImage, redactor: Redactor) -> str:
    if answer.status == 413:
        raise ParameterRejectedError(
            f"upload of {image.name} refused: larger than the service allows "
            f"({len(image.data)} bytes; at most {MAX_UPLOAD_BYTES})",
            status=413,
        )
    if answer.status != 200:
        raise error_for(answer, f"upload of {image.name}", redactor)
    body: Any = answer.json()
    data = body.get("data") if isinstance(body, Mapping) else None
    url = data.get("download_url") if isinstance(data, Mapping) else None
    if not is_http_url(url):
        raise ProtocolError(f"upload of {image.name}: answer has no http(s) download_url")
    return str(url)


def check_image(data: bytes, url: str, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
    """ProtocolError unless ``data`` is an image of sane dimensions (header only, no decode)."""
    try:
        images.inspect(data, max_pixels=max_pixels)
    except ImageBombError as exc:
        if exc.width is not None and exc.height is not None:
            pixels = exc.width * exc.height
            raise ProtocolError(
                f"{url!r:.200} returned an image of {exc.width}×{exc.height} pixels "
                f"({pixels / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:g}): "
                "refused as a possible decompression bomb"
            ) from None
        raise ProtocolError(
            f"{url!r:.200} returned an image with absurd dimensions, refused as a "
            f"decompression bomb ({exc})"
        ) from None
    except UnreadableImageError:
        raise ProtocolError(
            f"{url!r:.200} did not return a readable image ({len(data)} bytes, starting "
            f"{data[:16]!r})"
        ) from None
