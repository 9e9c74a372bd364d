"""Prompt directives that steer one simulated task, for demos and tests.

A prompt may carry ``[simulate:...]`` markers; each holds one or more
comma-separated items:

* ``fail=CODE``   the task fails with that task code (e.g. 5003, 1403, 1200)
* ``moderate``    the task fails with 1200 (content moderation)
* ``nsfw``        the task completes but flags its output (``has_nsfw_contents: [true]``)
* ``latency=S``   the task spends S seconds in ``processing`` instead of the configured latency

Markers are removed from the text drawn on the image. An unknown item is an
error (HTTP 400), so a typo never silently runs a normal task.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..contract import Code

#: Codes a ``fail=`` directive may ask for: every task code of the contract but 0.
FAILURE_CODES: frozenset[int] = frozenset(
    {
        Code.CONTENT_MODERATION,
        Code.MISSING_PARAMETER,
        Code.INVALID_PARAMETER,
        Code.MEDIA_UNREACHABLE,
        Code.EXECUTION_FAILED,
        Code.TASK_FAILED,
        Code.INTERNAL,
        Code.UNAVAILABLE,
        Code.TIMED_OUT,
    }
)
MAX_LATENCY_S = 3600.0

_MARKER = re.compile(r"\[simulate:([^\]]*)\]", re.IGNORECASE)


class DirectiveError(ValueError):
    """A ``[simulate:...]`` marker the simulator does not understand."""


@dataclass(frozen=True)
class Directives:
    """What the markers in one prompt ask for."""

    fail_code: int | None = None
    latency_s: float | None = None
    nsfw: bool = False


def parse(prompt: str) -> Directives:
    """Read every ``[simulate:...]`` marker in ``prompt``.

    >>> parse("make it blue [simulate:fail=5003]")
    Directives(fail_code=5003, latency_s=None, nsfw=False)
    >>> parse("[simulate:latency=2.5, moderate]")
    Directives(fail_code=1200, latency_s=2.5, nsfw=False)
    >>> parse("no markers here")
    Directives(fail_code=None, latency_s=None, nsfw=False)
    >>> parse("[simulate:explode]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kontext_widgets.simulator.directives.DirectiveError: unknown simulator directive 'explode'; ...
    """
    fail_code: int | None = None
    latency_s: float | None = None
    nsfw = False
    for marker in _MARKER.finditer(prompt):
        for raw in marker.group(1).split(","):
            item = raw.strip().lower()
            name, _, value = item.partition("=")
            if name == "fail" and value:
                fail_code = _code(value)
            elif name == "moderate" and not value:
                fail_code = int(Code.CONTENT_MODERATION)
            elif name == "nsfw" and not value:
                nsfw = True
            elif name == "latency" and value:
                latency_s = _latency(value)
            else:
                raise DirectiveError(
                    f"unknown simulator directive {item!r}; "
                    "known: fail=CODE, moderate, nsfw, latency=SECONDS"
                )
    return Directives(fail_code=fail_code, latency_s=latency_s, nsfw=nsfw)


def strip(prompt: str) -> str:
    """``prompt`` without its markers, with spacing tidied.

    >>> strip("make it blue  [simulate:fail=5003] please")
    'make it blue please'
    """
    return " ".join(_MARKER.sub(" ", prompt).split())


def _code(value: str) -> int:
    if value.isdigit() and int(value) in FAILURE_CODES:
        return int(value)
    known = ", ".join(str(c) for c in sorted(FAILURE_CODES))
    raise DirectiveError(f"simulator directive fail={value!r}: expected one of {known}")


def _latency(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0.0 <= seconds <= MAX_LATENCY_S):
        raise DirectiveError(
            f"simulator directive latency={value!r}: expected seconds from 0 to {MAX_LATENCY_S:g}"
        )
    return seconds
