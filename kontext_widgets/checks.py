"""The check of each request value, as the contract allows it.

Each ``check_*`` takes one wire value and returns a :class:`Problem` naming the
field, the value and what is allowed, or None. :mod:`kontext_widgets.fields`
attaches them to the settings; :mod:`kontext_widgets.payload` re-exports them.

>>> check_seed(7) is None, str(check_seed(-2))
(True, 'seed: -2 is not allowed; expected an integer from -1 to 2147483647 (-1 = random)')
"""

from __future__ import annotations

import math
from typing import Final
from urllib.parse import urlsplit

from .contract import (
    ASPECT_RATIOS,
    GUIDANCE_MAX,
    GUIDANCE_MIN,
    MAX_IMAGES,
    MIN_IMAGES,
    SEED_MAX,
    SEED_MIN,
)
from .errors import Problem

PROMPT_ALLOWED: Final = "expected a non-empty edit instruction (a string)"
IMAGES_ALLOWED: Final = f"expected a list of {MIN_IMAGES} to {MAX_IMAGES} images"
IMAGE_ALLOWED: Final = "expected an http(s) URL"
SEED_ALLOWED: Final = f"expected an integer from {SEED_MIN} to {SEED_MAX} (-1 = random)"
GUIDANCE_ALLOWED: Final = f"expected a number from {GUIDANCE_MIN} to {GUIDANCE_MAX}"
ASPECT_RATIO_ALLOWED: Final = "expected one of " + ", ".join(ASPECT_RATIOS)
BOOL_ALLOWED: Final = "expected true or false"


def is_http_url(value: object) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host.

    >>> is_http_url("https://example.com/a.png"), is_http_url("file:///etc/passwd")
    (True, False)
    """
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_prompt(value: object) -> Problem | None:
    if not isinstance(value, str) or not value.strip():
        return Problem("prompt", value, PROMPT_ALLOWED)
    return None


def check_seed(value: object) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or not SEED_MIN <= value <= SEED_MAX:
        return Problem("seed", value, SEED_ALLOWED)
    return None


def check_guidance(value: object) -> Problem | None:
    # The range test comes first: it is exact for any int, where math.isfinite would overflow
    # on a huge one; NaN fails it too (every comparison with NaN is false).
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not GUIDANCE_MIN <= value <= GUIDANCE_MAX
        or not math.isfinite(value)
    ):
        return Problem("guidance_scale", value, GUIDANCE_ALLOWED)
    return None


def check_aspect_ratio(value: object) -> Problem | None:
    if not isinstance(value, str) or value not in ASPECT_RATIOS:
        return Problem("aspect_ratio", value, ASPECT_RATIO_ALLOWED)
    return None


def check_sync_mode(value: object) -> Problem | None:
    return check_bool("enable_sync_mode", value)


def check_bool(name: str, value: object) -> Problem | None:
    """The check of any true-or-false setting (a new boolean field reuses it)."""
    if not isinstance(value, bool):
        return Problem(name, value, BOOL_ALLOWED)
    return None


def check_image_count(count: int) -> Problem | None:
    if not MIN_IMAGES <= count <= MAX_IMAGES:
        return Problem("images", count, IMAGES_ALLOWED, shown=f"{count} images")
    return None


def image_url_problems(images: object) -> list[Problem]:
    """Every problem with the ``images`` of a submit body: a list of 1 to 5 http(s) URLs."""
    if not isinstance(images, list):
        return [Problem("images", images, IMAGES_ALLOWED)]
    problems = [p for p in [check_image_count(len(images))] if p]
    problems += [
        Problem(f"images[{i}]", url, IMAGE_ALLOWED)
        for i, url in enumerate(images)
        if not is_http_url(url)
    ]
    return problems


def check_image_urls(images: object) -> Problem | None:
    """The first problem of :func:`image_url_problems`, if any."""
    problems = image_url_problems(images)
    return problems[0] if problems else None
