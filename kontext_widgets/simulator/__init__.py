"""An offline stand-in for the WaveSpeed FLUX.1 Kontext [pro] Multi API.

It speaks the contract's routes and envelope on 127.0.0.1 and returns
deterministic images labelled SIMULATED, with configurable latency, queueing,
faults, account balance, retention and rate limits. It never pretends to be the
real model. Its tasks, uploads and outputs are kept on disk (``state_dir``: by
default the user cache directory, see :func:`~.config.default_state_dir`), so a
simulator started later, in a new kernel, knows the tasks of the one before.

>>> from kontext_widgets.simulator import SimulatorConfig, SimulatorServer
>>> with SimulatorServer(SimulatorConfig(latency_s=0.05, state_dir=None)) as server:
...     server.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

from .app import create_app
from .config import SimulatorConfig
from .server import SimulatorServer, serve

__all__ = ["SimulatorConfig", "SimulatorServer", "create_app", "serve"]
