"""The store's troubles in words, and the per-cell claims that keep processes from paying twice.

Every ``sqlite3`` or ``OSError`` the store meets becomes one
:class:`~kontext_widgets.errors.StoreError` naming the store's path, what is wrong and what
to do (:func:`guard`).

A claim (:class:`Claim`) is an advisory lock (``flock``) on ``claims/<task key>.lock`` beside the
database, held from just before a cell's submit is recorded until its task id is recorded. Any
process, widget or CLI run on the store takes it before submitting, then re-reads the cell's record:
whatever another process did meanwhile is seen, so a cell is paid for once. The operating system
releases the lock when a process dies, so a crash never leaves a cell claimed for ever.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError

__all__ = ["Claim", "check_layout", "guard", "store_error"]

_ELSEWHERE = (
    "choose another store directory (store=... or the KONTEXT_WIDGETS_STORE environment variable)"
)
_KEEP = "images already downloaded stay in its images/ folder"
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def store_error(path: Path, exc: BaseException) -> StoreError:
    """The plain-words error for ``exc`` met while using the store at ``path``.

    >>> print(store_error(Path("/s"), sqlite3.DatabaseError("file is not a database")))
    ... # doctest: +ELLIPSIS
    result store /s: store.sqlite3 is corrupt or not a kontext-widgets store ...
    """
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if "not a database" in text or "malformed" in text:
        return StoreError(
            path,
            f"store.sqlite3 is corrupt or not a kontext-widgets store ({exc})",
            f"move store.sqlite3 aside (your prediction history still lists what was paid for; "
            f"{_KEEP}) or {_ELSEWHERE}",
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            path,
            "the database is locked by another program and stayed locked",
            "close the other program (or wait for it) and run again; nothing was submitted",
        )
    if "full" in text or code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return StoreError(
            path,
            "the disk is full (or a quota or file-size limit was reached)",
            f"free some space and run again: finished results are kept ({_KEEP}) and cells "
            "already submitted are picked up again without paying twice",
        )
    unwritable = ("unable to open" in text or "disk i/o" in text) and not os.access(path, os.W_OK)
    if "readonly" in text or "read-only" in text or unwritable or code in _READ_ONLY:
        return StoreError(
            path,
            "it is read-only (results cannot be recorded there)",
            f"make the directory and store.sqlite3 writable, or {_ELSEWHERE}",
        )
    return StoreError(path, f"it cannot be used ({exc})", f"check the directory, or {_ELSEWHERE}")


@contextmanager
def guard(path: Path) -> Iterator[None]:
    """Run a store operation; any database or file-system trouble becomes a StoreError."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise store_error(path, exc) from None


def check_layout(directory: Path) -> None:
    """Refuse a store path of the wrong kind before anything is created there."""
    if directory.exists() and not directory.is_dir():
        raise StoreError(
            directory,
            "this is a file, not a directory",
            f"give the directory that should hold store.sqlite3, or {_ELSEWHERE}",
        )
    for name, want_dir in (("store.sqlite3", False), ("images", True), ("claims", True)):
        item = directory / name
        if item.exists() and item.is_dir() != want_dir:
            kind = "a directory" if item.is_dir() else "not a directory"
            raise StoreError(
                directory,
                f"{name} is {kind}",
                f"move {item} aside, or {_ELSEWHERE}",
            )


class Claim:
    """An exclusive, non-blocking claim on one cell of the store (see the module doc).

    >>> import tempfile
    >>> where = Path(tempfile.mkdtemp())
    >>> first, second = Claim(where, "k"), Claim(where, "k")
    >>> first.acquire(), second.acquire()
    (True, False)
    >>> first.release(); second.acquire()
    True
    >>> second.release()
    """

    def __init__(self, claims_dir: Path, task_key: str) -> None:
        self.path = claims_dir / f"{task_key}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the claim if no one holds it; False when another holder has it."""
        if self._fd is not None:
            return True
        with guard(self.path.parent.parent):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _lock(fd):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            _unlock(fd)
            os.close(fd)


try:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows: a byte-range lock on the file's first byte
    import msvcrt

    def _lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
