"""The widget's store: the caller's (never closed here) or one it opens at the first Generate."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from ..store import DEFAULT_DIRECTORY, STORE_ENV, Store
from .tasks import Tasks

__all__ = ["StoreRef"]


class StoreRef:
    """Opens the store when first needed; looking whether it exists never creates it.

    >>> import tempfile
    >>> ref = StoreRef(Path(tempfile.mkdtemp()) / "s")
    >>> ref.if_made() is None, ref.get().directory.name, ref.if_made() is not None
    (True, 's', True)
    """

    def __init__(self, arg: Store | str | os.PathLike[str] | None) -> None:
        self.arg = arg
        self._opened: Store | None = None

    def get(self) -> Store:
        if isinstance(self.arg, Store):
            return self.arg
        if self._opened is None:
            self._opened = Store(self.arg)
        return self._opened

    def if_made(self) -> Store | None:
        if isinstance(self.arg, Store) or self._opened is not None:
            return self.get()
        chosen = self.arg or os.environ.get(STORE_ENV) or DEFAULT_DIRECTORY
        return self.get() if (Path(chosen).expanduser() / "store.sqlite3").is_file() else None

    def release(self, tasks: Tasks, pending: list[asyncio.Task[Any]]) -> None:
        """Close the store this opened, once the cancelled runs have let go of it."""
        store, self._opened = self._opened, None
        if store is None:
            return
        tasks.after(pending, store.close)
