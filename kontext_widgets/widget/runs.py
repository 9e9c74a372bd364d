"""Starting, queueing, running and cancelling single-mode Generates, through the engine.

A Generate is planned at the click (so a bad setting sends nothing), then run as a plan
of cells by the engine's :class:`~kontext_widgets.engine.runner.Runner` and recorded in
the widget's store: a rerun with the same fixed seeds comes from the store at no cost,
and a run cut by a crash resumes by task id. The rows of the gallery live here too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from ..contract import SEED_MAX, Status
from ..display import widget_row
from ..engine.cells import CellLike, CellOutcome, describe_error
from ..engine.runner import Runner
from ..engine.single import MAX_COMPARE, Plan, Settings, plan_run, resolve_first_ratio
from ..errors import InvalidRequestError, Problem
from ..images import thumbnail_data_uri
from ..prediction import OutputImage, Prediction, output_key
from ..request import LocalImage
from ..store import Store
from .host import Host, show_problems, touch
from .settings import ON_BUSY
from .single_run import SingleRun
from .tasks import running_loop

__all__ = ["MAX_ROWS", "Runs", "random_seed"]

log = logging.getLogger("kontext_widgets")

#: Runs kept in the ``rows`` trait (oldest dropped first): every row's thumbnails are saved
#: in the notebook and resent on each change. ``w.results`` keeps every prediction.
MAX_ROWS: Final = 8
#: A second Generate with the same settings within this many seconds is the same click.
DOUBLE_CLICK_S: Final = 1.0

T = TypeVar("T")


def random_seed() -> int:
    """A seed with room for comparing MAX_COMPARE seeds upwards from it."""
    return secrets.randbelow(SEED_MAX - MAX_COMPARE + 2)


def settings_of(host: Host) -> Settings:
    """The single-mode settings as the traits hold them."""
    return Settings(
        prompt=host.prompt,
        aspect_ratio=host.aspect_ratio,
        seed=host.seed,
        seed_locked=host.seed_locked,
        compare=host.compare,
        seed_list=host.seed_list,
        guidance_scale=host.guidance_scale,
        sync_mode=host.sync_mode,
    )


def _click(host: Host, fresh: bool) -> object:
    """What a Generate click asks for: the settings (a drawn seed aside) and the inputs."""
    settings = settings_of(host)
    if not settings.seed_locked:
        settings = dataclasses.replace(settings, seed=0)  # each click draws its own
    return (settings, tuple(item.id for item in host._inputs.items), fresh, host.on_busy)


class Runs:
    """The widget's single runs and gallery rows; queueing and replacing for every run."""

    def __init__(self, host: Host, *, cancel: Callable[[], None]) -> None:
        self.host = host
        self.cancel = cancel  # the widget's: cancels every run, single or sweep
        self.singles: list[SingleRun] = []
        self.current: SingleRun | None = None
        #: the latest run of either mode (its status is the widget's)
        self.latest: Any = None
        self.count = 0
        #: the latest started Generate and what was clicked for it (a double click is one run)
        self._last: tuple[object, float, asyncio.Task[list[Prediction]]] | None = None
        #: every row of this widget (restored ones first), in run order
        self.archive: dict[str, dict[str, Any]] = {}
        #: how many of the latest rows the ``rows`` trait shows (``show_older`` adds more)
        self.limit = MAX_ROWS
        self.dropped: set[str] = set()

    def predictions(self) -> list[Prediction]:
        return [p for run in self.singles for p in run.predictions()]

    def busy_problems(self) -> list[Problem]:
        if self.host.on_busy in ON_BUSY:
            return []
        return [Problem("on_busy", self.host.on_busy, "expected 'replace' or 'queue'")]

    def start(self, *, fresh: bool = False) -> asyncio.Task[list[Prediction]]:
        """Check, plan and start a Generate now; raise InvalidRequestError (shown) if bad."""
        host = self.host
        touch(host)
        loop = running_loop()
        problems = self.busy_problems()
        clicked = _click(host, fresh)
        last = self._last
        # The same Generate again at once while it runs: a double click, one run.
        if last and last[0] == clicked and time.monotonic() - last[1] < DOUBLE_CLICK_S:
            running = last[2]
            if not running.done():
                return running
        try:
            plan, base_seed = plan_run(
                settings_of(host),
                host._inputs.items,
                run_id=f"run{self.count + 1}",
                draw_seed=random_seed,
            )
        except InvalidRequestError as exc:
            problems[:0] = exc.problems
        if problems:
            show_problems(host, problems)
            raise InvalidRequestError(problems)
        self.count += 1
        if not host.seed_locked and not host.seed_list.strip():
            host.seed = base_seed  # drawn for this run: shown before it starts
        task = self.enqueue(loop, lambda waiting: self._execute(plan, fresh, waiting))
        self._last = (clicked, time.monotonic(), task)
        return task

    def enqueue(
        self,
        loop: asyncio.AbstractEventLoop,
        make_work: Callable[[list[asyncio.Task[Any]]], Coroutine[Any, Any, T]],
    ) -> asyncio.Task[T]:
        """Start a run as a task: replacing the running ones, or after them ("queue")."""
        host = self.host
        if host.on_busy == "replace":
            self.cancel()
        waiting_for = host._tasks.pending()
        task = host._tasks.start_run(loop, make_work(waiting_for))
        if waiting_for:
            host.status = f"{host.status} · {len(waiting_for)} queued"
        return task

    async def _execute(
        self, plan: Plan, fresh: bool, waiting_for: list[asyncio.Task[Any]]
    ) -> list[Prediction]:
        if waiting_for:
            await asyncio.wait(waiting_for)  # "queue": start when the earlier ones end
        client = self.host.client
        plan = await resolve_first_ratio(plan, client)
        run = SingleRun(plan, simulated=client.simulated, on_change=self.show)
        self.singles.append(run)
        self.current = self.latest = run
        run.changed()
        try:
            await self._upload(run)
            run.start_running()
            await self._runner(run).run(plan.cell_plan(), retry_failed=True, fresh=fresh)
        except asyncio.CancelledError:
            run.cancel_now()
            raise
        except Exception as exc:
            run.fail(exc)
            raise
        run.finish(client.simulated)
        return self._result(run)

    def _runner(self, run: SingleRun) -> Runner:
        client = self.host.client
        store = self.host.store

        async def cell_done(cell: CellLike, outcome: CellOutcome) -> CellOutcome:
            return await _with_prediction(cell, outcome, store, client.simulated, self.host)

        return Runner(
            client,
            store,
            concurrency=client.max_concurrency,
            on_progress=run.on_progress,
            on_cell_done=cell_done,
            sync_mode=True,  # the Sync mode switch is sent as it is
            keep_images=True,  # the row shows them at once, without reading the store
        )

    def _result(self, run: SingleRun) -> list[Prediction]:
        predictions = run.predictions()
        failures = [job.exception for job in run.jobs if job.exception is not None]
        if failures and not predictions:
            raise failures[0]  # nothing came back at all: that is an error of the whole run
        if failures:
            self.host.error = (
                f"{len(failures)} of {len(run.jobs)} failed: {describe_error(failures[0])}"
            )
        return predictions

    async def _upload(self, run: SingleRun) -> None:
        unique: dict[str, LocalImage] = {}
        for item in run.plan.inputs:
            if isinstance(item.source, LocalImage):
                unique.setdefault(item.source.sha256, item.source)
        if not unique:
            return
        run.start_upload(len(unique))
        # The client uploads each content once and remembers it, so the submits reuse these.
        client = self.host.client
        await asyncio.gather(*(client.upload(image) for image in unique.values()))

    def cancel_now(self) -> None:
        for run in self.singles:
            run.cancel_now()  # the jobs say "cancelled" now, not after the loop gets round to it

    # -- showing ------------------------------------------------------------------------------

    def show(self, run: SingleRun) -> None:
        """Re-render one run's traits: called after every change of one of its jobs."""
        host = self.host
        for job in run.jobs:
            if job.state == "done" and job.prediction is not None:
                host._outputs.add_prediction(job.prediction, job.label, run.plan.inputs)
        if run.id in self.dropped:
            return
        made = widget_row(run.items(), title=run.title(), thumbs=host._outputs.thumbs)
        row = {
            "id": run.id,
            "title": made.title,
            "html": made.html,
            "outputs": [dataclasses.asdict(o) for o in made.outputs],
        }
        # Called from inside the run's own task, so that one is not "waiting".
        waiting = len(host._tasks.pending()) - 1
        with host.hold_sync():
            if run is self.current and run is self.latest:
                host.jobs = [job.trait() for job in run.jobs]
                host.status = run.status() + (f" · {waiting} queued" if waiting > 0 else "")
            self.put_row(row)
            host.simulated = host.client.simulated

    def put_row(self, row: dict[str, Any], *, restored: bool = False) -> None:
        """Add or replace a gallery row (only the latest ``limit`` are shown; ``older_runs``
        says how many are not, and :meth:`show_older` brings them back)."""
        self.archive[row["id"]] = row
        if restored:
            return  # shown by the next put_row or show_rows
        self.show_rows()

    def show_rows(self) -> None:
        rows = list(self.archive.values())
        shown = rows[-self.limit :]
        self.dropped = {r["id"] for r in rows[: len(rows) - len(shown)]}
        with self.host.hold_sync():
            self.host.rows = shown
            self.host.older_runs = len(rows) - len(shown)

    def show_older(self) -> int:
        """Show up to MAX_ROWS more of the older rows; how many are shown now."""
        self.limit += MAX_ROWS
        self.show_rows()
        return len(self.host.rows)

    def all_rows(self) -> list[dict[str, Any]]:
        return list(self.archive.values())


async def _with_prediction(
    cell: CellLike, outcome: CellOutcome, store: Store, simulated: bool, host: Host
) -> CellOutcome:
    """A done cell with its prediction (read back from the store when cached) and thumbnails."""
    if outcome.state != "done" or not outcome.prediction_id:
        return outcome
    prediction = outcome.prediction
    if prediction is None:
        datas = [await asyncio.to_thread(store.read_image, sha) for sha in outcome.outputs]
        prediction = Prediction(
            id=outcome.prediction_id,
            status=Status.COMPLETED,
            images=tuple(OutputImage(url="", data=data) for data in datas),
            request=cell.request,
            simulated=simulated or outcome.simulated,  # the store remembers
        )
    thumbs = host._outputs.thumbs
    for index, image in enumerate(prediction.images):
        key = output_key(prediction.id, index)
        if key in thumbs:
            continue
        try:
            # Off the loop: decoding a 1024 px PNG takes tens of milliseconds.
            thumbs[key] = await asyncio.to_thread(thumbnail_data_uri, image.data)
        except ValueError:
            continue  # the gallery shows a placeholder with the reason
    return dataclasses.replace(outcome, prediction=prediction)
