"""KontextWidget: the notebook front end's Python model (docs/widget-protocol.md).

Data flows one way: front end -> this model (traits and messages) -> the engine ->
client -> HTTP. The class holds the traits and thin public methods; the work is in
its controllers: runs (:mod:`.runs`), sweeps (:mod:`.sweep_runs`), outputs
(:mod:`.outputs`), messages (:mod:`.messages`) and background tasks (:mod:`.tasks`).
The API key never reaches a trait, a message or a generated snippet.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import anywidget
import traitlets as t

from .._frontend import require_bundle
from ..client import Client
from ..contract import GUIDANCE_DEFAULT, PRICE_PER_IMAGE_USD
from ..errors import InvalidRequestError, Problem
from ..fields import frontend_spec
from ..history import History, HistoryStep
from ..inputs import InputList
from ..prediction import Prediction
from ..request import ImageInput
from ..store import Store
from ..sweeps.plan import DEFAULT_BUDGET_USD
from ..sweeps.results import SweepResult
from . import plan_view
from .background import fetch_balance, guard
from .editing import Editing
from .lifecycle import Lifecycle, Saved, history_to_json, resolve_session
from .messages import HANDLERS, dispatch
from .outputs import Outputs
from .overrides import apply, apply_sweep
from .runs import Runs, random_seed
from .settings import check_client_and_store, init_names, settings_values, unknown_message
from .storage import StoreRef
from .sweep_runs import Sweeps
from .tasks import Tasks

__all__ = ["KontextWidget"]

log = logging.getLogger("kontext_widgets")

# Read once at import: a clear FrontendBundleMissingError, not a bare FileNotFoundError.
_ESM, _CSS = require_bundle()


class KontextWidget(Editing, Saved, anywidget.AnyWidget):
    """Edit images with FLUX.1 Kontext [pro] Multi from a notebook: controls plus a gallery.

    Display it (``w`` as a cell's last line) for the prompt, input images, aspect ratio,
    seeds, guidance and Generate; each run adds a row of labelled results, and any
    result can become the next edit's input. ``await w.generate(...)`` does the same
    from Python. Without ``WAVESPEED_API_KEY`` (or ``api_key=``) everything runs
    against the offline simulator and says SIMULATED.

    ``seeds``: ``None`` draws a random seed per Generate, an int fixes one, a list
    compares those seeds. ``aspect_ratio``: ``None`` (the service's default),
    ``"first"`` (the first image's shape) or a ratio such as ``"16:9"``. ``on_busy``:
    a Generate while one runs ``"replace"``-s it or waits in a ``"queue"``.
    ``client`` (or ``api_key``/``base_url``/``max_concurrency`` for one the widget
    creates and closes).

    Every Generate, single or sweep, is recorded in the store (``store=``: a
    directory or a :class:`~kontext_widgets.Store`; by default
    ``KONTEXT_WIDGETS_STORE`` or ``./kontext-widgets-store``, made at the first
    Generate; ``session``, by default the notebook cell's id, names this widget's record
    there, so the cell run again, in a new kernel too, brings back its runs and history).
    The same fixed seeds again come from the store at no cost (``fresh=True`` pays), and
    a run cut by a kernel restart resumes its tasks by id when run again.
    Sweep mode (``w.mode = "sweep"``; ``sweep_seeds``, ``sweep_guidance``,
    ``sweep_ratios``, ``sweep_prompts``) runs :func:`kontext_widgets.sweep`'s engine.

    >>> import asyncio, tempfile
    >>> from kontext_widgets import KontextWidget, samples
    >>> w = KontextWidget(prompt="make it night", images=[samples.path("landscape")],
    ...                   seeds=[1, 2], aspect_ratio="first", store=tempfile.mkdtemp())
    >>> w.seed_list, w.seed_locked, w.simulated, [i["name"] for i in w.images]
    ('1, 2', True, True, ['landscape.png'])
    >>> async def main() -> list[int | None]:
    ...     predictions = await w.generate()
    ...     await w.aclose()
    ...     return [p.request.seed for p in predictions if p.request]
    >>> asyncio.run(main())
    [1, 2]
    >>> [job["state"] for job in w.jobs], w.status
    (['done', 'done'], '2 of 2 done')
    >>> KontextWidget(prompt="x", seed=3)
    Traceback (most recent call last):
    ...
    TypeError: KontextWidget() got an unknown keyword argument 'seed' (did you mean 'seeds'?); ...
    """

    _esm = _ESM
    _css = _CSS

    # -- edited by the front end (single mode, then sweep mode) --------------------------------
    prompt = t.Unicode("").tag(sync=True)
    aspect_ratio = t.Unicode("").tag(sync=True)
    seed = t.Int(0).tag(sync=True)
    seed_locked = t.Bool(False).tag(sync=True)
    compare = t.Int(1).tag(sync=True)
    seed_list = t.Unicode("").tag(sync=True)
    guidance_scale = t.Float(GUIDANCE_DEFAULT).tag(sync=True)
    sync_mode = t.Bool(False).tag(sync=True)
    on_busy = t.Unicode("replace").tag(sync=True)
    mode = t.Unicode("single").tag(sync=True)
    sweep_seeds = t.Unicode("").tag(sync=True)
    sweep_guidance = t.Unicode("").tag(sync=True)
    sweep_ratios = t.List(t.Unicode()).tag(sync=True)
    sweep_prompts = t.Unicode("").tag(sync=True)
    sweep_concurrency = t.Int(2).tag(sync=True)
    sweep_budget = t.Float(DEFAULT_BUDGET_USD).tag(sync=True)
    sweep_allow_over_budget = t.Bool(False).tag(sync=True)
    sweep_rows = t.Unicode("").tag(sync=True)
    sweep_cols = t.Unicode("").tag(sync=True)

    # -- set by Python only --------------------------------------------------------------------
    images = t.List(t.Dict()).tag(sync=True)
    simulated = t.Bool(False).tag(sync=True)
    price_per_image = t.Float(PRICE_PER_IMAGE_USD).tag(sync=True)
    field_specs = t.Dict(frontend_spec()).tag(sync=True)
    balance = t.Float(None, allow_none=True).tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    jobs = t.List(t.Dict()).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    problems = t.List(t.Dict()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    older_runs = t.Int(0).tag(sync=True)  # runs beyond MAX_ROWS (show_older_runs())
    saved_output = t.Unicode("").tag(sync=True)  # display id of the saved copy (.lifecycle)
    #: Python sees HistoryStep objects; the front end gets them as dicts (to_json).
    history = t.List(t.Instance(HistoryStep)).tag(sync=True, to_json=history_to_json)
    sweep_plan = t.Unicode("").tag(sync=True)
    sweep_axes = t.List(t.Unicode()).tag(sync=True)
    sweep_progress = t.Dict().tag(sync=True)
    sweep_failed = t.Int(0).tag(sync=True)
    #: The next Generate: {"images", "from_store", "cost_usd", "text"} (docs/widget-protocol.md)
    plan = t.Dict(dict(plan_view.EMPTY_PLAN)).tag(sync=True)

    _HANDLERS = HANDLERS

    def __init__(
        self,
        prompt: str = "",
        images: Iterable[ImageInput] = (),
        aspect_ratio: str | None = None,
        seeds: int | Iterable[int] | str | None = None,
        guidance_scale: float = GUIDANCE_DEFAULT,
        enable_sync_mode: bool = False,
        *,
        client: Client | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        max_concurrency: int = 2,
        on_busy: str = "replace",
        store: Store | str | os.PathLike[str] | None = None,
        session: str | bool | None = None,
        **unknown: object,
    ) -> None:
        if unknown:
            raise TypeError(
                unknown_message("KontextWidget()", unknown, init_names(KontextWidget.__init__))
            )
        check_client_and_store(client, api_key, base_url, store)
        inputs = InputList()
        given: dict[str, Any] = {"prompt": prompt, "aspect_ratio": aspect_ratio, "seeds": seeds}
        given |= {"guidance_scale": guidance_scale, "enable_sync_mode": enable_sync_mode}
        values, problems = settings_values({**given, "on_busy": on_busy})
        try:
            inputs.replace_all(images)
        except InvalidRequestError as exc:
            problems += exc.problems
        if problems:
            raise InvalidRequestError(problems)
        values.setdefault("seed", random_seed())
        the_client = client or Client(api_key, base_url, max_concurrency=max_concurrency)
        super().__init__(
            **values,
            images=inputs.trait(),
            simulated=the_client.simulated,
            status="Ready: " + the_client.describe(),
        )
        self._client = the_client
        self._owns_client = client is None
        self._inputs = inputs
        self._history = History()
        self._outputs = Outputs()
        self._tasks = Tasks(on_busy=self._set_busy, guard=lambda work: guard(self, work))
        self._runs = Runs(self, cancel=self.cancel)
        self._sweeps = Sweeps(self, self._runs)
        self._store_ref = StoreRef(store)
        self._life = Lifecycle(self, self._runs, self._sweeps, resolve_session(session))
        self._open = True
        self._life.restore()
        plan_view.replan(self)
        if the_client.has_key and not the_client.simulated:
            self._tasks.in_background(fetch_balance(self))

    # ======================================================================= Python API

    @property
    def client(self) -> Client:
        """The client every run goes through.

        >>> KontextWidget().client.simulated  # no key: the offline simulator
        True
        """
        return self._client

    @property
    def store(self) -> Store:
        """Where every Generate records its cells and images (created at the first use).

        >>> import tempfile
        >>> KontextWidget(store=tempfile.mkdtemp()).store.directory.is_dir()
        True
        """
        return self._store_ref.get()

    def store_if_made(self) -> Store | None:
        """The store if it exists already (looking never creates it).

        >>> import os, tempfile
        >>> KontextWidget(store=os.path.join(tempfile.mkdtemp(), "new")).store_if_made() is None
        True
        """
        return self._store_ref.if_made()

    @property
    def results(self) -> list[Prediction]:
        """Every finished prediction (completed or failed), run by run, in seed order.

        Full-size bytes are in ``p.images[i].data``; ``kw.show(w.results)`` shows them all.

        >>> KontextWidget().results
        []
        """
        return self._runs.predictions()

    async def generate(self, *, fresh: bool = False, **overrides: Any) -> list[Prediction]:
        """Run one Generate, exactly as the button does, and return its predictions.

        ``overrides`` (``prompt``, ``images``, ``aspect_ratio``, ``seeds``, ``compare``,
        ``guidance_scale``, ``enable_sync_mode``, ``on_busy``) are set on the widget first,
        so it shows what ran. Bad input raises :class:`InvalidRequestError` (also shown
        in the widget) and sends nothing. Failed predictions are returned with
        ``status`` failed; if no seed produced a prediction at all, the first error is
        raised. With ``on_busy="replace"`` a later Generate cancels this one
        (``asyncio.CancelledError``). Results the store holds for the same settings
        come from it at no cost; ``fresh=True`` pays for new images instead.

        >>> import asyncio, tempfile
        >>> from kontext_widgets import samples
        >>> async def main() -> list[str]:
        ...     w = KontextWidget(images=[samples.path("shoes")], store=tempfile.mkdtemp())
        ...     try:
        ...         done = await w.generate(prompt="make them blue", seeds=[3, 4])
        ...         again = await w.generate()
        ...     finally:
        ...         await w.aclose()
        ...     return [w.jobs[0]["label"], done[1].status.value, w.status]
        >>> asyncio.run(main())
        ['seed 3', 'completed', '2 of 2 done (from the store, $0)']
        """
        if not isinstance(fresh, bool):
            raise InvalidRequestError([Problem("fresh", fresh, "expected True or False")])
        apply(self, overrides)
        self.mode = "single"
        return await self._runs.start(fresh=fresh)

    @property
    def sweep_result(self) -> SweepResult | None:
        """The last sweep's result (None before the first): cells, images, table, grid.

        >>> KontextWidget().sweep_result is None
        True
        """
        return self._sweeps.result

    async def sweep(self, **overrides: Any) -> SweepResult:
        """Run the sweep mode's Generate, exactly as the button does, and return its result.

        Overrides are named as for :func:`kontext_widgets.sweep` (a list, a range such as
        ``"1-4"`` or a count of random seeds is an axis; one value sets the single-mode
        setting), plus ``rows``/``cols`` and ``retry_failed``; they set the traits first
        (and ``mode`` to ``"sweep"``). Bad input or a plan above the budget raises and
        sends nothing.

        >>> import asyncio, tempfile
        >>> from kontext_widgets import samples
        >>> async def main() -> tuple[str, str]:
        ...     w = KontextWidget(prompt="make it night", images=[samples.path("landscape")],
        ...                       store=tempfile.mkdtemp())
        ...     try:
        ...         result = await w.sweep(seed="1-2", guidance_scale=[2.5, 4.0], cols="seed")
        ...     finally:
        ...         await w.aclose()
        ...     return result.summary(), w.sweep_plan
        >>> summary, plan = asyncio.run(main())
        >>> summary
        '4 of 4 cells done, 0 failed, 0 from the store (SIMULATED)'
        >>> plan  # doctest: +ELLIPSIS
        '4 cells (2 guidance values × 2 seeds); cost $0.16 (simulated: nothing billed); ...'
        """
        retry = overrides.get("retry_failed", False)
        if not isinstance(retry, bool):
            raise InvalidRequestError([Problem("retry_failed", retry, "expected True or False")])
        apply_sweep(self, self._sweeps, overrides)
        return await self._sweeps.start(retry_failed=retry)

    async def retry_failed(self) -> SweepResult:
        """Run the last sweep's plan again, resubmitting its failed cells (the button's action).

        >>> import asyncio
        >>> asyncio.run(KontextWidget().retry_failed())
        Traceback (most recent call last):
        ...
        RuntimeError: Retry failed cells: no sweep has run yet
        """
        return await self._sweeps.start_retry()

    def cancel(self) -> None:
        """Cancel the running and queued Generates now; their polling stops at once.

        >>> KontextWidget().cancel()  # nothing running: nothing happens
        """
        self._runs.cancel_now()
        self._sweeps.cancel_now()
        if self._tasks.cancel_runs():
            self.busy = False
            latest = self._runs.latest
            self.status = latest.status() if latest and latest.state == "cancelled" else "Cancelled"

    def close(self) -> None:
        """Cancel any run, close the client if the widget created it, and close the widget.

        >>> w = KontextWidget()
        >>> w.close(); w.comm is None
        True
        """
        # ipywidgets also calls this from __del__: possibly half-built, possibly after its loop.
        if getattr(self, "_open", False):
            self._open = False
            try:
                self._stop_everything()
            except Exception:
                log.debug("closing the widget's work failed", exc_info=True)
        super().close()

    async def aclose(self) -> None:
        """:meth:`close`, then wait until the cancelled runs end and the client is closed.

        >>> import asyncio
        >>> w = KontextWidget()
        >>> asyncio.run(w.aclose()); w.comm is None
        True
        """
        loop = asyncio.get_running_loop()
        stopping = [task for task in self._tasks.pending() if task.get_loop() is loop]
        self.close()
        # The cancelled runs end (and let go of the store and the client) before we return.
        await self._tasks.wait_all(loop, stopping)
        if self._owns_client:
            await self._client.close()

    def _stop_everything(self) -> None:
        self._tasks.forget_closed_loops()
        pending = self._tasks.pending()
        self.cancel()
        self._tasks.cancel_side()
        self._store_ref.release(self._tasks, pending)
        if self._owns_client:
            self._tasks.in_background(self._client.close())  # no loop: closes with its loop

    def _handle_custom_msg(self, content: Any, buffers: Sequence[Any]) -> None:
        """Every custom message from the front end arrives here (ipywidgets calls it)."""
        if not dispatch(self, content, [bytes(b) for b in buffers or ()]):
            super()._handle_custom_msg(content, buffers)  # anywidget's own commands, on_msg()

    @t.observe(*plan_view.WATCHED)
    def _setting_changed(self, change: Mapping[str, Any]) -> None:
        if not getattr(self, "_open", False):
            return  # still in __init__ (or closed)
        if change["name"] == "sweep_seeds":
            self._sweeps.draw = random_seed()  # a new count of random seeds: new seeds
        plan_view.replan(self)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        if not busy and getattr(self, "_open", False):
            plan_view.replan(self)  # the store holds what just ran
            self._life.runs_ended()
