"""The embedded store: SQLite for runs, cells and tasks; output images content-addressed beside it.

Every write is atomic: rows change inside transactions, and image files are
written to a temporary name and renamed into place, so a killed process leaves
no half-written record or image. The API key is never written here.

Several processes may share one store: a cell's submit is made under its claim
(:meth:`Store.claim`, a lock file beside the database) after re-reading its record.
Any database or file trouble is a :class:`~kontext_widgets.errors.StoreError` in words.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .guard import Claim, check_layout, guard

#: Where the store lives unless a directory is given: ``KONTEXT_WIDGETS_STORE`` or this,
#: relative to the working directory (beside the notebook, where people look for results).
DEFAULT_DIRECTORY = "kontext-widgets-store"
STORE_ENV = "KONTEXT_WIDGETS_STORE"

TaskState = Literal["submitting", "submitted", "completed", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_key TEXT PRIMARY KEY,          -- request hash scoped to the endpoint
    request TEXT NOT NULL,              -- the request's parameters (JSON), images by name or URL
    state TEXT NOT NULL CHECK (state IN ('submitting', 'submitted', 'completed', 'failed')),
    prediction_id TEXT,
    outputs TEXT NOT NULL DEFAULT '[]', -- sha256 of each output image, in order
    error TEXT NOT NULL DEFAULT '',
    code INTEGER,
    simulated INTEGER NOT NULL DEFAULT 0,
    sent_at REAL,
    updated_at REAL NOT NULL,
    sent TEXT                           -- the submit body as sent (uploaded URLs), for recovery
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    axes TEXT NOT NULL,
    fixed TEXT NOT NULL,
    cells INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS run_cells (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    idx INTEGER NOT NULL,
    task_key TEXT NOT NULL,
    coords TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
"""

#: How long tasks took, per endpoint and model (the client's poll schedule starts warm from it).
_DURATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS task_durations (
    scope TEXT NOT NULL,                -- Client.scope: "simulator" or the base URL
    model TEXT NOT NULL,
    seconds REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scope, model)
);
"""


_SELECT = (
    "SELECT task_key, state, prediction_id, outputs, error, code, simulated, sent_at, sent"
    " FROM tasks"
)


@dataclass(frozen=True)
class TaskRecord:
    """What the store knows about one request."""

    task_key: str
    state: TaskState
    prediction_id: str | None
    outputs: tuple[str, ...]
    error: str
    code: int | None
    simulated: bool
    sent_at: float | None
    #: the submit body as sent (None: not recorded, e.g. by an older version)
    sent: Mapping[str, Any] | None = None


class Store:
    """Runs, cells and tasks in ``store.sqlite3``; images in ``images/ab/<sha256>.png``.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> sha = store.put_image(b"fake image bytes")
    >>> store.read_image(sha)
    b'fake image bytes'
    >>> store.begin_submit("k1", {"prompt": "x"}, simulated=True).state
    'submitting'
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        chosen = directory or os.environ.get(STORE_ENV) or DEFAULT_DIRECTORY
        self.directory = Path(chosen).expanduser().resolve()
        self.images_dir = self.directory / "images"
        self.claims_dir = self.directory / "claims"
        self._lock = threading.Lock()
        check_layout(self.directory)
        with guard(self.directory):
            self.images_dir.mkdir(parents=True, exist_ok=True)
            self.claims_dir.mkdir(exist_ok=True)
            self._db = sqlite3.connect(
                self.directory / "store.sqlite3", isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.executescript(_DURATIONS_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}
            if "sent" not in columns:  # a store made before the column existed
                self._db.execute("ALTER TABLE tasks ADD COLUMN sent TEXT")

    def __repr__(self) -> str:
        return f"Store({str(self.directory)!r})"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, guard(self.directory):
            yield self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, guard(self.directory):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- tasks --------------------------------------------------------------------------------

    def task(self, task_key: str) -> TaskRecord | None:
        with self._read():
            row = self._db.execute(f"{_SELECT} WHERE task_key = ?", (task_key,)).fetchone()
        return _record(row) if row else None

    def tasks(self, task_keys: Sequence[str]) -> dict[str, TaskRecord]:
        found: dict[str, TaskRecord] = {}
        with self._read():
            for start in range(0, len(task_keys), 500):
                chunk = task_keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"{_SELECT} WHERE task_key IN ({marks})"
                for row in self._db.execute(query, chunk):
                    found[row[0]] = _record(row)
        return found

    def begin_submit(
        self,
        task_key: str,
        request: Mapping[str, Any],
        *,
        simulated: bool,
        sent: Mapping[str, Any] | None = None,
    ) -> TaskRecord:
        """Record the intent before the submit is sent, so a crash mid-submit is noticed.

        ``sent`` is the body about to be sent: recovery compares it with the history.
        """
        now = time.time()
        body = None if sent is None else json.dumps(sent, default=str)
        with self._tx() as db:
            db.execute(
                "INSERT INTO tasks (task_key, request, state, simulated, sent_at, updated_at, sent)"
                " VALUES (?, ?, 'submitting', ?, ?, ?, ?)"
                " ON CONFLICT(task_key) DO UPDATE SET state='submitting', prediction_id=NULL,"
                " outputs='[]', error='', code=NULL, sent_at=excluded.sent_at,"
                " updated_at=excluded.updated_at, simulated=excluded.simulated, sent=excluded.sent",
                (task_key, json.dumps(request, default=str), int(simulated), now, now, body),
            )
        return TaskRecord(task_key, "submitting", None, (), "", None, simulated, now, sent)

    def claim(self, task_key: str) -> Claim:
        """The cell's claim: take it (``acquire()``) before submitting, release after."""
        return Claim(self.claims_dir, task_key)

    def claimed_elsewhere(self, task_key: str) -> bool:
        """True while another holder (a live process) is submitting this cell."""
        claim = self.claim(task_key)
        with guard(self.directory):
            if claim.acquire():
                claim.release()
                return False
        return True

    def submitted(self, task_key: str, prediction_id: str) -> None:
        self._update(task_key, state="submitted", prediction_id=prediction_id)

    def completed(self, task_key: str, prediction_id: str, outputs: Sequence[str]) -> None:
        self._update(
            task_key,
            state="completed",
            prediction_id=prediction_id,
            outputs=json.dumps(list(outputs)),
        )

    def failed(
        self, task_key: str, error: str, code: int | None, prediction_id: str | None = None
    ) -> None:
        self._update(task_key, state="failed", error=error, code=code, prediction_id=prediction_id)

    def known_prediction_ids(self) -> set[str]:
        with self._read():
            rows = self._db.execute(
                "SELECT prediction_id FROM tasks WHERE prediction_id IS NOT NULL"
            )
            return {r[0] for r in rows}

    def _update(self, task_key: str, **values: Any) -> None:
        values["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._tx() as db:
            db.execute(
                f"UPDATE tasks SET {columns} WHERE task_key = ?",  # noqa: S608 - fixed column names
                (*values.values(), task_key),
            )

    # -- task durations (the client's DurationMemory) ------------------------------------------

    def task_seconds(self, scope: str, model: str) -> float | None:
        """The remembered duration of a task at ``scope`` for ``model`` (None: never seen).

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.remember_task_seconds("simulator", "m", 4.5)
        >>> store.task_seconds("simulator", "m"), store.task_seconds("elsewhere", "m")
        (4.5, None)
        """
        with self._read():
            row = self._db.execute(
                "SELECT seconds FROM task_durations WHERE scope = ? AND model = ?", (scope, model)
            ).fetchone()
        return float(row[0]) if row else None

    def remember_task_seconds(self, scope: str, model: str, seconds: float) -> None:
        """Keep the learned duration for the next kernel (the newest value wins)."""
        if not (isinstance(seconds, (int, float)) and 0 < seconds < 86_400):
            raise ValueError(f"seconds: {seconds!r} is not allowed; expected 0 to 86400")
        with self._tx() as db:
            db.execute(
                "INSERT INTO task_durations (scope, model, seconds, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(scope, model) DO UPDATE SET seconds=excluded.seconds,"
                " updated_at=excluded.updated_at",
                (scope, model, float(seconds), time.time()),
            )

    # -- runs ---------------------------------------------------------------------------------

    def record_run(
        self,
        run_id: str,
        axes: Mapping[str, Any],
        fixed: Mapping[str, Any],
        cells: Sequence[tuple[int, str, Mapping[str, Any]]],
    ) -> None:
        """Record a run and its cells (idempotent: the same run id records once)."""
        with self._tx() as db:
            exists = db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if exists:
                return
            db.execute(
                "INSERT INTO runs (run_id, created_at, axes, fixed, cells) VALUES (?, ?, ?, ?, ?)",
                (run_id, time.time(), _dumps(axes), _dumps(fixed), len(cells)),
            )
            db.executemany(
                "INSERT INTO run_cells (run_id, idx, task_key, coords) VALUES (?, ?, ?, ?)",
                [(run_id, idx, key, _dumps(coords)) for idx, key, coords in cells],
            )

    def runs(self) -> list[dict[str, Any]]:
        with self._read():
            rows = self._db.execute(
                "SELECT run_id, created_at, axes, fixed, cells FROM runs ORDER BY created_at"
            ).fetchall()
        return [
            {
                "run_id": r[0],
                "created_at": r[1],
                "axes": json.loads(r[2]),
                "fixed": json.loads(r[3]),
                "cells": r[4],
            }
            for r in rows
        ]

    # -- images -------------------------------------------------------------------------------

    def image_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"{sha256!r} is not a sha256 hex digest")
        return self.images_dir / sha256[:2] / f"{sha256}.png"

    def put_image(self, data: bytes) -> str:
        """Store bytes under their hash (written to a temporary file, then renamed)."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.image_path(sha)
        if target.exists():
            return sha
        with guard(self.directory):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            # The rename is atomic: a killed process leaves the image whole or absent.
            # (No fsync: it guards against power loss, not a kill, and costs ~10 ms a file.)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            with guard(self.directory):
                raise exc
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def read_image(self, sha256: str) -> bytes:
        data = self.image_path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise OSError(f"image {sha256} in {self.images_dir} is corrupt")
        return data


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _record(row: tuple[Any, ...]) -> TaskRecord:
    return TaskRecord(
        task_key=row[0],
        state=row[1],
        prediction_id=row[2],
        outputs=tuple(json.loads(row[3])),
        error=row[4],
        code=row[5],
        simulated=bool(row[6]),
        sent_at=row[7],
        sent=json.loads(row[8]) if row[8] else None,
    )
