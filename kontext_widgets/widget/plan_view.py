"""The ``plan`` trait: what the next Generate makes, what comes from the store, and its cost.

``{"images": new images, "from_store": results the store holds, "cost_usd": cost, "text"}``
for the current mode; the front end's cost line and Generate label read it. Looking in
the store never creates it: a widget that never ran has nothing there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, Protocol

from ..client import Client
from ..contract import PRICE_PER_IMAGE_USD
from ..engine.cells import CellLike, task_key
from ..engine.single import Settings, plan_run
from ..errors import InvalidRequestError
from ..inputs import InputImage
from ..store import Store
from .host import Host
from .runs import settings_of
from .sweep_form import SweepSetup
from .sweep_runs import Sweeps

__all__ = ["EMPTY_PLAN", "plan_trait", "single_plan", "stored_count"]

log = logging.getLogger("kontext_widgets")

EMPTY_PLAN: Final[dict[str, Any]] = {"images": 0, "from_store": 0, "cost_usd": 0.0, "text": ""}
#: Larger plans are not looked up in the store at every keystroke.
LOOKUP_LIMIT: Final = 5000


def stored_count(cells: Sequence[CellLike], client: Client, store: Store | None) -> int:
    """How many of ``cells`` the store holds completed (their images present).

    >>> stored_count([], None, None)  # type: ignore[arg-type]
    0
    """
    if store is None or not cells or len(cells) > LOOKUP_LIMIT:
        return 0
    records = store.tasks([task_key(cell, client) for cell in cells])
    return sum(
        r.state == "completed" and all(store.image_path(s).exists() for s in r.outputs)
        for r in records.values()
    )


def plan_trait(total: int, from_store: int, *, simulated: bool, fresh_note: bool) -> dict[str, Any]:
    """The trait for a plan of ``total`` images of which ``from_store`` are in the store.

    >>> plan_trait(3, 2, simulated=False, fresh_note=True)["text"]
    '3 images: 1 new ($0.04), 2 from the store ($0)'
    >>> plan_trait(2, 2, simulated=True, fresh_note=True)["text"]
    '2 images from the store, $0 (Generate fresh pays for new ones; simulated: nothing billed)'
    """
    new = total - from_store
    cost = round(new * PRICE_PER_IMAGE_USD, 2)
    noun = "image" if total == 1 else "images"
    if from_store == 0:
        text = f"{total} new {noun}, ${cost:.2f}"
    elif new == 0:
        text = f"{total} {noun} from the store, $0"
        if fresh_note:
            text += " (Generate fresh pays for new ones"
            text += "; simulated: nothing billed)" if simulated else ")"
            return {"images": 0, "from_store": from_store, "cost_usd": 0.0, "text": text}
    else:
        text = f"{total} {noun}: {new} new (${cost:.2f}), {from_store} from the store ($0)"
    if simulated:
        text += " (simulated: nothing billed)"
    return {"images": new, "from_store": from_store, "cost_usd": cost, "text": text}


def single_plan(
    settings: Settings, inputs: Sequence[InputImage], client: Client, store: Store | None
) -> dict[str, Any]:
    """The plan of a single-mode click: random seeds are always new; fixed ones may be stored."""
    try:
        plan, _ = plan_run(settings, inputs, run_id="next", draw_seed=lambda: 0)
    except InvalidRequestError:
        return dict(EMPTY_PLAN, text="Nothing to plan yet: see the marked settings")
    fixed = settings.seed_locked or bool(settings.seed_list.strip())
    if plan.ratio_from_url is not None:
        fixed = False  # the ratio (part of each request) is read when the run starts
    cells = plan.cell_plan().cells if fixed else ()
    found = stored_count(cells, client, store)
    return plan_trait(len(plan.seeds), found, simulated=client.simulated, fresh_note=True)


#: The traits whose change replans (the ``plan`` trait, and in sweep mode ``sweep_plan``).
WATCHED: Final = (
    "mode",
    "prompt",
    "aspect_ratio",
    "seed",
    "seed_locked",
    "compare",
    "seed_list",
    "guidance_scale",
    "sync_mode",
    "images",
    "sweep_seeds",
    "sweep_guidance",
    "sweep_ratios",
    "sweep_prompts",
    "sweep_concurrency",
    "sweep_budget",
    "sweep_allow_over_budget",
    "sweep_rows",
    "sweep_cols",
    "simulated",
    "balance",
)


class Planned(Host, Protocol):
    """The widget, as replanning uses it."""

    _sweeps: Sweeps


def sweep_plan(setup: SweepSetup | None, host: Host) -> dict[str, Any]:
    """The ``plan`` trait of a sweep (empty while it has problems)."""
    if setup is None:
        return dict(EMPTY_PLAN, text=host.sweep_plan)
    cells = setup.plan.cells if not setup.random_seeds else ()
    found = stored_count(cells, host.client, host.store_if_made())
    return plan_trait(
        len(setup.plan.cells), found, simulated=host.client.simulated, fresh_note=False
    )


def replan(host: Planned) -> None:
    """Update ``plan`` (and in sweep mode ``sweep_plan``); never raises into the traits."""
    try:
        if host.mode == "sweep":
            host.plan = sweep_plan(host._sweeps.replan(), host)
        else:
            settings = settings_of(host)
            store = host.store_if_made()
            host.plan = single_plan(settings, host._inputs.items, host.client, store)
    except Exception:  # an observer must not raise into the trait machinery
        log.exception("planning failed")
