"""Nothing simulator-only reaches the real service: ``[simulate:...]`` prompt markers.

The simulator reads markers in the prompt (see ``kontext_widgets/simulator/directives.py``);
the real service would take them as literal prompt text and bill a call with the wrong
prompt. So a prompt holding one is sent only to an endpoint known to be the simulator.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError, KontextError, Problem
from ..simulator.directives import MARKER
from .endpoint import is_real_service

if TYPE_CHECKING:
    from .host import ClientHost

log = logging.getLogger("kontext_widgets")


def find_marker(prompt: str) -> str | None:
    """The first simulator marker in ``prompt``, if any.

    >>> find_marker("make it blue [SIMULATE:fail=5003]"), find_marker("plain")
    ('[SIMULATE:fail=5003]', None)
    """
    found = MARKER.search(prompt)
    return found.group(0) if found else None


async def refuse_markers(client: ClientHost, prompt: str) -> None:
    """InvalidRequestError (naming the marker) unless the endpoint is the simulator.

    An endpoint not yet known either way (a base URL that answered nothing yet) is asked
    for its balance first, which costs nothing: every simulator answer carries its header.
    """
    marker = find_marker(prompt)
    if marker is None or client.simulated:
        return
    if not is_real_service(client.base_url):
        try:
            await client.balance()
        except KontextError as exc:  # its answer's header is all that matters here
            log.debug("probe of %s for the simulator header: %s", client.base_url, exc)
    if client.simulated:
        return
    raise InvalidRequestError(
        [
            Problem(
                "prompt",
                prompt,
                "simulator markers steer only the offline simulator; the service at "
                f"{client.base_url} would read it as prompt text and bill a call with the "
                "wrong prompt: remove it",
                shown=f"the simulator marker {marker!r:.80}",
            )
        ]
    )
