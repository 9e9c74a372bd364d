"""kontext-widgets: edit images with FLUX.1 Kontext [pro] Multi from Jupyter.

Without ``WAVESPEED_API_KEY`` everything runs against an offline simulator
(results are labelled SIMULATED); with a key, against WaveSpeed's v3 API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import samples
from ._version import __version__
from .client import Client, Timeouts
from .client.polling import PollPolicy
from .client.retry import RetryPolicy
from .contract import ASPECT_RATIOS, PRICE_PER_IMAGE_USD, Code, Status
from .display import show
from .errors import (
    AccountError,
    AuthenticationError,
    BudgetExceededError,
    FrontendBundleMissingError,
    ImageBombError,
    InvalidRequestError,
    KontextError,
    OutputUnavailableError,
    ParameterRejectedError,
    PredictionNotFoundError,
    PredictionTimeoutError,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    StoreError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    UnreadableImageError,
)
from .prediction import OutputImage, Prediction
from .request import KontextRequest
from .store import Store
from .sweeps import SweepResult, sweep

if TYPE_CHECKING:
    from .widget import KontextWidget

__all__ = [
    "ASPECT_RATIOS",
    "PRICE_PER_IMAGE_USD",
    "AccountError",
    "AuthenticationError",
    "BudgetExceededError",
    "Client",
    "Code",
    "FrontendBundleMissingError",
    "ImageBombError",
    "InvalidRequestError",
    "KontextError",
    "KontextRequest",
    "KontextWidget",
    "OutputImage",
    "OutputUnavailableError",
    "ParameterRejectedError",
    "PollPolicy",
    "Prediction",
    "PredictionNotFoundError",
    "PredictionTimeoutError",
    "ProtocolError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RetryPolicy",
    "ServerError",
    "ServiceError",
    "Status",
    "Store",
    "StoreError",
    "SubmitOutcomeUnknownError",
    "SweepResult",
    "TaskFailedError",
    "Timeouts",
    "UnreadableImageError",
    "__version__",
    "samples",
    "show",
    "sweep",
]


def __getattr__(name: str) -> Any:
    # The widget needs the built front end (kontext_widgets/static/); importing it lazily keeps
    # the client, the simulator and the command line usable from a checkout that has not built
    # it, and `from kontext_widgets import KontextWidget` then says how to build it.
    if name == "KontextWidget":
        from .widget import KontextWidget

        return KontextWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
