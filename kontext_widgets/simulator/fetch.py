"""Getting a task's input images: the simulator's own media from disk, the rest over HTTP.

Every way this can go wrong ends in :class:`MediaUnreachable`, which the task
runner turns into a failed task with code 1402, as the service does.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import re
from urllib.parse import urlsplit

import aiohttp
from PIL import Image

from .. import contract
from .state import SimulatorState

_OWN_UPLOAD = re.compile(r"^/media/uploads/([0-9a-f]{32})/[^/]+$")
_OWN_OUTPUT = re.compile(r"^/media/outputs/([0-9a-f]{32})/output\.png$")
_CHUNK = 256 * 1024


class MediaUnreachable(Exception):
    """An input URL gave no usable image; the message says why."""


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("example.com"), is_loopback("10.0.0.1")
    (False, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Fetcher:
    """Fetches input images for one simulator app."""

    def __init__(self, state: SimulatorState, session: aiohttp.ClientSession) -> None:
        self._state = state
        self._session = session

    async def fetch(self, url: str, origin: str) -> bytes:
        """The image bytes behind ``url`` (``origin`` is the submit's scheme://host)."""
        data = await self._own(url, origin)
        if data is None:
            data = await self._remote(url)
        if not await asyncio.to_thread(_looks_like_image, data):
            raise MediaUnreachable(f"{url} is not an image")
        return data

    async def _own(self, url: str, origin: str) -> bytes | None:
        # The simulator's own uploads and outputs are read from disk: no HTTP to itself.
        parts = urlsplit(url)
        own_host = f"{parts.scheme}://{parts.netloc}" == origin or is_loopback(parts.hostname)
        if not own_host:
            return None
        store = self._state.store
        if match := _OWN_UPLOAD.match(parts.path):
            stored = store.upload(match.group(1), max_age_s=self._state.config.retention_s)
            path = stored.path if stored else None
        elif match := _OWN_OUTPUT.match(parts.path):
            path = store.output(match.group(1))
        else:
            return None
        if path is None:
            return None  # maybe another server's media on the same host: try HTTP
        return await asyncio.to_thread(path.read_bytes)

    async def _remote(self, url: str) -> bytes:
        config = self._state.config
        host = urlsplit(url).hostname
        if not config.allow_remote_fetch and not is_loopback(host):
            raise MediaUnreachable(
                f"{url} was not fetched: the simulator fetches only loopback URLs and its own "
                "uploads (allow_remote_fetch is off)"
            )
        timeout = aiohttp.ClientTimeout(total=config.fetch_timeout_s)
        try:
            # With remote fetches off, a loopback URL must not redirect us elsewhere.
            async with self._session.get(
                url, timeout=timeout, allow_redirects=config.allow_remote_fetch, max_redirects=3
            ) as response:
                if response.status != 200:
                    raise MediaUnreachable(f"{url} answered HTTP {response.status}")
                return await _read_capped(response, url)
        except MediaUnreachable:
            raise
        except asyncio.TimeoutError as exc:
            raise MediaUnreachable(
                f"{url} did not answer within {config.fetch_timeout_s:g} s"
            ) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise MediaUnreachable(f"{url} is not reachable ({type(exc).__name__})") from exc


async def _read_capped(response: aiohttp.ClientResponse, url: str) -> bytes:
    limit = contract.MAX_UPLOAD_BYTES
    if (response.content_length or 0) > limit:
        raise MediaUnreachable(f"{url} is larger than {limit // (1024 * 1024)} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise MediaUnreachable(f"{url} is larger than {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _looks_like_image(data: bytes) -> bool:
    """True when Pillow recognises ``data`` as an image (header check, no full decode)."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()
    except Exception:  # Pillow raises many kinds for junk input
        return False
    return True
