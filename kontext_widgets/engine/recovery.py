"""Settling submits a crash left in doubt, from the service's prediction history.

A cell is "in doubt" when its record says ``submitting``: the submit was recorded, then
the process died (or the answer never came) before a task id was recorded, and no live
process holds the cell's claim. The service may or may not have made (and billed) a task.

What is read: every page of ``POST /api/v3/predictions`` (``model`` = FLUX.1 Kontext [pro]
Multi, ``created_after`` = the earliest in-doubt submit less :data:`CLOCK_SKEW_S`), page after
page until the history is exhausted or older than that window. Predictions the store already
knows (any record's id) are set aside. Each remaining one is a *candidate*.

What is compared, for each in-doubt cell, between the body it sent (recorded before sending)
and the ``input`` the history reports for a candidate (:func:`inputs_match`):

* the model (the item's ``model``, when given, must be this model);
* ``prompt``: exactly equal;
* ``images``: the same URLs in the same order (the uploaded URLs that were sent);
* ``seed``: equal, unless the cell sent ``-1`` (random: any seed matches);
* ``guidance_scale``: equal within 1e-9 (absent on one side: the contract's default 3.5);
* ``aspect_ratio``: equal (absent on both sides: equal).

The decision, per in-doubt cell:

* exactly one candidate matches: that task is adopted (polled and downloaded, not paid again);
  each candidate is adopted by at most one cell;
* more than one matches: ambiguous, "unknown";
* none matches and every candidate reported its input: nothing was made for this cell, so it
  may be submitted again;
* none matches but some candidate has no ``input`` (the history cannot decide), the history
  could not be read, or the cell's sent body was not recorded while candidates exist:
  "unknown" — the cell is reported (and recorded) failed with :data:`IN_DOUBT`, asking the
  user to check the history; only a rerun with ``retry_failed=True`` sends it again.

A cell seen ``submitting`` while another process holds its claim is not in doubt: the run
waits for the claim and re-reads the record (see :mod:`kontext_widgets.store.guard`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..client import Client
from ..client.account import history_page
from ..contract import GUIDANCE_DEFAULT, MODEL
from ..errors import KontextError
from ..prediction import Prediction
from ..store import Store, TaskRecord

__all__ = [
    "CLOCK_SKEW_S",
    "EXPIRED",
    "FILES_GONE",
    "IN_DOUBT",
    "Candidate",
    "decide",
    "inputs_match",
    "recover_interrupted_submits",
]

log = logging.getLogger("kontext_widgets")

#: The reason a cell in doubt is reported failed ("unknown"); also recorded, so a rerun with
#: ``retry_failed=True`` is what sends it again.
IN_DOUBT = (
    "unknown: interrupted while submitting, and the service's history cannot show whether "
    "this request made a task (see kontext_widgets.engine.recovery for what is compared); "
    "check your prediction history, then rerun with retry_failed=True to submit it again"
)
EXPIRED = (
    "expired: the image files of this cell are gone from the store and the service no "
    "longer keeps prediction {id} (predictions are kept 7 days); rerun with fresh=True to "
    "pay for a new image"
)
FILES_GONE = (
    "the image files of this cell are gone from the store and no prediction id was "
    "recorded to fetch them again; rerun with fresh=True to pay for a new image"
)

#: Clock difference tolerated between our submit time and the service's ``created_at``.
CLOCK_SKEW_S = 120.0
#: Pages read at most (10,000 predictions): beyond that the history is treated as unreadable.
MAX_PAGES = 100
_PAGE_SIZE = 100


@dataclass(frozen=True)
class Candidate:
    """A prediction the store does not know, made inside the window, with its reported input."""

    prediction_id: str
    input: Mapping[str, Any] | None


async def recover_interrupted_submits(
    client: Client, store: Store, records: dict[str, TaskRecord]
) -> set[str]:
    """Settle cells left 'submitting'; return the task keys safe to submit again.

    Adopted cells are updated in ``records`` (and the store) to ``submitted`` with the
    adopted id; cells in doubt stay out of the returned set (see the module doc).
    """
    interrupted = [
        r
        for r in records.values()
        if r.state == "submitting" and not store.claimed_elsewhere(r.task_key)
    ]
    if not interrupted:
        return set()
    earliest = min(r.sent_at or 0.0 for r in interrupted) - CLOCK_SKEW_S
    try:
        candidates = await _candidates(client, store, earliest)
    except KontextError as exc:
        log.warning("cannot read the prediction history to settle interrupted submits: %s", exc)
        return set()
    safe: set[str] = set()
    for record, verdict in decide(interrupted, candidates).items():
        if verdict == "resubmit":
            safe.add(record)
        elif verdict != "unknown":
            log.info("adopting task %s for a submit interrupted before its answer", verdict)
            store.submitted(record, verdict)
            records[record] = replace(records[record], state="submitted", prediction_id=verdict)
    return safe


def decide(interrupted: list[TaskRecord], candidates: list[Candidate]) -> dict[str, str]:
    """Each in-doubt cell's verdict: an adopted prediction id, ``"resubmit"`` or ``"unknown"``.

    >>> sent = {"prompt": "a", "images": ["https://x/1.png"], "seed": 1}
    >>> rec = TaskRecord("k", "submitting", None, (), "", None, True, 0.0, sent)
    >>> decide([rec], [Candidate("p2", {**sent, "seed": 2}), Candidate("p1", sent)])
    {'k': 'p1'}
    >>> decide([rec], [Candidate("p2", {**sent, "seed": 2})])
    {'k': 'resubmit'}
    >>> decide([rec], [Candidate("p3", None)])  # the history does not say what made p3
    {'k': 'unknown'}
    """
    taken: set[str] = set()
    verdicts: dict[str, str] = {}
    undecidable = any(c.input is None for c in candidates)
    for record in sorted(interrupted, key=lambda r: r.sent_at or 0.0):
        if record.sent is None:
            verdicts[record.task_key] = "unknown" if candidates else "resubmit"
            continue
        sent = record.sent
        matches = [
            c.prediction_id
            for c in candidates
            if c.prediction_id not in taken and c.input is not None and inputs_match(sent, c.input)
        ]
        if len(matches) == 1:
            taken.add(matches[0])
            verdicts[record.task_key] = matches[0]
        elif matches or undecidable:
            verdicts[record.task_key] = "unknown"
        else:
            verdicts[record.task_key] = "resubmit"
    return verdicts


def inputs_match(sent: Mapping[str, Any], reported: Mapping[str, Any]) -> bool:
    """True when the history's ``reported`` input is the request ``sent`` (see the module doc).

    >>> body = {"prompt": "night", "images": ["https://x/a.png"], "seed": -1}
    >>> inputs_match(body, {**body, "seed": 77}), inputs_match(body, {**body, "prompt": "day"})
    (True, False)
    """
    if sent.get("prompt") != reported.get("prompt"):
        return False
    if list(sent.get("images") or []) != list(reported.get("images") or []):
        return False
    seed = sent.get("seed", -1)
    if seed != -1 and reported.get("seed") != seed:
        return False
    if sent.get("aspect_ratio") != reported.get("aspect_ratio"):
        return False
    return _same_number(
        sent.get("guidance_scale", GUIDANCE_DEFAULT),
        reported.get("guidance_scale", GUIDANCE_DEFAULT),
    )


def _same_number(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return False
    return math.isclose(float(a), float(b), abs_tol=1e-9)


async def _candidates(client: Client, store: Store, earliest: float) -> list[Candidate]:
    """Unknown predictions of this model created since ``earliest``, from every page."""
    known = store.known_prediction_ids()
    after = dt.datetime.fromtimestamp(max(earliest, 0.0), dt.timezone.utc).isoformat()
    found: list[Candidate] = []
    for page in range(1, MAX_PAGES + 1):
        answer = await history_page(
            client, page, _PAGE_SIZE, model=MODEL, created_after=after.replace("+00:00", "Z")
        )
        older = False
        for prediction, reported in zip(answer.items, answer.inputs, strict=True):
            if _created(prediction) < earliest:
                older = True  # newest first: the rest are older still (or the filter was ignored)
                continue
            if prediction.id in known or (prediction.model and prediction.model != MODEL):
                continue
            found.append(Candidate(prediction.id, reported))
        seen = (page - 1) * _PAGE_SIZE + len(answer.items)
        if (
            older
            or len(answer.items) < _PAGE_SIZE
            or (answer.total is not None and seen >= answer.total)
        ):
            return found
    raise KontextError(f"the prediction history is longer than {MAX_PAGES} pages")


def _created(prediction: Prediction) -> float:
    try:
        return dt.datetime.fromisoformat(prediction.created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unreadable: treat as recent, so it stays a candidate
