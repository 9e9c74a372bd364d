"""The WaveSpeed v3 contract for FLUX.1 Kontext [pro] Multi, as constants.

The client, the request model and the simulator all read from here, so the
routes, limits and codes exist in exactly one place.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Final

MODEL: Final = "wavespeed-ai/flux-kontext-pro/multi"
DEFAULT_BASE_URL: Final = "https://api.wavespeed.ai"
API_KEY_ENV: Final = "WAVESPEED_API_KEY"
BASE_URL_ENV: Final = "WAVESPEED_BASE_URL"

SUBMIT_PATH: Final = f"/api/v3/{MODEL}"
RESULT_PATH: Final = "/api/v3/predictions/{id}/result"
PREDICTION_PATH: Final = "/api/v3/predictions/{id}"
UPLOAD_BINARY_PATH: Final = "/api/v3/media/upload/binary"
UPLOAD_TICKET_PATH: Final = "/api/v3/media/uploads"
BALANCE_PATH: Final = "/api/v3/balance"
LIST_PATH: Final = "/api/v3/predictions"

#: US dollars charged for one call (one output image).
PRICE_PER_IMAGE_USD: Final = 0.04

MIN_IMAGES: Final = 1
MAX_IMAGES: Final = 5
SEED_MIN: Final = -1
SEED_MAX: Final = 2_147_483_647
RANDOM_SEED: Final = -1
GUIDANCE_MIN: Final = 1.0
GUIDANCE_MAX: Final = 20.0
GUIDANCE_DEFAULT: Final = 3.5
ASPECT_RATIOS: Final = ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
#: Largest image the upload routes accept.
MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024
#: The service stops holding a sync-mode request open after about this long.
SYNC_MODE_TIMEOUT_S: Final = 90.0
#: The docs advise polling about this often; our schedule never waits longer.
ADVISED_POLL_INTERVAL_S: Final = 2.0
#: Predictions and their outputs are deleted after this many days ("what are predictions" docs).
RETENTION_DAYS: Final = 7


class Status(str, Enum):
    """``data.status`` of a prediction.

    >>> Status("completed").finished, Status.PROCESSING.finished
    (True, False)
    """

    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (Status.COMPLETED, Status.FAILED)


class Code(IntEnum):
    """Envelope ``code`` values and task ``data.code`` values from the contract.

    >>> Code(5003).user_retryable, Code.MEDIA_UNREACHABLE.user_retryable
    (True, False)
    """

    OK = 0
    SUCCESS = 200
    CONTENT_MODERATION = 1200
    MISSING_PARAMETER = 1400
    INVALID_PARAMETER = 1401
    MEDIA_UNREACHABLE = 1402
    EXECUTION_FAILED = 1403
    TASK_FAILED = 1405
    INTERNAL = 5000
    UNAVAILABLE = 5003
    TIMED_OUT = 5004

    @property
    def user_retryable(self) -> bool:
        """5xxx codes may succeed on a rerun; 1xxx need changed input."""
        return self >= 5000
