"""The public names of ``kontext_widgets``: a change here is a change of the API, on purpose."""

from __future__ import annotations

import kontext_widgets as kw

PUBLIC = {
    "ASPECT_RATIOS",
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
    "PRICE_PER_IMAGE_USD",
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
    "StoreError",  # issue 10: store trouble in words
    "Status",
    "Store",
    "SubmitOutcomeUnknownError",
    "SweepResult",
    "TaskFailedError",
    "Timeouts",
    "UnreadableImageError",
    "__version__",
    "samples",
    "show",
    "sweep",
}


def test_all_is_pinned() -> None:
    assert set(kw.__all__) == PUBLIC
    assert len(kw.__all__) == len(PUBLIC), "a name is listed twice in __all__"


def test_every_public_name_resolves() -> None:
    for name in kw.__all__:
        assert getattr(kw, name) is not None, name


def test_every_error_is_exported() -> None:
    # Every error lives in errors.py (issue 9) and is part of the API.
    from kontext_widgets import errors

    raised = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == errors.__name__
    }
    assert raised <= PUBLIC, f"errors not exported: {sorted(raised - PUBLIC)}"
