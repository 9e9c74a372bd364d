"""Every store test gets its own default store, never the checkout's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONTEXT_WIDGETS_STORE", str(tmp_path / "default-store"))
