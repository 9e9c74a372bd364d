"""Files the simulator keeps: uploads and output PNGs, on disk in one temp dir.

Only small metadata stays in memory, so thousands of tasks (and 20 MB uploads)
keep the process small. Every name on disk is generated here, never taken from
a request, so no request can reach outside the directory.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Uploads and outputs under a private temporary directory.

    >>> store = MediaStore()
    >>> token = store.save_upload(b"bytes", "my cat.png", "image/png")
    >>> store.upload(token).filename, store.upload(token).path.read_bytes()
    ('my_cat.png', b'bytes')
    >>> root = store.root
    >>> store.close(); root.exists()
    False
    """

    def __init__(self) -> None:
        self._root: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None
        self._uploads: dict[str, StoredFile] = {}
        self._tickets: dict[str, UploadTicket] = {}
        self._root_lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The directory; made on first use, so an app that never runs leaves nothing."""
        # Upload and render threads may arrive here together on first use.
        with self._root_lock:
            if self._root is None:
                root = Path(tempfile.mkdtemp(prefix="kontext-sim-"))
                (root / "uploads").mkdir()
                (root / "outputs").mkdir()
                # Also removed at interpreter exit, for servers nobody stopped (daemon threads).
                self._cleanup = weakref.finalize(self, shutil.rmtree, root, ignore_errors=True)
                self._root = root
        return self._root

    # uploads -----------------------------------------------------------------

    def save_upload(self, data: bytes, filename: str, content_type: str) -> str:
        """Store ``data``; returns the token that names it in URLs."""
        token = secrets.token_hex(16)
        self._write_upload(token, data, safe_filename(filename), content_type)
        return token

    def upload(self, token: str) -> StoredFile | None:
        """The stored upload for ``token``, if any."""
        return self._uploads.get(token)

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
        path = self.root / "uploads" / token
        path.write_bytes(data)
        self._uploads[token] = StoredFile(path, filename, content_type, len(data))

    # outputs -----------------------------------------------------------------

    def save_output(self, prediction_id: str, png: bytes) -> Path:
        """Store the output PNG of a prediction."""
        path = self._output_file(prediction_id)
        path.write_bytes(png)
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

    # lifetime ----------------------------------------------------------------

    def close(self) -> None:
        """Delete every stored file."""
        self._uploads.clear()
        self._tickets.clear()
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
