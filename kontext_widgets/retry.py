"""Old import path of :mod:`kontext_widgets.client.retry`."""

# SHIM(lead removes)
from .client.retry import *  # noqa: F403
