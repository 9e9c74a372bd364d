"""Checks of the JSON body of a submit, shared by the client and the simulator.

The client runs them before sending (the real service silently drops unknown
keys, so they must be caught here); the simulator runs them to answer HTTP 400
exactly where the service would. The fields and their checks come from
:data:`kontext_widgets.fields.FIELDS`.

>>> [str(p) for p in check_payload({"prompt": "x", "images": ["https://e.org/a.png"], "seed": -2})]
['seed: -2 is not allowed; expected an integer from -1 to 2147483647 (-1 = random)']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from . import fields as _fields
from .checks import (
    IMAGE_ALLOWED,
    check_aspect_ratio,
    check_guidance,
    check_image_count,
    check_prompt,
    check_seed,
    check_sync_mode,
    is_http_url,
)
from .contract import Code
from .errors import Problem

__all__ = [
    "ALLOWED",
    "check_aspect_ratio",
    "check_guidance",
    "check_image_count",
    "check_payload",
    "check_prompt",
    "check_seed",
    "check_sync_mode",
    "check_unknown_keys",
    "is_http_url",
]

#: What each field allows, in words (``"image"``: one item of ``images``).
ALLOWED: dict[str, str] = {f.name: f.allowed for f in _fields.FIELDS} | {"image": IMAGE_ALLOWED}


def check_unknown_keys(given: Mapping[Any, Any], known: Collection[str] = ()) -> list[Problem]:
    """Unknown keys are refused: the real service would drop them silently.

    ``known`` defaults to the settings' keywords (a request's; a body passes its JSON keys).
    """
    known = known or _fields.names()
    allowed = "unknown field; allowed fields: " + ", ".join(sorted(known))
    unknown = sorted(
        ((_name(k), v) for k, v in given.items() if k not in known),
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
    wired = list(_fields.wire_fields())
    problems = check_unknown_keys(body, [f.wire for f in wired if f.wire])
    for f in sorted((f for f in wired if f.required and f.wire not in body), key=lambda f: f.name):
        problems.append(Problem(f.name, None, f.allowed, Code.MISSING_PARAMETER))
    for f in wired:
        if f.wire in body:
            problems += f.all_problems(body[f.wire])
    return problems
