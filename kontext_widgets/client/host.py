"""What the client's helper modules see of a :class:`~kontext_widgets.client.api.Client`.

The helpers (uploads, downloads, account calls, waiting, marker checks) take this
Protocol rather than the class, so ``api`` imports them and none of them imports
``api`` back: no import cycle, type-only ones included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from ..prediction import Prediction
from .polling import DurationEstimate, PollPolicy
from .redaction import Redactor
from .slots import LoopSlots
from .transport import Answer, Kind


class ClientHost(Protocol):
    """The attributes and calls of ``Client`` that its helper modules use."""

    _redactor: Redactor
    _uploaded: dict[str, str]
    _uploading: dict[str, asyncio.Future[str]]
    _download_slots: LoopSlots
    upload_method: Literal["binary", "ticket"]
    max_download_bytes: int
    max_output_pixels: int
    duration: DurationEstimate
    poll: PollPolicy
    poll_times: dict[str, list[float]] | None

    @property
    def base_url(self) -> str: ...

    @property
    def simulated(self) -> bool: ...

    @property
    def scope(self) -> str: ...

    async def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: Kind,
        extra_headers: Mapping[str, str] | None = ...,
        authorize: bool = ...,
        timeout_s: float | None = ...,
        cap_bytes: int = ...,
        **options: Any,
    ) -> Answer: ...

    async def balance(self) -> float: ...

    async def get(self, prediction_id: str) -> Prediction: ...
