"""The widget's sweep mode: planning as settings change, starting, running and showing sweeps.

A sweep runs through the same engine runner and store as a single run and as
:func:`kontext_widgets.sweep`; this keeps the grid, the progress and the plan line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..engine.cells import CellOutcome, describe_error
from ..engine.runner import Runner
from ..engine.single import ratio_of_url
from ..errors import InvalidRequestError, Problem
from ..images import thumbnail_data_uri
from ..prediction import output_key
from ..store import Store
from ..sweeps.api import expected_task_seconds
from ..sweeps.grid import grid_html
from ..sweeps.plan import BudgetExceededError
from ..sweeps.results import SweepResult
from .host import Host, refuse, touch
from .live_sweep import LiveSweep
from .outputs import SweepOutput
from .runs import Runs, random_seed
from .sweep_axes import (
    cell_label,
    parse_guidance,
    parse_prompts,
    parse_ratios,
    parse_seeds,
    problem_line,
)
from .sweep_form import (
    SweepSettings,
    SweepSetup,
    check_run_settings,
    grid_axes,
    plan_line,
    plan_widget_sweep,
    with_ratio,
)
from .tasks import running_loop

__all__ = ["SWEEP_REFRESH_S", "SWEEP_THUMB_PX", "Sweeps"]

log = logging.getLogger("kontext_widgets")

#: A running sweep's grid and progress are re-rendered at most this often (seconds).
SWEEP_REFRESH_S: Final = 0.5
#: Long side of a sweep grid's thumbnails in the gallery, in pixels.
SWEEP_THUMB_PX: Final = 200


def sweep_settings(host: Host) -> SweepSettings:
    return SweepSettings(
        prompt=host.prompt,
        aspect_ratio=host.aspect_ratio,
        seed=host.seed,
        guidance_scale=host.guidance_scale,
        seeds=host.sweep_seeds,
        guidance=host.sweep_guidance,
        ratios=tuple(host.sweep_ratios),
        prompts=host.sweep_prompts,
        concurrency=host.sweep_concurrency,
        budget=host.sweep_budget,
        allow_over_budget=host.sweep_allow_over_budget,
        rows=host.sweep_rows,
        cols=host.sweep_cols,
    )


class Sweeps:
    """The widget's sweeps: the plan line, the running sweeps, the last result."""

    def __init__(self, host: Host, runs: Runs) -> None:
        self.host = host
        self.runs = runs
        self.live: list[LiveSweep] = []
        self.count = 0
        self.draw = random_seed()
        self.last: SweepSetup | None = None
        self.result: SweepResult | None = None

    def setup(self) -> SweepSetup:
        # The input list holds URLs and LocalImage bytes: planning reads no file.
        return plan_widget_sweep(
            sweep_settings(self.host), self.host._inputs.items, random_seed=self.draw
        )

    def replan(self) -> SweepSetup | None:
        """Update ``sweep_plan`` and ``sweep_axes``; return the plan (None when it has problems)."""
        host = self.host
        axes: list[str] = []
        setup: SweepSetup | None = None
        try:
            setup = self.setup()
        except InvalidRequestError as exc:
            text = problem_line(exc.problems)
        except Exception as exc:  # an observer must not raise into the trait machinery
            log.exception("planning the sweep failed")
            text = f"Cannot plan the sweep: {describe_error(exc)}"
        else:
            axes = list(setup.plan.axes)
            text = plan_line(
                setup,
                seconds_per_task=expected_task_seconds(host.client),
                simulated=host.client.simulated,
                balance=host.balance,
            )
        with host.hold_sync():
            host.sweep_plan = text
            host.sweep_axes = axes
        self.relayout()
        return setup

    def relayout(self) -> None:
        """Lay the last sweep's grid out again at once when Grid rows/columns change."""
        live = self.runs.latest
        if not isinstance(live, LiveSweep) or live.id in self.runs.dropped:
            return
        rows, cols = grid_axes(list(live.plan.axes), self.host.sweep_rows, self.host.sweep_cols)
        if (rows, cols) != (live.rows, live.cols):
            live.rows, live.cols = rows, cols
            self.show(live)

    def check(self, values: Mapping[str, Any]) -> list[Problem]:
        """Problems with ``sweep()``'s sweep trait values, as the widget would hold them."""
        host = self.host
        settings = dataclasses.replace(
            sweep_settings(host),
            seeds=values.get("sweep_seeds", host.sweep_seeds),
            guidance=values.get("sweep_guidance", host.sweep_guidance),
            ratios=values.get("sweep_ratios", tuple(host.sweep_ratios)),
            prompts=values.get("sweep_prompts", host.sweep_prompts),
            concurrency=values.get("sweep_concurrency", host.sweep_concurrency),
            budget=values.get("sweep_budget", host.sweep_budget),
            rows=values.get("sweep_rows", host.sweep_rows),
            cols=values.get("sweep_cols", host.sweep_cols),
        )
        problems = check_run_settings(settings)
        checks: list[Callable[[], object]] = [
            lambda: parse_seeds(settings.seeds),
            lambda: parse_guidance(settings.guidance),
            lambda: parse_ratios(list(settings.ratios)),
            lambda: parse_prompts(settings.prompts),
        ]
        for check in checks:
            try:
                check()
            except InvalidRequestError as exc:
                problems += exc.problems
        return problems

    def start(
        self,
        *,
        retry_failed: bool = False,
        setup: SweepSetup | None = None,
    ) -> asyncio.Task[SweepResult]:
        """Check, plan and start a sweep now; raise (and show) what is wrong or over budget."""
        host = self.host
        touch(host)
        loop = running_loop()
        problems: list[Problem] = self.runs.busy_problems()
        if setup is None:
            try:
                setup = self.setup()
            except InvalidRequestError as exc:
                problems[:0] = exc.problems
        if problems or setup is None:
            refuse(host, problems)
        assert setup is not None
        if not retry_failed:
            self._check_budget(setup)
        self.count += 1
        sweep_id = f"sweep{self.count}"
        chosen = setup
        return self.runs.enqueue(
            loop, lambda waiting: self._execute(sweep_id, chosen, retry_failed, waiting)
        )

    def _check_budget(self, setup: SweepSetup) -> None:
        try:
            setup.plan.check_budget(setup.budget)
        except BudgetExceededError as exc:
            message = (
                f"sweep_budget: this sweep has {exc.cells} cells and would cost "
                f"${exc.cost:.2f}, above the budget of ${exc.budget:.2f}; nothing was sent. "
                "Raise Budget (USD), tick Allow over budget, or make an axis shorter"
            )
            self.host.problems = [{"field": "sweep_budget", "message": message}]
            self.host.status = "Nothing was sent: the sweep is above the budget"
            raise

    def start_retry(self) -> asyncio.Task[SweepResult]:
        setup = self.last
        if setup is None:
            raise RuntimeError("Retry failed cells: no sweep has run yet")
        if not self.host.sweep_failed:
            raise RuntimeError("Retry failed cells: the last sweep has no failed cells")
        return self.start(retry_failed=True, setup=setup)

    async def _execute(
        self,
        sweep_id: str,
        setup: SweepSetup,
        retry_failed: bool,
        waiting_for: list[asyncio.Task[Any]],
    ) -> SweepResult:
        if waiting_for:
            await asyncio.wait(waiting_for)  # "queue": start when the earlier ones end
        host = self.host
        if setup.ratio_from_url is not None:
            setup = with_ratio(setup, await ratio_of_url(host.client, setup.ratio_from_url))
        live = self._begin(sweep_id, setup, retry_failed, host.store)
        runner = Runner(
            host.client, live.store, concurrency=setup.concurrency, on_progress=live.on_progress
        )
        refresher = asyncio.ensure_future(self._refresh(live))
        try:
            outcomes = await runner.run(setup.plan, retry_failed=retry_failed)
        except asyncio.CancelledError:
            live.cancel_now()
            self.end(live)
            raise
        except Exception as exc:
            live.cancel_now("failed", describe_error(exc))
            self.end(live)
            raise
        finally:
            refresher.cancel()
        live.finish(outcomes)
        await self._thumbnails(live)
        result = self.end(live)
        if result.failed:
            host.error = (
                f"{len(result.failed)} of {len(result.outcomes)} cells failed: "
                f"{result.failed[0].error or 'failed'} (Retry failed cells submits them again)"
            )
        return result

    def _begin(self, sweep_id: str, setup: SweepSetup, retry: bool, store: Store) -> LiveSweep:
        host = self.host
        live = LiveSweep(
            sweep_id,
            setup.plan,
            store,
            host.client.simulated,
            rows=setup.rows,
            cols=setup.cols,
            inputs=setup.inputs,
            retry=retry,
            task=asyncio.current_task(),
        )
        self.live = [s for s in self.live if not s.ended] + [live]
        self.runs.latest = live
        self.last = setup
        with host.hold_sync():
            host.jobs = []
            host.sweep_failed = 0
            self.show(live)
        return live

    def cancel_now(self) -> None:
        for live in self.live:
            if not live.ended:
                live.cancel_now()  # the grid says "cancelled" now
                self.end(live)

    async def _refresh(self, live: LiveSweep) -> None:
        """Re-render a running sweep as its cells change, at most every SWEEP_REFRESH_S."""
        while not live.ended:
            await live.changed.wait()
            live.changed.clear()
            try:
                await self._thumbnails(live)
                if live.ended:
                    return
                self.show(live)
            except Exception:  # the display must not stop the sweep
                log.exception("updating the sweep's grid failed")
            await asyncio.sleep(SWEEP_REFRESH_S)

    async def _thumbnails(self, live: LiveSweep) -> None:
        """Thumbnails of newly finished cells, made off the event loop (decoding takes time)."""
        thumbs = self.host._outputs.sweep_thumbs
        for outcome in list(live.outcomes):
            if outcome.state != "done" or not outcome.outputs:
                continue
            sha = outcome.outputs[0]
            if sha in thumbs:
                continue
            try:
                uri = await asyncio.to_thread(_store_thumbnail, live.store, sha)
            except (OSError, ValueError) as exc:
                log.warning("cannot show sweep output %s: %s", sha, exc)
                continue  # the grid shows a placeholder with the reason
            thumbs[sha] = uri

    def end(self, live: LiveSweep) -> SweepResult:
        """A sweep ended (finished, cancelled or stopped): its result, failures and last render."""
        result = live.result()
        if live is self.runs.latest:
            self.result = result
            self.host.sweep_failed = len(result.failed)
        self.show(live)
        return result

    def show(self, live: LiveSweep) -> None:
        """Re-render one sweep's row, and its progress and status when it is the latest run."""
        host = self.host
        row = None if live.id in self.runs.dropped else self._row(live)
        # The sweep's own task is running it, not waiting.
        waiting = sum(task is not live.task for task in host._tasks.pending())
        with host.hold_sync():
            if row is not None:
                self.runs.put_row(row)
            if live is self.runs.latest:
                host.sweep_progress = live.progress_trait()
                host.status = live.status() + (f" · {waiting} queued" if waiting > 0 else "")
            host.simulated = host.client.simulated or live.simulated

    def _row(self, live: LiveSweep) -> dict[str, Any]:
        outputs: list[dict[str, str]] = []

        def hook(outcome: CellOutcome) -> str | None:
            key = self._output(live, outcome)
            if key is not None:
                label = self.host._outputs.sweep[key].label
                outputs.append({"key": key, "label": label, "state": "done"})
            return key

        html_text = grid_html(
            live.result(),
            rows=live.rows,
            cols=live.cols,
            thumb_px=SWEEP_THUMB_PX,
            thumbs=self.host._outputs.sweep_thumbs,
            hooks=hook,
        )
        return {"id": live.id, "title": live.title(), "html": html_text, "outputs": outputs}

    def _output(self, live: LiveSweep, outcome: CellOutcome) -> str | None:
        """The output key of a done cell (registered so the tile's buttons work), else None."""
        if outcome.state != "done" or not outcome.outputs or not outcome.prediction_id:
            return None
        key = output_key(outcome.prediction_id, 0)
        registered = self.host._outputs.sweep
        if key not in registered:
            cell = live.cell(outcome.index)
            registered[key] = SweepOutput(
                store=live.store,
                sha=outcome.outputs[0],
                prediction_id=outcome.prediction_id,
                label=cell_label(outcome.coords, outcome.index),
                request=cell.request,
                inputs=live.inputs,
                simulated=live.simulated,
            )
        return key


def _store_thumbnail(store: Store, sha: str) -> str:
    return thumbnail_data_uri(store.read_image(sha), SWEEP_THUMB_PX)
