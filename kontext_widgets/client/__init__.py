"""The WaveSpeed client: API calls (:mod:`.api`) over a transport (:mod:`.transport`).

>>> from kontext_widgets.client import Client, Timeouts
>>> Timeouts().wait_s
900.0
"""

from __future__ import annotations

from ..simulator.directives import MARKER
from .answers import ENDING_STATUSES, MAX_OUTPUTS
from .api import Client, OnUpdate
from .markers import find_marker
from .media import MAX_OUTPUT_PIXELS, check_image
from .polling import REMOTE_POLL_FLOOR_S, DurationEstimate, DurationMemory, PollPolicy
from .redaction import Redactor
from .retry import MAX_RETRY_AFTER_S, TRANSIENT_STATUSES, RetryPolicy
from .transport import (
    MAX_ANSWER_BYTES,
    MAX_REDIRECTS,
    SIMULATOR_HEADER,
    Answer,
    Call,
    FilePart,
    HttpTransport,
    Timeouts,
    Transport,
)

#: Old private names, kept for the tests that import them.

__all__ = [
    "ENDING_STATUSES",
    "MARKER",
    "MAX_ANSWER_BYTES",
    "MAX_OUTPUTS",
    "MAX_OUTPUT_PIXELS",
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER_S",
    "REMOTE_POLL_FLOOR_S",
    "SIMULATOR_HEADER",
    "TRANSIENT_STATUSES",
    "Answer",
    "Call",
    "Client",
    "DurationEstimate",
    "DurationMemory",
    "FilePart",
    "HttpTransport",
    "OnUpdate",
    "PollPolicy",
    "Redactor",
    "RetryPolicy",
    "Timeouts",
    "Transport",
    "check_image",
    "find_marker",
]
