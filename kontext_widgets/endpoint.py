"""Old import path of :mod:`kontext_widgets.client.endpoint`."""

# SHIM(lead removes)
from .client.endpoint import *  # noqa: F403
