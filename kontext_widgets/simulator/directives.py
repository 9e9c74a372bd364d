"""Prompt directives that steer one simulated task, for demos and tests.

A prompt may carry ``[simulate:...]`` markers; each holds one or more
comma-separated items:

* ``fail=CODE``   the task fails with that task code (e.g. 5003, 1403, 1200)
* ``moderate``    the task fails with 1200 (content moderation)
* ``nsfw``        the task completes but flags its output (``has_nsfw_contents: [true]``)
* ``latency=S``   the task spends S seconds in ``processing`` instead of the configured latency
* ``status=END``  after its latency the task ends ``cancelled``, ``timeout`` or ``deleted``
  (statuses the official SDK ends a wait on), with no output

Hostile outputs: the task completes normally, but downloading its output (GET
``/media/outputs/{id}/output.png``) meets trouble, as a broken or malicious output
host would serve it. At most one per prompt (the last one wins):

* ``not_image``        the body is HTML, not an image (still sent as ``image/png``)
* ``bomb[=MP]``        a small, valid PNG whose header declares MP megapixels (default 64,
  at most 1000): a decompression bomb
* ``huge[=MB]``        MB megabytes (default 256, at most 4096) of PNG-looking bytes, chunked,
  without a Content-Length
* ``stall[=S]``        half the body (with the full Content-Length), then silence for S seconds
  (default 3600) or until the client hangs up
* ``cut[=N]``          half the body, then the connection is cut; only the first N downloads
  (default: every one), so ``cut=1`` tests a retry that then succeeds
* ``redirect=KIND``    a 302 to: ``ftp`` (ftp://), ``file`` (file:///etc/passwd), ``data``
  (a data: URL), ``javascript``, ``nohost`` (``http:///…``), ``loop`` (itself, forever)
  or ``ok`` (the real output, once)

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
#: The kinds of hostile output and the largest value each accepts.
OUTPUT_LIMITS: dict[str, float] = {"bomb": 1000, "huge": 4096, "stall": 3600, "cut": 1_000_000}
OUTPUT_DEFAULTS: dict[str, float | None] = {"bomb": 64, "huge": 256, "stall": 3600, "cut": None}
REDIRECT_KINDS = ("ftp", "file", "data", "javascript", "nohost", "loop", "ok")
#: The ends a ``status=`` directive may ask for.
END_STATUSES = ("cancelled", "timeout", "deleted")

#: The marker syntax, ``[simulate:ITEM, ITEM…]`` in any case; the client refuses to send it
#: to the real service, so both read it from here.
MARKER = re.compile(r"\[simulate:([^\]]*)\]", re.IGNORECASE)


class DirectiveError(ValueError):
    """A ``[simulate:...]`` marker the simulator does not understand."""


@dataclass(frozen=True)
class OutputFault:
    """How the output of one task is served: ``kind`` and its value (see the module doc).

    >>> OutputFault("bomb", 64)
    OutputFault(kind='bomb', value=64)
    """

    kind: str
    value: float | str | None = None


@dataclass(frozen=True)
class Directives:
    """What the markers in one prompt ask for."""

    fail_code: int | None = None
    latency_s: float | None = None
    nsfw: bool = False
    output: OutputFault | None = None
    end_status: str | None = None


def parse(prompt: str) -> Directives:
    """Read every ``[simulate:...]`` marker in ``prompt``.

    >>> parse("make it blue [simulate:fail=5003]")
    Directives(fail_code=5003, latency_s=None, nsfw=False, output=None, end_status=None)
    >>> parse("[simulate:latency=2.5, moderate]")
    Directives(fail_code=1200, latency_s=2.5, nsfw=False, output=None, end_status=None)
    >>> parse("no markers here")
    Directives(fail_code=None, latency_s=None, nsfw=False, output=None, end_status=None)
    >>> parse("x [simulate:status=cancelled]").end_status
    'cancelled'
    >>> parse("x [simulate:bomb=225]").output, parse("x [simulate:redirect=ftp]").output
    (OutputFault(kind='bomb', value=225), OutputFault(kind='redirect', value='ftp'))
    >>> parse("[simulate:explode]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kontext_widgets.simulator.directives.DirectiveError: unknown simulator directive 'explode'; ...
    """
    fail_code: int | None = None
    latency_s: float | None = None
    nsfw = False
    output: OutputFault | None = None
    end_status: str | None = None
    for marker in MARKER.finditer(prompt):
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
            elif name == "not_image" and not value:
                output = OutputFault("not_image")
            elif name in OUTPUT_LIMITS:
                output = OutputFault(name, _amount(name, value))
            elif name == "redirect" and value:
                output = OutputFault("redirect", _redirect(value))
            elif name == "status" and value:
                end_status = _choice("status", value, END_STATUSES)
            else:
                raise DirectiveError(
                    f"unknown simulator directive {item!r:.80}; known: fail=CODE, moderate, nsfw, "
                    "latency=SECONDS, status=END, not_image, bomb[=MP], huge[=MB], stall[=S], "
                    "cut[=N], redirect=KIND"
                )
    return Directives(fail_code, latency_s, nsfw, output, end_status)


def strip(prompt: str) -> str:
    """``prompt`` without its markers, with spacing tidied.

    >>> strip("make it blue  [simulate:fail=5003] please")
    'make it blue please'
    """
    return " ".join(MARKER.sub(" ", prompt).split())


def _code(value: str) -> int:
    if value.isascii() and value.isdigit() and int(value) in FAILURE_CODES:
        return int(value)
    known = ", ".join(str(c) for c in sorted(FAILURE_CODES))
    raise DirectiveError(f"simulator directive fail={value!r:.40}: expected one of {known}")


def _amount(name: str, value: str) -> float | None:
    if not value:
        return OUTPUT_DEFAULTS[name]
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    high = OUTPUT_LIMITS[name]
    whole = name in ("bomb", "huge", "cut")
    if not (math.isfinite(amount) and 0 < amount <= high) or (whole and amount != int(amount)):
        kind = "a whole number" if whole else "a number"
        raise DirectiveError(
            f"simulator directive {name}={value!r:.40}: expected {kind} above 0, at most {high:g}"
        )
    return int(amount) if whole else amount


def _redirect(value: str) -> str:
    return _choice("redirect", value, REDIRECT_KINDS)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise DirectiveError(
            f"simulator directive {name}={value!r:.40}: expected one of " + ", ".join(allowed)
        )
    return value


def _latency(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0.0 <= seconds <= MAX_LATENCY_S):
        raise DirectiveError(
            f"simulator directive latency={value!r:.40}: expected seconds from 0 to "
            f"{MAX_LATENCY_S:g}"
        )
    return seconds
