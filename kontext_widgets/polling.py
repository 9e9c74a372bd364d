"""Old import path of :mod:`kontext_widgets.client.polling`."""

# SHIM(lead removes)
from .client.polling import *  # noqa: F403
