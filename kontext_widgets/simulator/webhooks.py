"""Webhook delivery: POST the finished prediction, signed as the contract describes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp


def signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """``v3,<hex HMAC-SHA256>`` over ``f"{id}.{timestamp}.{body}"``, keyed without ``whsec_``.

    >>> signature("whsec_abc", "id1", "1700000000", b"{}")[:3]
    'v3,'
    """
    key = secret.removeprefix("whsec_").encode()
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v3," + hmac.new(key, message, hashlib.sha256).hexdigest()


async def deliver(
    session: aiohttp.ClientSession, url: str, data: dict[str, Any], secret: str
) -> bool:
    """POST ``data`` to ``url``; True on a 2xx answer. Never raises for network trouble."""
    body = json.dumps(data).encode()
    webhook_id = secrets.token_hex(16)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            return 200 <= response.status < 300
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
        return False
