"""Output images: downloaded through the client's concurrency limit, each checked."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..errors import KontextError, OutputUnavailableError, ProtocolError
from ..payload import is_http_url
from ..prediction import OutputImage, Prediction
from . import media
from .answers import error_for, message_of

if TYPE_CHECKING:
    from .host import ClientHost


async def download(client: ClientHost, url: str) -> bytes:
    """Fetch one output image: size-capped, redirects only to http(s), checked to be an image.

    Never sends the API key (output hosts are not the service). At most
    ``max_concurrency`` downloads run at once. Raises :class:`ProtocolError` for
    anything that is not a sane image, and :class:`RequestTimeoutError` when the
    host stalls.
    """
    if not is_http_url(url):
        raise ProtocolError(
            f"output URL {client._redactor.text(url)!r:.200} is not an http(s) URL; "
            "refusing to fetch it"
        )
    try:
        async with client._download_slots.get():
            answer = await client._send(
                "GET",
                url,
                kind="download",
                authorize=False,
                cap_bytes=client.max_download_bytes,
                follow_redirects=True,
            )
        if 400 <= answer.status < 500:
            # No key goes to output hosts, so a 4xx here is never about the account: the
            # output expired, was deleted or never existed. Other predictions go on.
            raise OutputUnavailableError(
                f"download of {url!r:.200}: HTTP {answer.status} "
                f"({message_of(answer, client._redactor)}); outputs are kept only for a while "
                "(about 7 days): download them promptly",
                status=answer.status,
            )
        if answer.status != 200:
            raise error_for(answer, f"download of {url}", client._redactor)
        media.check_image(answer.body, url, client.max_output_pixels)
    except KontextError as exc:
        raise client._redactor.exception(exc) from None
    return answer.body


async def download_all(client: ClientHost, prediction: Prediction) -> Prediction:
    """A copy of ``prediction`` with every output downloaded into ``images``."""
    tasks = [asyncio.ensure_future(download(client, u)) for u in prediction.outputs]
    try:
        datas = await asyncio.gather(*tasks)
    except BaseException:
        # One refused output ends the lot: stop the other downloads instead of orphaning them.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    pairs = zip(prediction.outputs, datas, strict=True)
    images = tuple(OutputImage(url=u, data=d) for u, d in pairs)
    return prediction.with_local(images=images)
