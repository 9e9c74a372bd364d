"""Widgets on the test's simulator (each test's own store comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kontext_widgets import Client
from kontext_widgets.simulator import SimulatorServer

from .helpers import FAST_RETRY, Recording, WidgetFactory


@pytest.fixture
async def make_widget(simulator: SimulatorServer) -> AsyncIterator[WidgetFactory]:
    """Widgets on the test's simulator; every one is closed (with its client) afterwards."""
    made: list[Recording] = []

    def make(
        *args: Any, server: SimulatorServer | None = None, concurrency: int = 2, **kwargs: Any
    ) -> Recording:
        if "client" not in kwargs and "api_key" not in kwargs:
            target = server or simulator
            kwargs["client"] = Client(
                base_url=target.url, max_concurrency=concurrency, retry=FAST_RETRY
            )
        widget = Recording(*args, **kwargs)
        made.append(widget)
        return widget

    yield make
    for widget in made:
        await widget.aclose()
        await widget.client.close()
