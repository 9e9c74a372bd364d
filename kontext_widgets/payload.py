"""Checks of the JSON body of a submit, shared by the client and the simulator.

The client runs them before sending (the real service silently drops unknown
keys, so they must be caught here); the simulator runs them to answer HTTP 400
exactly where the service would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .contract import (
    ASPECT_RATIOS,
    GUIDANCE_MAX,
    GUIDANCE_MIN,
    MAX_IMAGES,
    MIN_IMAGES,
    REQUEST_FIELDS,
    REQUIRED_FIELDS,
    SEED_MAX,
    SEED_MIN,
    Code,
)
from .errors import Problem

ALLOWED = {
    "prompt": "expected a non-empty edit instruction (a string)",
    "images": f"expected a list of {MIN_IMAGES} to {MAX_IMAGES} images",
    "image": "expected an http(s) URL",
    "seed": f"expected an integer from {SEED_MIN} to {SEED_MAX} (-1 = random)",
    "guidance_scale": f"expected a number from {GUIDANCE_MIN} to {GUIDANCE_MAX}",
    "aspect_ratio": "expected one of " + ", ".join(ASPECT_RATIOS),
    "enable_sync_mode": "expected true or false",
}


def is_http_url(value: object) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_prompt(value: object) -> Problem | None:
    if not isinstance(value, str) or not value.strip():
        return Problem("prompt", value, ALLOWED["prompt"])
    return None


def check_seed(value: object) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or not SEED_MIN <= value <= SEED_MAX:
        return Problem("seed", value, ALLOWED["seed"])
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
        return Problem("guidance_scale", value, ALLOWED["guidance_scale"])
    return None


def check_aspect_ratio(value: object) -> Problem | None:
    if not isinstance(value, str) or value not in ASPECT_RATIOS:
        return Problem("aspect_ratio", value, ALLOWED["aspect_ratio"])
    return None


def check_sync_mode(value: object) -> Problem | None:
    if not isinstance(value, bool):
        return Problem("enable_sync_mode", value, ALLOWED["enable_sync_mode"])
    return None


def check_image_count(count: int) -> Problem | None:
    if not MIN_IMAGES <= count <= MAX_IMAGES:
        return Problem("images", count, ALLOWED["images"], shown=f"{count} images")
    return None


def check_unknown_keys(fields: Mapping[Any, Any]) -> list[Problem]:
    """Unknown keys are refused: the real service would drop them silently."""
    allowed = "unknown field; allowed fields: " + ", ".join(sorted(REQUEST_FIELDS))
    unknown = sorted(
        ((_name(k), v) for k, v in fields.items() if k not in REQUEST_FIELDS),
        key=lambda kv: kv[0],
    )
    # The value is not echoed: an unknown field is often a misplaced secret (api_key=...),
    # and this message may be shown, logged or saved in a notebook.
    return [Problem(name, f"<{type(value).__name__}>", allowed) for name, value in unknown]


def _name(key: object, limit: int = 80) -> str:
    """An unknown key as a field name for a message: text, at most ``limit`` characters."""
    text = key if isinstance(key, str) else type(key).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_payload(body: object) -> list[Problem]:
    """Every problem with a submit body, in field order; an empty list means valid."""
    if not isinstance(body, Mapping):
        return [Problem("body", type(body).__name__, "expected a JSON object")]
    problems = check_unknown_keys(body)
    for name in sorted(REQUIRED_FIELDS - set(body)):
        problems.append(Problem(name, None, ALLOWED[name], Code.MISSING_PARAMETER))
    if "prompt" in body:
        problems += filter(None, [check_prompt(body["prompt"])])
    if "images" in body:
        images = body["images"]
        if not isinstance(images, list):
            problems.append(Problem("images", images, ALLOWED["images"]))
        else:
            problems += filter(None, [check_image_count(len(images))])
            problems += [
                Problem(f"images[{i}]", url, ALLOWED["image"])
                for i, url in enumerate(images)
                if not is_http_url(url)
            ]
    checks: dict[str, Any] = {
        "seed": check_seed,
        "guidance_scale": check_guidance,
        "aspect_ratio": check_aspect_ratio,
        "enable_sync_mode": check_sync_mode,
    }
    for name, check in checks.items():
        if name in body:
            problems += filter(None, [check(body[name])])
    return problems
