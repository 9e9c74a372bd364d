"""The check of each request value, as the contract allows it.

Each ``check_*`` takes one wire value and returns a :class:`Problem` naming the
field, the value and what is allowed, or None. :mod:`kontext_widgets.fields`
attaches them to the settings; :mod:`kontext_widgets.payload` re-exports them.

>>> check_seed(7) is None, str(check_seed(-2))
(True, 'seed: -2 is not allowed; expected an integer from -1 to 2147483647 (-1 = random)')
"""

from __future__ import annotations

import math
import unicodedata
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
PROMPT_UTF8_ALLOWED: Final = (
    "expected text that encodes as UTF-8 (character {position} is a lone surrogate, e.g. "
    "from bytes that are not UTF-8)"
)
PROMPT_VISIBLE_ALLOWED: Final = (
    "expected an edit instruction with visible text (it holds only control or invisible "
    "format characters)"
)
URL_CREDENTIALS_ALLOWED: Final = (
    "expected a URL without a user name or password (they would be kept in the store, "
    "exports and displays); make the image reachable without them, or pass a local file"
)


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
    """The prompt: text that encodes as UTF-8, with something left after control characters.

    >>> str(check_prompt("night\\udcff"))  # a byte argv could not decode (surrogateescape)
    ... # doctest: +ELLIPSIS
    "prompt: 'night\\\\udcff' is not allowed; expected text that encodes as UTF-8 ..."
    >>> str(check_prompt("\\u200b\\x07 "))  # doctest: +ELLIPSIS
    "prompt: '\\\\u200b\\\\x07 ' is not allowed; expected an edit instruction with visible text..."
    """
    if not isinstance(value, str) or not value.strip():
        return Problem("prompt", value, PROMPT_ALLOWED)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Problem("prompt", value, PROMPT_UTF8_ALLOWED.format(position=exc.start))
    if not "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf")).strip():
        return Problem("prompt", value, PROMPT_VISIBLE_ALLOWED)
    return None


def url_credentials_problem(field: str, value: object) -> Problem | None:
    """A URL carrying ``user:password@`` is refused; the Problem shows it without them.

    >>> str(url_credentials_problem("images[0]", "https://me:hunter2@example.com/a.png"))
    ... # doctest: +ELLIPSIS
    "images[0]: 'https://***@example.com/a.png' is not allowed; expected a URL without..."
    >>> url_credentials_problem("images[0]", "https://example.com/a.png") is None
    True
    """
    if not isinstance(value, str) or "@" not in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.username is None and parts.password is None:
        return None
    host = parts.netloc.rpartition("@")[2]
    shown = parts._replace(netloc=f"***@{host}").geturl()
    return Problem(field, shown, URL_CREDENTIALS_ALLOWED)


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
    for i, url in enumerate(images):
        if not is_http_url(url):
            problems.append(Problem(f"images[{i}]", url, IMAGE_ALLOWED))
        elif found := url_credentials_problem(f"images[{i}]", url):
            problems.append(found)
    return problems


def check_image_urls(images: object) -> Problem | None:
    """The first problem of :func:`image_url_problems`, if any."""
    problems = image_url_problems(images)
    return problems[0] if problems else None
