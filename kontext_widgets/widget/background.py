"""Work the widget runs in tasks: the guard that shows every error, and the balance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from ..engine.cells import describe_error
from ..errors import InvalidRequestError
from .host import Host, show_problems

__all__ = ["fetch_balance", "guard"]

log = logging.getLogger("kontext_widgets")

T = TypeVar("T")


async def guard(host: Host, work: Awaitable[T]) -> T:
    """Run work so that no exception is lost: shown in the widget and logged, then raised."""
    try:
        return await work
    except asyncio.CancelledError:
        raise
    except InvalidRequestError as exc:
        show_problems(host, list(exc.problems))
        raise
    except Exception as exc:
        log.exception("the Generate failed")
        host.error = describe_error(exc)
        raise


async def fetch_balance(host: Host) -> None:
    """Read the account's balance into the ``balance`` trait (errors shown, not raised)."""
    client = host.client
    try:
        balance = await client.balance()
    except Exception as exc:
        log.warning("could not read the balance: %s", describe_error(exc))
        host.error = f"could not read the balance: {describe_error(exc)}"
        return
    host.simulated = client.simulated
    host.balance = None if client.simulated else balance
