"""Display tests run in a real IPython shell, so display() publishes what a notebook stores."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config


@pytest.fixture(autouse=True)
def shell() -> InteractiveShell:
    """An IPython shell, so display() publishes rich outputs that capture_output() records."""
    config = Config()
    config.HistoryManager.enabled = False  # no history database or saving thread
    return InteractiveShell.instance(config=config)
