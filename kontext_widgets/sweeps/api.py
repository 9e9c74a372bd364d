"""``kontext_widgets.sweep``: plan, show the cost, refuse over budget, run, return the result."""

from __future__ import annotations

from typing import Any

from ..client import Client
from ..engine.progress import OnProgress
from ..engine.runner import Runner
from ..store import Store
from .plan import DEFAULT_BUDGET_USD, SweepPlan, plan_sweep
from .progress import ProgressDisplay
from .results import SweepResult

#: Seconds one prediction is expected to take before any has been timed.
TYPICAL_TASK_S = {"simulated": 1.0, "service": 8.0}


def expected_task_seconds(client: Client) -> float:
    if client.duration.value is not None:
        return client.duration.value
    return TYPICAL_TASK_S["simulated" if client.simulated else "service"]


async def sweep(
    *,
    client: Client | None = None,
    store: Store | str | None = None,
    concurrency: int = 2,
    max_cost_usd: float | None = DEFAULT_BUDGET_USD,
    retry_failed: bool = False,
    random_seed: int | None = None,
    progress: bool | ProgressDisplay | OnProgress = True,
    **arguments: Any,
) -> SweepResult:
    """Run a parameter sweep; any request argument given as a list is an axis.

    Before anything is sent it shows the number of cells, the cost and the expected
    time, and refuses a plan above ``max_cost_usd`` (``None`` allows any). Completed
    cells come from the store for free; a rerun after a crash resumes by task id.

    >>> import asyncio, tempfile, kontext_widgets as kw
    >>> result = asyncio.run(kw.sweep(prompt="night", images=[kw.samples.path("person")],
    ...                               seed=[1, 2], guidance_scale=[2.5, 4.0],
    ...                               store=tempfile.mkdtemp(), progress=False))
    >>> result.summary()
    '4 of 4 cells done, 0 failed, 0 from the store (SIMULATED)'
    """
    plan = plan_sweep(random_seed=random_seed, **arguments)
    own_client = client is None
    active = client or Client(max_concurrency=concurrency)
    display = ProgressDisplay() if progress is True else None
    if isinstance(progress, ProgressDisplay):
        display = progress
    callback: OnProgress | None = display or (progress if callable(progress) else None)
    try:
        if display is not None:
            display.message(
                "Sweep plan: "
                + plan.summary(concurrency, expected_task_seconds(active), active.simulated)
            )
        plan.check_budget(max_cost_usd)
        chosen_store = store if isinstance(store, Store) else Store(store)
        runner = Runner(active, chosen_store, concurrency=concurrency, on_progress=callback)
        outcomes = await runner.run(plan, retry_failed=retry_failed)
        # A fully cached rerun never hears the simulator: the store's records say it was.
        simulated = active.simulated or any(o.simulated for o in outcomes)
        return SweepResult(plan, tuple(outcomes), chosen_store, simulated)
    finally:
        if own_client:
            await active.close()


def preview(**arguments: Any) -> SweepPlan:
    """Plan without running: ``kw.sweeps.preview(...).summary(...)`` shows cells and cost."""
    return plan_sweep(**arguments)
