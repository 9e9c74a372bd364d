"""A widget's runs and history kept in its store, so a new kernel brings them back.

A widget has a ``session``: by default the id of the notebook cell that made it
(JupyterLab and Notebook 7 send it with every execution, and it is saved in the
``.ipynb``), else none. When a run ends, the widget writes its gallery rows, the store
keys of their outputs and its history to
``<store>/widget-sessions/<sha256(session)[:16]>.json``; a widget made later with the
same session and store (the same cell run again, in a new kernel too) shows them again,
and every restored output can be opened, downloaded or used as an input (its image is
read from the store). The file keeps the last :data:`KEPT_RUNS` runs; the gallery
shows the last ``MAX_ROWS`` of them and ``w.show_older_runs()`` brings the rest back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..contract import Status
from ..history import History, HistoryStep
from ..prediction import OutputImage, Prediction
from ..store import Store
from .outputs import Output, Outputs

__all__ = ["KEPT_RUNS", "Restored", "SessionFile", "session_path"]

log = logging.getLogger("kontext_widgets")

#: Runs a session file keeps (the oldest are forgotten beyond this).
KEPT_RUNS: Final = 50
_VERSION: Final = 1


def session_path(store: Store, session: str) -> Path:
    """Where a session's record lives in its store.

    >>> import tempfile
    >>> session_path(Store(tempfile.mkdtemp()), "cell-1").name
    'e726a81051e21e5e.json'
    """
    digest = hashlib.sha256(session.encode("utf-8")).hexdigest()[:16]
    return Path(store.directory) / "widget-sessions" / f"{digest}.json"


@dataclass(frozen=True)
class Restored:
    """What a session file brought back: rows (oldest first) and history steps."""

    rows: list[dict[str, Any]]
    steps: list[dict[str, Any]]


class SessionFile:
    """Reads and writes one session's record (JSON, replaced atomically).

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> f = SessionFile(store, "cell-1")
    >>> f.save([{"id": "run1", "title": "t", "html": "<p>", "outputs": []}], {}, [])
    >>> [row["id"] for row in SessionFile(store, "cell-1").load().rows]
    ['run1']
    """

    def __init__(self, store: Store, session: str) -> None:
        self.store = store
        self.session = session
        self.path = session_path(store, session)

    def save(
        self,
        rows: Sequence[Mapping[str, Any]],
        outputs: Mapping[str, Mapping[str, Any]],
        steps: Sequence[HistoryStep],
    ) -> None:
        kept = list(rows)[-KEPT_RUNS:]
        record = {
            "version": _VERSION,
            "session": self.session,
            "rows": [{**row, "saved_outputs": _outputs_of(row, outputs)} for row in kept],
            "history": [step.trait() for step in steps],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, self.path)

    def load(self) -> Restored:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Restored([], [])
        except (OSError, ValueError) as exc:
            log.warning("session record %s unreadable (%s): starting empty", self.path, exc)
            return Restored([], [])
        if not isinstance(record, dict) or record.get("version") != _VERSION:
            return Restored([], [])
        rows = [r for r in record.get("rows", []) if isinstance(r, dict) and "id" in r]
        steps = [s for s in record.get("history", []) if isinstance(s, dict) and "key" in s]
        return Restored(rows, steps)


def _outputs_of(
    row: Mapping[str, Any], outputs: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    keys = [o.get("key") for o in row.get("outputs", []) if isinstance(o, dict)]
    return {key: dict(outputs[key]) for key in keys if isinstance(key, str) and key in outputs}


def output_entries(outputs: Outputs) -> dict[str, dict[str, Any]]:
    """The store keys (sha256) and labels of the widget's outputs, by output key."""
    found: dict[str, dict[str, Any]] = {}
    for key, made in outputs.sweep.items():
        found[key] = {"sha": made.sha, "label": made.label, "simulated": made.simulated}
    for key, record in outputs.records.items():
        image = record.image
        found[key] = {
            "sha": image.sha256,
            "label": record.label,
            "simulated": record.prediction.simulated,
            "seed": record.prediction.request.seed if record.prediction.request else None,
        }
    return found


def adopt(store: Store, row: Mapping[str, Any], outputs: Outputs) -> dict[str, Any]:
    """Register a restored row's outputs (their images read from the store); the row trait."""
    saved = row.get("saved_outputs", {})
    for key, entry in saved.items() if isinstance(saved, dict) else ():
        sha = entry.get("sha") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or key in outputs.records:
            continue
        try:
            data = store.read_image(sha)
        except (OSError, ValueError):
            continue  # the store lost it: the tile still shows its thumbnail
        prediction_id = key.rsplit(":", 1)[0]
        prediction = Prediction(
            id=prediction_id,
            status=Status.COMPLETED,
            images=(OutputImage(url="", data=data),),
            simulated=bool(entry.get("simulated", False)),
        )
        outputs.records[key] = Output(key, prediction, 0, str(entry.get("label", key)), ())
    return {k: v for k, v in row.items() if k != "saved_outputs"}


def restore_history(history: History, steps: Sequence[Mapping[str, Any]]) -> None:
    """Record the saved steps again (their labels without the "step N · " prefix)."""
    for step in steps:
        label = str(step.get("label", ""))
        label = label.split(" · ", 1)[1] if label.startswith("step ") and " · " in label else label
        seed = step.get("seed")
        history.record(
            key=str(step["key"]),
            prompt=str(step.get("prompt", "")),
            seed=seed if isinstance(seed, int) else None,
            parents=[str(p) for p in step.get("parents", []) if isinstance(p, str)],
            label=label,
            thumb=str(step.get("thumb", "")),
        )
