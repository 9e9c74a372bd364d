"""Settling submits a crash left in doubt, from the service's prediction history."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from ..client import Client
from ..contract import MODEL
from ..errors import KontextError
from ..prediction import Prediction
from ..store import Store, TaskRecord

__all__ = ["CLOCK_SKEW_S", "recover_interrupted_submits"]

log = logging.getLogger("kontext_widgets")

#: Clock difference tolerated between our submit time and the service's ``created_at``.
CLOCK_SKEW_S = 120.0


async def recover_interrupted_submits(
    client: Client, store: Store, records: dict[str, TaskRecord]
) -> set[str]:
    """Settle cells left 'submitting' by a crash; return the task keys safe to submit again.

    A lone interrupted submit with exactly one unknown task created after it is that
    task: its id is adopted (``records`` is updated). With no unknown task created
    since, nothing was created and every such cell may be submitted. Anything
    ambiguous stays unknown (the runner reports it failed).
    """
    interrupted = [r for r in records.values() if r.state == "submitting"]
    if not interrupted:
        return set()
    earliest = min(r.sent_at or 0.0 for r in interrupted) - CLOCK_SKEW_S
    try:
        recent = await client.list_predictions(page=1, page_size=100)
    except KontextError as exc:
        log.warning("cannot read the prediction history to settle interrupted submits: %s", exc)
        return set()
    known = store.known_prediction_ids()
    unknown = [
        p
        for p in recent
        if p.id not in known and (not p.model or p.model == MODEL) and _created(p) >= earliest
    ]
    if not unknown:
        return {r.task_key for r in interrupted}
    if len(interrupted) == 1 and len(unknown) == 1:
        record, adopted = interrupted[0], unknown[0]
        log.info("adopting task %s for a submit interrupted by a crash", adopted.id)
        store.submitted(record.task_key, adopted.id)
        records[record.task_key] = replace(record, state="submitted", prediction_id=adopted.id)
    return set()


def _created(prediction: Prediction) -> float:
    try:
        return dt.datetime.fromisoformat(prediction.created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unreadable: treat as recent, so it keeps the case ambiguous
