"""Files the simulator keeps: uploads, output PNGs and the task file, in one directory.

The directory is the configured ``state_dir`` (kept across restarts, shared by
any simulator pointed at it) or a private temporary one removed on close. Only
small metadata stays in memory, so thousands of tasks (and 20 MB uploads) keep
the process small. Every name on disk is generated here, never taken from a
request, so no request can reach outside the directory. Files are written under
a temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .taskdb import TaskDB, UploadRow

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class StoredFile:
    """One uploaded file: where it is and how to serve it."""

    path: Path
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class UploadTicket:
    """A reserved upload (the SDK 2.x flow) waiting for its PUT."""

    token: str
    filename: str
    size: int
    content_type: str


class MediaStore:
    """Uploads, outputs and the task file under ``state_dir`` (None: a temporary directory).

    >>> store = MediaStore()
    >>> token = store.save_upload(b"bytes", "my cat.png", "image/png")
    >>> store.upload(token).filename, store.upload(token).path.read_bytes()
    ('my_cat.png', b'bytes')
    >>> base = store.base
    >>> store.close(); base.exists()
    False
    """

    def __init__(self, state_dir: str | None = None) -> None:
        self._state_dir = state_dir
        self._base: Path | None = None
        self._db: TaskDB | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._tickets: dict[str, UploadTicket] = {}
        self._root_lock = threading.Lock()

    @property
    def base(self) -> Path:
        """The directory; made on first use, so an app that never runs leaves nothing."""
        # Upload and render threads may arrive here together on first use.
        with self._root_lock:
            if self._base is None:
                self._base, self._db = self._make()
        return self._base

    @property
    def root(self) -> Path:
        """The media directory: ``uploads/`` and ``outputs/`` (the task file sits beside it)."""
        return self.base / "media"

    @property
    def db(self) -> TaskDB:
        """The task file of the directory."""
        self.base  # noqa: B018 - makes the directory and opens the file
        assert self._db is not None
        return self._db

    def _make(self) -> tuple[Path, TaskDB]:
        if self._state_dir is not None:
            try:
                return self._prepare(Path(self._state_dir))
            except (OSError, sqlite3.Error) as exc:
                # A read-only home or a path that is a file must not cost the offline
                # simulator: it then keeps tasks only while it runs.
                log.warning(
                    "simulator directory %s is not usable (%s); using a temporary one",
                    self._state_dir,
                    exc,
                )
        base = Path(tempfile.mkdtemp(prefix="kontext-sim-"))
        # Also removed at interpreter exit, for servers nobody stopped (daemon threads).
        self._cleanup = weakref.finalize(self, shutil.rmtree, base, ignore_errors=True)
        return self._prepare(base)

    @staticmethod
    def _prepare(base: Path) -> tuple[Path, TaskDB]:
        # Private: uploads are the user's own pictures.
        for sub in ("media/uploads", "media/outputs", "tmp"):
            (base / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        return base, TaskDB(base / "tasks.sqlite3")

    # uploads -----------------------------------------------------------------

    def save_upload(self, data: bytes, filename: str, content_type: str) -> str:
        """Store ``data``; returns the token that names it in URLs."""
        token = secrets.token_hex(16)
        self._write_upload(token, data, safe_filename(filename), content_type)
        return token

    def upload(self, token: str, max_age_s: float | None = None) -> StoredFile | None:
        """The stored upload for ``token``, if any (and not older than ``max_age_s``)."""
        if not _TOKEN.match(token):
            return None
        row = self.db.upload(token)
        if row is None or (max_age_s is not None and time.time() - row.created >= max_age_s):
            return None
        path = self.root / "uploads" / token
        if not path.is_file():
            return None
        return StoredFile(path, row.filename, row.content_type, row.size)

    def reserve(self, filename: str, size: int, content_type: str) -> UploadTicket:
        """Reserve a token for a later PUT of ``size`` bytes."""
        ticket = UploadTicket(secrets.token_hex(16), safe_filename(filename), size, content_type)
        self._tickets[ticket.token] = ticket
        return ticket

    def ticket(self, token: str) -> UploadTicket | None:
        """The open ticket for ``token``, if any."""
        return self._tickets.get(token)

    def complete(self, ticket: UploadTicket, data: bytes) -> None:
        """Store the PUT bytes of ``ticket`` under its token and close the ticket."""
        self._write_upload(ticket.token, data, ticket.filename, ticket.content_type)
        self._tickets.pop(ticket.token, None)

    def _write_upload(self, token: str, data: bytes, filename: str, content_type: str) -> None:
        self._write(self.root / "uploads" / token, data)
        self.db.add_upload(UploadRow(token, filename, content_type, len(data), time.time()))

    def delete_upload(self, token: str) -> None:
        """Remove an upload's bytes (its row goes with the retention purge)."""
        if _TOKEN.match(token):
            (self.root / "uploads" / token).unlink(missing_ok=True)

    # outputs -----------------------------------------------------------------

    def save_output(self, prediction_id: str, png: bytes) -> Path:
        """Store the output PNG of a prediction."""
        path = self._output_file(prediction_id)
        self._write(path, png)
        return path

    def output(self, prediction_id: str) -> Path | None:
        """The output PNG of a prediction, if it exists."""
        path = self._output_file(prediction_id)
        return path if path.is_file() else None

    def delete_output(self, prediction_id: str) -> None:
        """Remove a prediction's output, if it has one."""
        self._output_file(prediction_id).unlink(missing_ok=True)

    def _output_file(self, prediction_id: str) -> Path:
        if not _TOKEN.match(prediction_id):
            # Ids are generated as 32 hex digits; anything else never names a file.
            return self.root / "outputs" / "invalid"
        return self.root / "outputs" / f"{prediction_id}.png"

    def _write(self, path: Path, data: bytes) -> None:
        # Another simulator on the directory may read the file at any moment: rename it
        # into place whole (the same bytes for the same task, whoever writes them).
        fd, temporary = tempfile.mkstemp(dir=self.base / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    # lifetime ----------------------------------------------------------------

    def close(self) -> None:
        """Close the task file; a temporary directory is deleted with every file in it."""
        self._tickets.clear()
        if self._db is not None:
            self._db.close()
        if self._cleanup is not None:
            self._cleanup()


def safe_filename(name: str) -> str:
    """A file name fit for a URL path segment.

    >>> safe_filename("../../etc/My Photo (1).JPG")
    'My_Photo_1_.JPG'
    >>> safe_filename("")
    'upload.png'
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME.sub("_", base).strip("._")[:100]
    return cleaned or "upload.png"
