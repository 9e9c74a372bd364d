"""kontext-widgets: edit images with FLUX.1 Kontext [pro] Multi from Jupyter.

Without ``WAVESPEED_API_KEY`` everything runs against an offline simulator
(results are labelled SIMULATED); with a key, against WaveSpeed's v3 API.
"""

from __future__ import annotations

from . import samples
from ._version import __version__
from .client import Client, Timeouts
from .contract import ASPECT_RATIOS, PRICE_PER_IMAGE_USD, Code, Status
from .errors import (
    AccountError,
    AuthenticationError,
    InvalidRequestError,
    KontextError,
    ParameterRejectedError,
    PredictionNotFoundError,
    PredictionTimeoutError,
    ProtocolError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from .gallery import show
from .polling import PollPolicy
from .prediction import OutputImage, Prediction
from .request import KontextRequest
from .retry import RetryPolicy

__all__ = [
    "ASPECT_RATIOS",
    "PRICE_PER_IMAGE_USD",
    "AccountError",
    "AuthenticationError",
    "Client",
    "Code",
    "InvalidRequestError",
    "KontextError",
    "KontextRequest",
    "OutputImage",
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
    "SubmitOutcomeUnknownError",
    "TaskFailedError",
    "Timeouts",
    "__version__",
    "samples",
    "show",
]
