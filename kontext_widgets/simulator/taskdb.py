"""The simulator's memory on disk: tasks, uploads and which simulators are alive, in SQLite.

Several simulators (threads or processes) may share one directory: SQLite in WAL
mode serialises their writes, and every change is one short transaction. A task
row names its owner, the simulator running it; a task whose owner is gone
(stopped, or its process died) is an orphan that another simulator may claim
and finish. Rows hold plain JSON-ready values; :mod:`.state` turns them into
predictions.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: An owner that has not renewed its lease for this long is taken for dead.
LEASE_S = 10.0
#: Statuses of tasks still in progress (an orphan among them is finished by a new owner).
UNFINISHED = ("created", "processing")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    task TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    code INTEGER NOT NULL DEFAULT 0,
    inference_ms INTEGER NOT NULL DEFAULT 0,
    has_output INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS predictions_created ON predictions (created);
CREATE INDEX IF NOT EXISTS predictions_status ON predictions (status);
CREATE TABLE IF NOT EXISTS uploads (
    token TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS owners (
    token TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    beat REAL NOT NULL
);
"""
_COLUMNS = "id, created, model, status, owner, task, error, code, inference_ms, has_output"


@dataclass(frozen=True)
class Filters:
    """What a listing asks for (None: any)."""

    model: str | None = None
    status: str | None = None
    created_after: float | None = None
    created_before: float | None = None


@dataclass(frozen=True)
class UploadRow:
    """One stored upload's metadata (its bytes are the file named by ``token``)."""

    token: str
    filename: str
    content_type: str
    size: int
    created: float


class TaskDB:
    """The SQLite file of one simulator directory.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> db = TaskDB(Path(folder.name) / "tasks.sqlite3")
    >>> db.insert({"id": "a1", "created": 1.0, "model": "m", "status": "created",
    ...            "owner": "me", "task": {"prompt": "hi"}})
    >>> db.get("a1")["task"], db.page(Filters(status="created"), 1, 10)[0]
    ({'prompt': 'hi'}, 1)
    >>> db.close(); folder.cleanup()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = _open(path)

    # predictions --------------------------------------------------------------------

    def insert(self, row: Mapping[str, Any]) -> None:
        """Store a new task (``task`` is a JSON-ready dict)."""
        values = {"error": "", "code": 0, "inference_ms": 0, "has_output": 0, **row}
        values["task"] = json.dumps(values["task"], sort_keys=True)
        names = _COLUMNS.split(", ")
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO predictions ({_COLUMNS}) "  # noqa: S608 - fixed names
                f"VALUES ({', '.join('?' * len(names))})",
                [values[name] for name in names],
            )

    def update(self, prediction_id: str, owner: str, changes: Mapping[str, Any]) -> None:
        """Record a task's progress; a row deleted meanwhile, or claimed by another, stays so."""
        allowed = ("status", "error", "code", "inference_ms", "has_output")
        names = [name for name in allowed if name in changes]
        assignments = ", ".join(f"{name} = ?" for name in names)
        with self._write() as conn:
            conn.execute(
                f"UPDATE predictions SET {assignments} "  # noqa: S608 - names from `allowed`
                "WHERE id = ? AND owner = ?",
                [*(changes[name] for name in names), prediction_id, owner],
            )

    def get(self, prediction_id: str) -> dict[str, Any] | None:
        """One task's row, or None."""
        with self._lock:
            found = self._conn.execute(
                f"SELECT {_COLUMNS} FROM predictions WHERE id = ?",  # noqa: S608
                (prediction_id,),
            ).fetchone()
        return _row(found) if found else None

    def page(self, filters: Filters, page: int, page_size: int) -> tuple[int, list[dict[str, Any]]]:
        """The total matching ``filters`` and one page of them, newest first."""
        where, args = _where(filters)
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM predictions {where}",  # noqa: S608 - built by _where
                args,
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM predictions {where} "  # noqa: S608
                "ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return int(total), [_row(r) for r in rows]

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete these tasks; returns the ids that existed."""
        deleted = []
        with self._write() as conn:
            for prediction_id in dict.fromkeys(ids):
                cursor = conn.execute("DELETE FROM predictions WHERE id = ?", (prediction_id,))
                if cursor.rowcount:
                    deleted.append(prediction_id)
        return deleted

    def created_since(self, since: float) -> list[float]:
        """Creation times of tasks made at or after ``since`` (epoch seconds), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT created FROM predictions WHERE created >= ? ORDER BY created", (since,)
            ).fetchall()
        return [float(r[0]) for r in rows]

    # owners and orphans -------------------------------------------------------------

    def beat(self, owner: str) -> None:
        """Renew ``owner``'s lease (it is alive)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO owners (token, pid, beat) VALUES (?, ?, ?)",
                (owner, os.getpid(), time.time()),
            )

    def release(self, owner: str) -> None:
        """``owner`` stopped: its unfinished tasks become orphans at once."""
        with self._write() as conn:
            conn.execute("DELETE FROM owners WHERE token = ?", (owner,))

    def owner(self, token: str) -> tuple[int, float] | None:
        """``(pid, last beat)`` of a simulator that has joined and not left, else None."""
        with self._lock:
            found = self._conn.execute(
                "SELECT pid, beat FROM owners WHERE token = ?", (token,)
            ).fetchone()
        return (int(found[0]), float(found[1])) if found else None

    def orphans(self, me: str, is_alive: Any) -> list[dict[str, Any]]:
        """Unfinished tasks whose owner is not alive (``is_alive(token, pid, beat)``)."""
        with self._lock:
            owners = {
                token: (pid, beat)
                for token, pid, beat in self._conn.execute("SELECT token, pid, beat FROM owners")
            }
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM predictions "  # noqa: S608
                "WHERE status IN (?, ?) AND owner != ? ORDER BY created",
                (*UNFINISHED, me),
            ).fetchall()
        dead = []
        for found in rows:
            owner = owners.get(found[4])
            if owner is None or not is_alive(found[4], *owner):
                dead.append(_row(found))
        return dead

    def claim(self, prediction_id: str, old_owner: str, new_owner: str) -> bool:
        """Take over an orphan; False if someone else took it first."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE predictions SET owner = ? WHERE id = ? AND owner = ?",
                (new_owner, prediction_id, old_owner),
            )
            return cursor.rowcount == 1

    # uploads ------------------------------------------------------------------------

    def add_upload(self, upload: UploadRow) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO uploads (token, filename, content_type, size, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (upload.token, upload.filename, upload.content_type, upload.size, upload.created),
            )

    def upload(self, token: str) -> UploadRow | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT token, filename, content_type, size, created FROM uploads WHERE token = ?",
                (token,),
            ).fetchone()
        return UploadRow(*found) if found else None

    # retention ----------------------------------------------------------------------

    def expire(self, before: float) -> tuple[list[str], list[str]]:
        """Delete tasks and uploads created before ``before``; returns their ids and tokens."""
        old = (before,)
        with self._write() as conn:
            ids = [i for (i,) in conn.execute("SELECT id FROM predictions WHERE created < ?", old)]
            tokens = [
                t for (t,) in conn.execute("SELECT token FROM uploads WHERE created < ?", old)
            ]
            conn.execute("DELETE FROM predictions WHERE created < ?", old)
            conn.execute("DELETE FROM uploads WHERE created < ?", old)
        return ids, tokens

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two processes never deadlock
        # upgrading read locks; the busy timeout makes the other one wait its turn.
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")


def _open(path: Path) -> sqlite3.Connection:
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        # A damaged file (not a database, or from a newer schema) must not stop the offline
        # simulator: keep it aside for inspection and start a fresh one.
        aside = path.with_name(f"{path.name}.unusable-{int(time.time())}")
        log.warning("simulator task file %s is unusable (%s); moved to %s", path, exc, aside)
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{aside}{suffix}"))
        return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions, _write() brackets every change.
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _where(filters: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (
        ("model = ?", filters.model),
        ("status = ?", filters.status),
        ("created > ?", filters.created_after),
        ("created < ?", filters.created_before),
    ):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(_COLUMNS.split(", "), values, strict=True))
    row["task"] = json.loads(row["task"])
    row["has_output"] = bool(row["has_output"])
    return row
