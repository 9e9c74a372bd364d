"""KontextWidget: the notebook front end's Python model (docs/widget-protocol.md).

Data flows one way: front end -> this model (traits and messages) -> jobs ->
client -> HTTP. Message handlers only check input and start work: everything
that waits runs in an asyncio task on the kernel's event loop, and reports
through traits (``jobs``, ``rows``, ``status``, ``error``), because anywidget's
browser side gives up on answers after about 3 s and printing from a task in
ipykernel shows nowhere.

The API key never reaches a trait, a message or a generated snippet, and
full-size images stay in Python (the :class:`~kontext_widgets.prediction.Prediction`
objects and the input list): the front end gets small thumbnails, and full-size
bytes only when it asks for one (``fetch_full``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import anywidget
import traitlets as t

from ._frontend import require_bundle
from .client import Client
from .contract import GUIDANCE_DEFAULT, PRICE_PER_IMAGE_USD, SEED_MAX, Status
from .errors import InvalidRequestError, Problem
from .fields import frontend_spec
from .gallery import grid_html, output_key, show_strip, thumbnail_data_uri, widget_row
from .history import History, HistoryStep
from .inputs import InputImage, InputList
from .jobs import (
    MAX_COMPARE,
    Plan,
    Run,
    Settings,
    check_aspect_setting,
    check_compare,
    describe_error,
    parse_seed_list,
    plan_run,
    problem_entries,
    ratio_of_url,
    resolve_first_ratio,
)
from .payload import ALLOWED, check_guidance, check_sync_mode
from .prediction import OutputImage, Prediction
from .request import ImageInput, KontextRequest
from .store import Store
from .sweep_mode import (
    MODES,
    LiveSweep,
    SweepSettings,
    SweepSetup,
    cell_label,
    check_run_settings,
    parse_guidance,
    parse_prompts,
    parse_ratios,
    parse_seeds,
    plan_line,
    plan_widget_sweep,
    problem_line,
    with_ratio,
)
from .sweeps.api import expected_task_seconds
from .sweeps.plan import DEFAULT_BUDGET_USD, BudgetExceededError
from .sweeps.results import SweepResult
from .sweeps.runner import CellOutcome, SweepRunner

__all__ = ["MAX_ROWS", "KontextWidget"]

log = logging.getLogger("kontext_widgets")

# Read once at import: a missing bundle is a clear FrontendBundleMissingError, not anywidget's
# bare FileNotFoundError from inside its class machinery.
_ESM, _CSS = require_bundle()

#: Runs kept in the ``rows`` trait (oldest dropped first): every row's thumbnails are saved
#: in the notebook and resent on each change. ``w.results`` keeps every prediction.
MAX_ROWS: Final = 8
ON_BUSY: Final = ("replace", "queue")
#: A running sweep's grid and progress are re-rendered at most this often (seconds).
SWEEP_REFRESH_S: Final = 0.5
#: Long side of a sweep grid's thumbnails in the gallery, in pixels.
SWEEP_THUMB_PX: Final = 128

_CONSTRUCTOR_ARGS: Final = (
    "prompt",
    "images",
    "aspect_ratio",
    "seeds",
    "guidance_scale",
    "enable_sync_mode",
    "client",
    "api_key",
    "base_url",
    "max_concurrency",
    "on_busy",
    "store",
)
#: What ``generate(**overrides)`` may set before it runs.
_OVERRIDES: Final = (
    "prompt",
    "images",
    "aspect_ratio",
    "seeds",
    "compare",
    "guidance_scale",
    "enable_sync_mode",
    "on_busy",
)
#: What ``sweep(**overrides)`` may set before it runs (named as for ``kw.sweep``).
_SWEEP_OVERRIDES: Final = (
    "prompt",
    "images",
    "seed",
    "guidance_scale",
    "aspect_ratio",
    "concurrency",
    "max_cost_usd",
    "rows",
    "cols",
    "on_busy",
    "retry_failed",
)
_MIME_EXT: Final = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

T = TypeVar("T")


@dataclass(frozen=True)
class _Output:
    """One output image the widget made (or was given), by key."""

    key: str
    prediction: Prediction
    index: int
    label: str
    inputs: tuple[InputImage, ...]

    @property
    def image(self) -> OutputImage:
        return self.prediction.images[self.index]


@dataclass(frozen=True)
class _SweepOutput:
    """An output of a sweep cell: in the store until the front end asks for it."""

    store: Store
    sha: str
    prediction_id: str
    label: str
    request: KontextRequest
    inputs: tuple[InputImage, ...]
    simulated: bool


def _history_to_json(steps: Sequence[HistoryStep], widget: object) -> list[dict[str, object]]:
    return [step.trait() for step in steps]


class KontextWidget(anywidget.AnyWidget):
    """Edit images with FLUX.1 Kontext [pro] Multi from a notebook: controls plus a gallery.

    Display it (``w`` as a cell's last line) to get the prompt box, the input
    images, aspect ratio, seeds, guidance and Generate; each run adds a row of
    labelled results, and any result can become an input for the next edit.
    The same runs are scriptable: ``await w.generate(...)`` returns the
    predictions. Without ``WAVESPEED_API_KEY`` (or ``api_key=``) everything runs
    against the offline simulator and says SIMULATED.

    ``seeds``: ``None`` draws a random seed per Generate, an int fixes one,
    a list compares those seeds side by side. ``aspect_ratio``: ``None`` for the
    service's default, ``"first"`` for the first image's shape, or a ratio such
    as ``"16:9"``. ``on_busy``: a Generate while one runs ``"replace"``-s it or
    waits in a ``"queue"``. ``client`` (or ``api_key``/``base_url``/
    ``max_concurrency`` for the one the widget creates and closes).

    Sweep mode (``w.mode = "sweep"``, or the Mode switch) runs a parameter sweep
    through the same planner, runner and store as :func:`kontext_widgets.sweep`:
    the axes come from ``sweep_seeds``, ``sweep_guidance``, ``sweep_ratios`` and
    ``sweep_prompts``, ``sweep_plan`` says what the next Generate costs, and the grid
    fills in as cells finish; ``await w.sweep(...)`` is the same from Python.
    ``store``: the sweep store's directory (or a :class:`~kontext_widgets.Store`);
    by default ``KONTEXT_WIDGETS_STORE`` or ``./kontext-widgets-store``, created at
    the first sweep.

    >>> import asyncio
    >>> from kontext_widgets import KontextWidget, samples
    >>> w = KontextWidget(prompt="make it night", images=[samples.path("landscape")],
    ...                   seeds=[1, 2], aspect_ratio="first")
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

    # -- edited by the front end ------------------------------------------------------------
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

    # -- set by Python only -----------------------------------------------------------------
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
    #: Python sees HistoryStep objects; the front end gets them as dicts (to_json).
    history = t.List(t.Instance(HistoryStep)).tag(sync=True, to_json=_history_to_json)
    sweep_plan = t.Unicode("").tag(sync=True)
    sweep_axes = t.List(t.Unicode()).tag(sync=True)
    sweep_progress = t.Dict().tag(sync=True)
    sweep_failed = t.Int(0).tag(sync=True)

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
        **unknown: object,
    ) -> None:
        if unknown:
            raise TypeError(_unknown_message("KontextWidget()", unknown, _CONSTRUCTOR_ARGS))
        if store is not None and not isinstance(store, (Store, str, os.PathLike)):
            raise TypeError(
                f"KontextWidget(): store={store!r:.80} is not allowed; expected a directory "
                "(str or path), a kontext_widgets.Store, or None for the default store"
            )
        if client is not None and (api_key is not None or base_url is not None):
            raise TypeError(
                "KontextWidget(): pass either client= or api_key=/base_url= (for the client "
                "the widget creates), not both"
            )
        inputs = InputList()
        values, problems = _settings_values(
            {
                "prompt": prompt,
                "aspect_ratio": aspect_ratio,
                "seeds": seeds,
                "guidance_scale": guidance_scale,
                "enable_sync_mode": enable_sync_mode,
                "on_busy": on_busy,
            }
        )
        try:
            inputs.replace_all(images)
        except InvalidRequestError as exc:
            problems += exc.problems
        if problems:
            raise InvalidRequestError(problems)
        values.setdefault("seed", _random_seed())
        own = client is None
        the_client = client or Client(api_key, base_url, max_concurrency=max_concurrency)
        super().__init__(
            **values,
            images=inputs.trait(),
            simulated=the_client.simulated,
            status="Ready: " + the_client.describe(),
        )
        self._client = the_client
        self._owns_client = own
        self._inputs = inputs
        self._history = History()
        self._runs: list[Run] = []
        self._current: Run | None = None
        self._run_count = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._outputs: dict[str, _Output] = {}
        self._thumbs: dict[str, str] = {}
        self._rows: dict[str, dict[str, Any]] = {}
        self._dropped_rows: set[str] = set()
        self._store_arg = store
        self._store: Store | None = None  # the one the widget opens (at the first sweep)
        self._latest: Run | LiveSweep | None = None
        self._sweeps: list[LiveSweep] = []
        self._sweep_count = 0
        self._sweep_draw = _random_seed()
        self._last_sweep: SweepSetup | None = None
        self._sweep_result: SweepResult | None = None
        self._sweep_thumbs: dict[str, str] = {}
        self._sweep_outputs: dict[str, _SweepOutput] = {}
        self._open = True
        if _has_key(the_client):
            self._in_background(self._fetch_balance())

    # ======================================================================= Python API

    @property
    def client(self) -> Client:
        """The client every run goes through.

        >>> KontextWidget().client.simulated  # no key: the offline simulator
        True
        """
        return self._client

    @property
    def results(self) -> list[Prediction]:
        """Every finished prediction (completed or failed), run by run, in seed order.

        Full-size bytes are in ``p.images[i].data``; ``kw.show(w.results)`` shows them all.

        >>> KontextWidget().results
        []
        """
        return [p for run in self._runs for p in run.predictions()]

    async def generate(self, **overrides: Any) -> list[Prediction]:
        """Run one Generate, exactly as the button does, and return its predictions.

        ``overrides`` (``prompt``, ``images``, ``aspect_ratio``, ``seeds``, ``compare``,
        ``guidance_scale``, ``enable_sync_mode``, ``on_busy``) are set on the widget first,
        so it shows what ran. Bad input raises :class:`InvalidRequestError` (also shown
        in the widget) and sends nothing. Failed predictions are returned with
        ``status`` failed; if no seed produced a prediction at all, the first error is
        raised. With ``on_busy="replace"`` a later Generate cancels this one
        (``asyncio.CancelledError``).

        >>> import asyncio
        >>> from kontext_widgets import samples
        >>> async def main() -> list[str]:
        ...     w = KontextWidget(images=[samples.path("shoes")])
        ...     try:
        ...         done = await w.generate(prompt="make them blue", seeds=[3, 4])
        ...     finally:
        ...         await w.aclose()
        ...     return [w.jobs[0]["label"], done[1].status.value]
        >>> asyncio.run(main())
        ['seed 3', 'completed']
        """
        unknown = {k: v for k, v in overrides.items() if k not in _OVERRIDES}
        if unknown:
            raise TypeError(_unknown_message("generate()", unknown, _OVERRIDES))
        self._apply(overrides)
        self.mode = "single"
        return await self._start_generate()

    @property
    def store(self) -> Store:
        """Where sweeps record their cells and images (created at the first use).

        >>> import tempfile
        >>> KontextWidget(store=tempfile.mkdtemp()).store.directory.is_dir()
        True
        """
        if isinstance(self._store_arg, Store):
            return self._store_arg  # the caller's: never closed here
        if self._store is None:
            self._store = Store(self._store_arg)
        return self._store

    @property
    def sweep_result(self) -> SweepResult | None:
        """The last sweep's result (None before the first): cells, images, table, grid.

        A cancelled sweep's result has its unfinished cells ``cancelled``.

        >>> KontextWidget().sweep_result is None
        True
        """
        return self._sweep_result

    async def sweep(self, **overrides: Any) -> SweepResult:
        """Run the sweep mode's Generate, exactly as the button does, and return its result.

        Overrides are named as for :func:`kontext_widgets.sweep` and set the widget's
        traits first (and ``mode`` to ``"sweep"``), so it shows what ran: ``prompt``
        as a list, ``seed`` as a range string (``"1-4"``), a list or a count of random
        seeds, ``guidance_scale`` as ``"2.0:6.0:0.5"`` or a list, ``aspect_ratio`` as
        a list; a single value sets the single-mode setting instead.
        ``concurrency``, ``max_cost_usd`` (``None``: no budget), ``rows``/``cols``
        (the grid's axes), ``images``, ``on_busy`` and ``retry_failed`` too. Bad input
        raises :class:`InvalidRequestError` and a plan above the budget
        :class:`~kontext_widgets.sweeps.BudgetExceededError`; nothing is sent then.
        Completed cells come from the store, so a rerun costs nothing.

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
        '4 cells (guidance_scale × 2, seed × 2); cost $0.16 (simulated: nothing billed); ...'
        """
        unknown = {k: v for k, v in overrides.items() if k not in _SWEEP_OVERRIDES}
        if unknown:
            raise TypeError(_unknown_message("sweep()", unknown, _SWEEP_OVERRIDES))
        retry = overrides.pop("retry_failed", False)
        if not isinstance(retry, bool):
            raise InvalidRequestError([Problem("retry_failed", retry, "expected True or False")])
        self._apply_sweep(overrides)
        return await self._start_sweep(retry_failed=retry)

    async def retry_failed(self) -> SweepResult:
        """Run the last sweep's plan again, resubmitting its failed cells (the button's action).

        Completed cells come from the store at no cost; cells a Cancel stopped run too.
        Raises :class:`RuntimeError` when the last sweep has no failed cells.

        >>> import asyncio
        >>> asyncio.run(KontextWidget().retry_failed())
        Traceback (most recent call last):
        ...
        RuntimeError: Retry failed cells: no sweep has run yet
        """
        return await self._start_retry()

    def cancel(self) -> None:
        """Cancel the running and queued Generates now; their polling stops at once.

        >>> KontextWidget().cancel()  # nothing running: nothing happens
        """
        pending = [task for task in self._tasks if not task.done()]
        for run in self._runs:
            run.cancel_now()  # the jobs say "cancelled" now, not after the loop gets round to it
        for live in self._sweeps:
            if not live.ended:
                live.cancel_now()  # the grid says "cancelled" now
                self._end_sweep(live)
        for task in pending:
            task.cancel()
        if pending:
            self.busy = False
            latest = self._latest
            self.status = latest.status() if latest and latest.state == "cancelled" else "Cancelled"

    def add_image(self, image: ImageInput, *, name: str | None = None) -> str:
        """Append an input image (URL, path, bytes or PIL image); return its id.

        >>> from kontext_widgets import samples
        >>> w = KontextWidget()
        >>> w.add_image(samples.path("person")), w.images[0]["kind"]
        ('img1', 'file')
        """
        self._touch()
        item = self._inputs.add(image, name=name)
        self._sync_images()
        return item.id

    def remove_image(self, image: str) -> None:
        """Remove an input image by id or name.

        >>> w = KontextWidget(images=["https://example.com/a.png"])
        >>> w.remove_image("a.png"); w.images
        []
        """
        self._touch()
        self._inputs.remove(self._image_id(image))
        self._sync_images()

    def move_image(self, image: str, to: int) -> None:
        """Move an input image (by id or name) to position ``to`` (0 is first).

        >>> w = KontextWidget(images=["https://example.com/a.png", "https://example.com/b.png"])
        >>> w.move_image("b.png", 0); [i["name"] for i in w.images]
        ['b.png', 'a.png']
        """
        self._touch()
        self._inputs.move(self._image_id(image), to)
        self._sync_images()

    def clear_images(self) -> None:
        """Remove every input image.

        >>> w = KontextWidget(images=["https://example.com/a.png"])
        >>> w.clear_images(); w.images
        []
        """
        self._touch()
        self._inputs.clear()
        self._sync_images()

    def use_as_input(
        self, output: Prediction | str, *, index: int = 0, replace: bool = False
    ) -> HistoryStep:
        """Put an output back into the input images and record the step in the history.

        ``output`` is a :class:`Prediction` (its image ``index``) or an output key
        (``"<prediction id>:<index>"``, as the front end sends). ``replace=True``
        makes it the only input (successive edits of one picture). Raises
        :class:`InvalidRequestError` when it is unknown or five images are there.

        >>> import asyncio
        >>> from kontext_widgets import samples
        >>> async def main() -> list[str]:
        ...     w = KontextWidget(images=[samples.path("person")], seeds=1)
        ...     try:
        ...         [made] = await w.generate(prompt="give her a red hat")
        ...     finally:
        ...         await w.aclose()
        ...     step = w.use_as_input(made, replace=True)
        ...     return [step.label, step.parents[0], w.images[0]["kind"]]
        >>> asyncio.run(main())
        ['step 1 · seed 1', 'person.png', 'output']
        """
        self._touch()
        record = self._output_record(output, index)
        inputs = self._inputs.copy()  # changed only if the output is accepted
        if replace:
            inputs.clear()
        inputs.add_output(record.image.data, _image_name(record), record.key, self._thumb(record))
        self._inputs = inputs
        request = record.prediction.request
        step = self._history.record(
            key=record.key,
            prompt=request.prompt if request else "",
            seed=request.seed if request else None,
            parents=[i.ref for i in record.inputs],
            label=record.label,
            thumb=self._thumb(record),
            inputs=record.inputs,
        )
        with self.hold_sync():
            self._sync_images()
            self.history = self._history.steps
        return step

    def output(self, key: Prediction | str) -> OutputImage:
        """The full-size output image with this key (bytes, URL, ``save(path)``).

        >>> KontextWidget().output("nope:0")
        Traceback (most recent call last):
        ...
        kontext_widgets.errors.InvalidRequestError: key: 'nope:0' is not allowed; ...
        """
        return self._output_record(key, 0).image

    def code_for(self, key: Prediction | str) -> str:
        """The Python call that reproduces an output (what "Copy Python call" copies).

        ``key`` is an output key or a :class:`Prediction` this widget made. Never
        contains the API key: ``kw.Client()`` reads it from the environment. Local
        images appear as their paths (or names, with a comment).

        >>> import asyncio
        >>> from kontext_widgets import samples
        >>> async def main() -> str:
        ...     w = KontextWidget(prompt="a red hat", images=[samples.path("person")], seeds=5)
        ...     try:
        ...         [made] = await w.generate()
        ...     finally:
        ...         await w.aclose()
        ...     return w.code_for(made)
        >>> print(asyncio.run(main()))  # doctest: +ELLIPSIS
        import kontext_widgets as kw
        ...
        async with kw.Client() as client:
            prediction = await client.run(
                prompt='a red hat',
                images=[
                    '...person.png',  # a local file
                ],
                seed=5,
                guidance_scale=3.5,
            )
        kw.show(prediction)
        """
        return _python_call(self._output_record(key, 0))

    def show_history(self) -> None:
        """Show the edit history inline: the starting inputs, then each step.

        >>> KontextWidget().show_history()
        No edit has been used as an input yet.
        """
        items = self._history.strip()
        if not items:
            print("No edit has been used as an input yet.")
            return
        show_strip(items, title="Edit history, oldest first")

    def close(self) -> None:
        """Cancel any run, close the client if the widget created it, and close the widget.

        Outside a running event loop the client's connections close with their loop;
        in async code prefer ``await w.aclose()``.

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

    def _stop_everything(self) -> None:
        self._tasks = [task for task in self._tasks if not task.get_loop().is_closed()]
        self.cancel()
        for task in list(self._side_tasks):
            if not task.get_loop().is_closed():
                task.cancel()
        self._release_store()
        if self._owns_client:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            # Referenced until done, so the loop does not drop it half-way.
            task = loop.create_task(self._client.close())
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    async def aclose(self) -> None:
        """:meth:`close`, then wait until the cancelled runs end and the client is closed.

        >>> import asyncio
        >>> w = KontextWidget()
        >>> asyncio.run(w.aclose()); w.comm is None
        True
        """
        loop = asyncio.get_running_loop()
        stopping = [task for task in self._tasks if not task.done() and task.get_loop() is loop]
        self.close()
        # The cancelled runs end (and let go of the store and the client) before we return.
        await asyncio.gather(*stopping, return_exceptions=True)
        side = [task for task in self._side_tasks if task.get_loop() is loop]
        await asyncio.gather(*side, return_exceptions=True)
        if self._owns_client:
            await self._client.close()

    def _release_store(self) -> None:
        """Close the store the widget opened, once the cancelled sweeps have let go of it."""
        store, self._store = self._store, None
        if store is None or isinstance(self._store_arg, Store):
            return
        pending = [task for task in self._tasks if not task.done()]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            store.close()
            return
        if not pending:
            store.close()
            return

        async def when_stopped() -> None:
            await asyncio.gather(*pending, return_exceptions=True)
            store.close()

        task = loop.create_task(when_stopped())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # ======================================================================= front end messages

    def _handle_custom_msg(self, content: Any, buffers: Sequence[Any]) -> None:
        """Every custom message from the front end arrives here (ipywidgets calls it).

        Handlers return at once; work that waits goes into tasks. Nothing raises out
        of here (ipywidgets would only log it): problems go to ``error``/``problems``.
        """
        kind = content.get("type") if isinstance(content, Mapping) else None
        handler = self._HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if isinstance(content, Mapping) and "type" in content:
                self._show_error(f"unknown message from the front end: type {kind!r}")
            super()._handle_custom_msg(content, buffers)  # anywidget's own commands, on_msg()
            return
        assert isinstance(content, Mapping)
        try:
            handler(self, content, [bytes(b) for b in buffers or ()])
        except InvalidRequestError as exc:
            self._show_error(str(exc))
        except Exception as exc:
            log.exception("handling %r from the front end failed", kind)
            self._show_error(describe_error(exc))

    def _msg_generate(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        # Problems are already in the `problems` trait, where the front end shows them.
        with contextlib.suppress(InvalidRequestError, BudgetExceededError):
            if self.mode == "sweep":
                self._start_sweep()
            elif self.mode == "single":
                self._start_generate()
            else:
                self._touch()
                self._refuse(
                    [Problem("mode", self.mode, "expected " + " or ".join(map(repr, MODES)))]
                )

    def _msg_retry_failed(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        try:
            self._start_retry()
        except RuntimeError as exc:
            self._show_error(str(exc))

    def _msg_cancel(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self._touch()
        self.cancel()

    def _msg_add_url(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self._touch()
        url = content.get("url")
        self._inputs.add_url(url.strip() if isinstance(url, str) else url)  # type: ignore[arg-type]
        self._sync_images()

    def _msg_add_files(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self._touch()
        names = content.get("names")
        if not isinstance(names, list) or len(names) != len(buffers):
            # A malformed message is bad input, not a failure of ours: shown, not logged.
            self._show_error(
                f"add_files: got {len(buffers)} file(s) but names {names!r:.200}; "
                "expected one name per file"
            )
            return
        refused: list[str] = []
        for name, data in zip(names, buffers, strict=True):
            try:
                self._inputs.add_file(data, str(name))
            except InvalidRequestError as exc:
                refused.append(str(exc))  # keep the files that fit; say why the others did not
        self._sync_images()
        if refused:
            self._show_error("; ".join(refused))

    def _msg_remove_image(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self.remove_image(str(content.get("id")))

    def _msg_move_image(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self.move_image(str(content.get("id")), content.get("to"))  # type: ignore[arg-type]

    def _msg_use_as_input(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        self.use_as_input(str(content.get("key")))

    def _msg_fetch_full(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        request_id = str(content.get("request_id", ""))
        try:
            record = self._output_record(str(content.get("key")), 0)
        except InvalidRequestError as exc:
            self.send({"type": "full", "request_id": request_id, "error": str(exc)})
            return
        image = record.image
        mime = _mime(image.data)
        answer = {
            "type": "full",
            "request_id": request_id,
            "mime": mime,
            "name": _file_name(record, mime),
        }
        self.send(answer, [image.data])

    def _msg_fetch_input(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        request_id = str(content.get("request_id", ""))
        index = content.get("index")
        items = self._inputs.items
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
            self.send(
                {
                    "type": "full",
                    "request_id": request_id,
                    "error": f"no input image at index {index!r} ({len(items)} input images)",
                }
            )
            return
        item = items[index]
        if isinstance(item.source, str):  # a URL: the browser loads it itself
            self.send({"type": "full", "request_id": request_id, "url": item.source})
            return
        answer = {
            "type": "full",
            "request_id": request_id,
            "mime": item.source.content_type,
            "name": item.name,
        }
        self.send(answer, [item.source.data])

    def _msg_copy_code(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        request_id = str(content.get("request_id", ""))
        try:
            code = self.code_for(str(content.get("key")))
        except InvalidRequestError as exc:
            self.send({"type": "code", "request_id": request_id, "error": str(exc)})
            return
        self.send({"type": "code", "request_id": request_id, "code": code})

    def _msg_frontend_error(self, content: Mapping[str, Any], buffers: list[bytes]) -> None:
        message = str(content.get("message") or "unknown error")
        log.error("front end error: %s", message)
        self.error = f"Front end error: {message[:2000]}"

    _HANDLERS: Final = {
        "generate": _msg_generate,
        "retry_failed": _msg_retry_failed,
        "cancel": _msg_cancel,
        "add_url": _msg_add_url,
        "add_files": _msg_add_files,
        "remove_image": _msg_remove_image,
        "move_image": _msg_move_image,
        "use_as_input": _msg_use_as_input,
        "fetch_full": _msg_fetch_full,
        "fetch_input": _msg_fetch_input,
        "copy_code": _msg_copy_code,
        "frontend_error": _msg_frontend_error,
    }

    # ======================================================================= running

    def _start_generate(self) -> asyncio.Task[list[Prediction]]:
        """Check, plan and start a Generate now; raise InvalidRequestError (shown) if bad."""
        self._touch()
        loop = _running_loop()
        problems: list[Problem] = []
        if self.on_busy not in ON_BUSY:
            problems.append(Problem("on_busy", self.on_busy, "expected 'replace' or 'queue'"))
        try:
            plan, base_seed = plan_run(
                self._settings(),
                self._inputs.items,
                run_id=f"run{self._run_count + 1}",
                draw_seed=_random_seed,
            )
        except InvalidRequestError as exc:
            problems[:0] = exc.problems
        if problems:
            self.problems = problem_entries(problems)
            self.status = "Nothing was sent: see the marked settings"
            raise InvalidRequestError(problems)
        self._run_count += 1
        if not self.seed_locked and not self.seed_list.strip():
            self.seed = base_seed  # drawn for this run: shown before it starts
        return self._enqueue(loop, lambda waiting_for: self._execute(plan, waiting_for))

    def _enqueue(
        self,
        loop: asyncio.AbstractEventLoop,
        make_work: Callable[[list[asyncio.Task[Any]]], Coroutine[Any, Any, T]],
    ) -> asyncio.Task[T]:
        """Start a run as a task: replacing the running ones, or after them ("queue")."""
        if self.on_busy == "replace":
            self.cancel()
        waiting_for = [task for task in self._tasks if not task.done()]
        work = make_work(waiting_for)
        task = loop.create_task(self._guard(work))
        self._tasks.append(task)
        task.add_done_callback(self._task_done)
        task.add_done_callback(_close(work))
        self.busy = True
        if waiting_for:
            self.status = f"{self.status} · {len(waiting_for)} queued"
        return task

    async def _execute(self, plan: Plan, waiting_for: list[asyncio.Task[Any]]) -> list[Prediction]:
        if waiting_for:
            await asyncio.wait(waiting_for)  # "queue": start when the earlier ones end
        plan = await resolve_first_ratio(plan, self._client)
        run = Run(plan, self._client, on_change=self._show_run, thumbs=self._thumbs)
        self._runs.append(run)
        self._current = run
        self._latest = run
        self._show_run(run)
        predictions = await run.execute()
        failures = [job.exception for job in run.jobs if job.exception is not None]
        if failures and not predictions:
            raise failures[0]  # nothing came back at all: that is an error of the whole run
        if failures:
            self._show_error(
                f"{len(failures)} of {len(run.jobs)} failed: {describe_error(failures[0])}"
            )
        return predictions

    def _refuse(self, problems: Sequence[Problem]) -> None:
        """Show the problems of a click that sends nothing, and raise them."""
        self.problems = problem_entries(problems)
        self.status = "Nothing was sent: see the marked settings"
        raise InvalidRequestError(problems)

    # -- sweep mode ---------------------------------------------------------------------------

    def _sweep_settings(self) -> SweepSettings:
        return SweepSettings(
            prompt=self.prompt,
            aspect_ratio=self.aspect_ratio,
            seed=self.seed,
            guidance_scale=self.guidance_scale,
            seeds=self.sweep_seeds,
            guidance=self.sweep_guidance,
            ratios=tuple(self.sweep_ratios),
            prompts=self.sweep_prompts,
            concurrency=self.sweep_concurrency,
            budget=self.sweep_budget,
            allow_over_budget=self.sweep_allow_over_budget,
            rows=self.sweep_rows,
            cols=self.sweep_cols,
        )

    def _sweep_setup(self) -> SweepSetup:
        # The input list holds URLs and LocalImage bytes: planning reads no file.
        return plan_widget_sweep(
            self._sweep_settings(), self._inputs.items, random_seed=self._sweep_draw
        )

    @t.observe(
        "mode",
        "prompt",
        "aspect_ratio",
        "seed",
        "guidance_scale",
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
    def _sweep_setting_changed(self, change: Mapping[str, Any]) -> None:
        if not getattr(self, "_open", False):
            return  # still in __init__ (or closed)
        if change["name"] == "sweep_seeds":
            self._sweep_draw = _random_seed()  # a new count of random seeds: new seeds
        self._replan()

    def _replan(self) -> None:
        """Update ``sweep_plan`` and ``sweep_axes`` (only in sweep mode: planning is not free)."""
        if self.mode != "sweep":
            return
        axes: list[str] = []
        try:
            setup = self._sweep_setup()
        except InvalidRequestError as exc:
            text = problem_line(exc.problems)
        except Exception as exc:  # an observer must not raise into the trait machinery
            log.exception("planning the sweep failed")
            text = f"Cannot plan the sweep: {describe_error(exc)}"
        else:
            axes = list(setup.plan.axes)
            text = plan_line(
                setup,
                seconds_per_task=expected_task_seconds(self._client),
                simulated=self._client.simulated,
                balance=self.balance,
            )
        with self.hold_sync():
            self.sweep_plan = text
            self.sweep_axes = axes

    def _apply_sweep(self, overrides: Mapping[str, Any]) -> None:
        """Check ``sweep()``'s overrides, then set them all (or none: problems shown and raised)."""
        self._touch()
        values, general, problems = _sweep_values(overrides)
        settings = dataclasses.replace(
            self._sweep_settings(),
            seeds=values.get("sweep_seeds", self.sweep_seeds),
            guidance=values.get("sweep_guidance", self.sweep_guidance),
            ratios=values.get("sweep_ratios", tuple(self.sweep_ratios)),
            prompts=values.get("sweep_prompts", self.sweep_prompts),
            concurrency=values.get("sweep_concurrency", self.sweep_concurrency),
            budget=values.get("sweep_budget", self.sweep_budget),
            rows=values.get("sweep_rows", self.sweep_rows),
            cols=values.get("sweep_cols", self.sweep_cols),
        )
        problems += check_run_settings(settings)
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
        if problems:
            self._refuse(problems)
        self._apply(general)
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)
            self.mode = "sweep"

    def _start_sweep(
        self, *, retry_failed: bool = False, setup: SweepSetup | None = None
    ) -> asyncio.Task[SweepResult]:
        """Check, plan and start a sweep now; raise (and show) what is wrong or over budget."""
        self._touch()
        loop = _running_loop()
        problems: list[Problem] = []
        if self.on_busy not in ON_BUSY:
            problems.append(Problem("on_busy", self.on_busy, "expected 'replace' or 'queue'"))
        if setup is None:
            try:
                setup = self._sweep_setup()
            except InvalidRequestError as exc:
                problems[:0] = exc.problems
        if problems or setup is None:
            self._refuse(problems)
        assert setup is not None
        if not retry_failed:
            try:
                setup.plan.check_budget(setup.budget)
            except BudgetExceededError as exc:
                message = (
                    f"sweep_budget: this sweep has {exc.cells} cells and would cost "
                    f"${exc.cost:.2f}, above the budget of ${exc.budget:.2f}; nothing was sent. "
                    "Raise Budget (USD), tick Allow over budget, or make an axis shorter"
                )
                self.problems = [{"field": "sweep_budget", "message": message}]
                self.status = "Nothing was sent: the sweep is above the budget"
                raise
        self._sweep_count += 1
        sweep_id = f"sweep{self._sweep_count}"
        return self._enqueue(
            loop,
            lambda waiting_for: self._execute_sweep(sweep_id, setup, retry_failed, waiting_for),
        )

    def _start_retry(self) -> asyncio.Task[SweepResult]:
        setup = self._last_sweep
        if setup is None:
            raise RuntimeError("Retry failed cells: no sweep has run yet")
        if not self.sweep_failed:
            raise RuntimeError("Retry failed cells: the last sweep has no failed cells")
        return self._start_sweep(retry_failed=True, setup=setup)

    async def _execute_sweep(
        self,
        sweep_id: str,
        setup: SweepSetup,
        retry_failed: bool,
        waiting_for: list[asyncio.Task[Any]],
    ) -> SweepResult:
        if waiting_for:
            await asyncio.wait(waiting_for)  # "queue": start when the earlier ones end
        if setup.ratio_from_url is not None:
            setup = await self._resolve_sweep_ratio(setup)
        store = self.store
        live = LiveSweep(
            sweep_id,
            setup.plan,
            store,
            self._client.simulated,
            rows=setup.rows,
            cols=setup.cols,
            inputs=setup.inputs,
            retry=retry_failed,
            task=asyncio.current_task(),
        )
        self._sweeps = [s for s in self._sweeps if not s.ended] + [live]
        self._latest = live
        self._last_sweep = setup
        with self.hold_sync():
            self.jobs = []
            self.sweep_failed = 0
            self._show_sweep(live)
        runner = SweepRunner(
            self._client, store, concurrency=setup.concurrency, on_progress=live.on_progress
        )
        refresher = asyncio.ensure_future(self._refresh_sweep(live))
        try:
            outcomes = await runner.run(setup.plan, retry_failed=retry_failed)
        except asyncio.CancelledError:
            live.cancel_now()
            self._end_sweep(live)
            raise
        except Exception as exc:
            live.cancel_now("failed", describe_error(exc))
            self._end_sweep(live)
            raise
        finally:
            refresher.cancel()
        live.finish(outcomes)
        await self._sweep_thumbnails(live)
        result = self._end_sweep(live)
        if result.failed:
            self._show_error(
                f"{len(result.failed)} of {len(result.outcomes)} cells failed: "
                f"{result.failed[0].error or 'failed'} (Retry failed cells submits them again)"
            )
        return result

    async def _resolve_sweep_ratio(self, setup: SweepSetup) -> SweepSetup:
        """For "first" with a URL first image: read its size once, then plan with that ratio."""
        url = setup.ratio_from_url
        assert url is not None
        return with_ratio(setup, await ratio_of_url(self._client, url))

    async def _refresh_sweep(self, live: LiveSweep) -> None:
        """Re-render a running sweep as its cells change, at most every SWEEP_REFRESH_S."""
        while not live.ended:
            await live.changed.wait()
            live.changed.clear()
            try:
                await self._sweep_thumbnails(live)
                if live.ended:
                    return
                self._show_sweep(live)
            except Exception:  # the display must not stop the sweep
                log.exception("updating the sweep's grid failed")
            await asyncio.sleep(SWEEP_REFRESH_S)

    async def _sweep_thumbnails(self, live: LiveSweep) -> None:
        """Thumbnails of newly finished cells, made off the event loop (decoding takes time)."""
        for outcome in list(live.outcomes):
            if outcome.state != "done" or not outcome.outputs:
                continue
            sha = outcome.outputs[0]
            if sha in self._sweep_thumbs:
                continue
            try:
                uri = await asyncio.to_thread(_store_thumbnail, live.store, sha)
            except (OSError, ValueError) as exc:
                log.warning("cannot show sweep output %s: %s", sha, exc)
                continue  # the grid shows a placeholder with the reason
            self._sweep_thumbs[sha] = uri

    def _end_sweep(self, live: LiveSweep) -> SweepResult:
        """A sweep ended (finished, cancelled or stopped): its result, failures and last render."""
        result = live.result()
        if live is self._latest:
            self._sweep_result = result
            self.sweep_failed = len(result.failed)
        self._show_sweep(live)
        return result

    def _show_sweep(self, live: LiveSweep) -> None:
        """Re-render one sweep's row, and its progress and status when it is the latest run."""
        row: dict[str, Any] | None = None
        if live.id not in self._dropped_rows:
            outputs: list[dict[str, str]] = []

            def hook(outcome: CellOutcome) -> str | None:
                key = self._sweep_output(live, outcome)
                if key is not None:
                    label = self._sweep_outputs[key].label
                    outputs.append({"key": key, "label": label, "state": "done"})
                return key

            html_text = grid_html(
                live.result(),
                rows=live.rows,
                cols=live.cols,
                thumb_px=SWEEP_THUMB_PX,
                thumbs=self._sweep_thumbs,
                hooks=hook,
            )
            row = {"id": live.id, "title": live.title(), "html": html_text, "outputs": outputs}
        # The sweep's own task is running it, not waiting.
        waiting = sum(not task.done() and task is not live.task for task in self._tasks)
        with self.hold_sync():
            if row is not None:
                self._put_row(row)
            if live is self._latest:
                self.sweep_progress = live.progress_trait()
                self.status = live.status() + (f" · {waiting} queued" if waiting > 0 else "")
            self.simulated = self._client.simulated

    def _sweep_output(self, live: LiveSweep, outcome: CellOutcome) -> str | None:
        """The output key of a done cell (registered so the tile's buttons work), else None."""
        if outcome.state != "done" or not outcome.outputs or not outcome.prediction_id:
            return None
        key = output_key(outcome.prediction_id, 0)
        if key not in self._sweep_outputs:
            cell = live.cell(outcome.index)
            self._sweep_outputs[key] = _SweepOutput(
                store=live.store,
                sha=outcome.outputs[0],
                prediction_id=outcome.prediction_id,
                label=cell_label(outcome.coords, outcome.index),
                request=cell.request,
                inputs=live.inputs,
                simulated=live.simulated,
            )
        return key

    def _put_row(self, row: dict[str, Any]) -> None:
        """Add or replace a gallery row (the oldest are dropped beyond MAX_ROWS)."""
        self._rows[row["id"]] = row
        while len(self._rows) > MAX_ROWS:
            oldest = next(iter(self._rows))
            del self._rows[oldest]
            self._dropped_rows.add(oldest)
        self.rows = list(self._rows.values())

    async def _guard(self, work: Awaitable[T]) -> T:
        """Run work in a task so that no exception is lost: shown in the widget and logged."""
        try:
            return await work
        except asyncio.CancelledError:
            raise
        except InvalidRequestError as exc:
            self.problems = problem_entries(exc.problems)
            self.status = "Nothing was sent: see the marked settings"
            raise
        except Exception as exc:
            log.exception("the Generate failed")
            self._show_error(describe_error(exc))
            raise

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        self.busy = any(not t.done() for t in self._tasks)
        if not task.cancelled():
            task.exception()  # retrieved: it is already in `error` and the log

    def _show_run(self, run: Run) -> None:
        """Re-render one run's traits: called after every change of one of its jobs."""
        for job in run.jobs:
            prediction = job.prediction
            if job.state == "done" and prediction is not None:
                for index in range(len(prediction.images)):
                    key = output_key(prediction.id, index)
                    if key not in self._outputs:
                        self._outputs[key] = _Output(
                            key, prediction, index, job.label, run.plan.inputs
                        )
        if run.id in self._dropped_rows:
            return
        made = widget_row(
            run.items(), title=f"Run {run.id.removeprefix('run')}", thumbs=self._thumbs
        )
        row = {
            "id": run.id,
            "title": made.title,
            "html": made.html,
            "outputs": [dataclasses.asdict(o) for o in made.outputs],
        }
        # Called from inside the run's own task, so that one is not "waiting".
        waiting = sum(not task.done() for task in self._tasks) - 1
        with self.hold_sync():
            if run is self._current and run is self._latest:
                self.jobs = [job.trait() for job in run.jobs]
                self.status = run.status() + (f" · {waiting} queued" if waiting > 0 else "")
            self._put_row(row)
            self.simulated = self._client.simulated

    async def _fetch_balance(self) -> None:
        try:
            balance = await self._client.balance()
        except Exception as exc:
            log.warning("could not read the balance: %s", describe_error(exc))
            self._show_error(f"could not read the balance: {describe_error(exc)}")
            return
        self.simulated = self._client.simulated
        self.balance = None if self.simulated else balance

    def _in_background(self, work: Awaitable[None]) -> None:
        """Start side work (e.g. the balance) if a loop runs; never blocks."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if asyncio.iscoroutine(work):
                work.close()
            return
        task = loop.create_task(self._guard(work))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_done)
        if asyncio.iscoroutine(work):
            task.add_done_callback(_close(work))

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled():
            task.exception()

    # ======================================================================= helpers

    def _settings(self) -> Settings:
        return Settings(
            prompt=self.prompt,
            aspect_ratio=self.aspect_ratio,
            seed=self.seed,
            seed_locked=self.seed_locked,
            compare=self.compare,
            seed_list=self.seed_list,
            guidance_scale=self.guidance_scale,
            sync_mode=self.sync_mode,
        )

    def _apply(self, overrides: Mapping[str, Any]) -> None:
        """Check every override, then set them all (or none: problems shown and raised)."""
        self._touch()
        values, problems = _settings_values(overrides)
        new_inputs: InputList | None = None
        if "images" in overrides:
            new_inputs = self._inputs.copy()
            try:
                new_inputs.replace_all(overrides["images"])
            except InvalidRequestError as exc:
                problems += exc.problems
        if problems:
            self.problems = problem_entries(problems)
            self.status = "Nothing was sent: see the marked settings"
            raise InvalidRequestError(problems)
        with self.hold_sync():
            for name, value in values.items():
                setattr(self, name, value)
            if new_inputs is not None:
                self._inputs = new_inputs
                self._sync_images()

    def _touch(self) -> None:
        """A new action: the last error and problems have been seen."""
        if self.error:
            self.error = ""
        if self.problems:
            self.problems = []

    def _show_error(self, message: str) -> None:
        self.error = message

    def _sync_images(self) -> None:
        self.images = self._inputs.trait()

    def _image_id(self, image: str) -> str:
        for item in self._inputs:
            if image in (item.id, item.name):
                return item.id
        return image  # InputList.find() explains what ids there are

    def _output_record(self, output: Prediction | str, index: int) -> _Output:
        if isinstance(output, Prediction):
            key = output_key(output.id, index)
            if key not in self._outputs:
                if output.status is not Status.COMPLETED or not 0 <= index < len(output.images):
                    raise InvalidRequestError(
                        [Problem("output", output.id, "expected a completed prediction's image")]
                    )
                # A prediction made elsewhere (e.g. with kw.Client): adopt it.
                self._outputs[key] = _Output(key, output, index, f"prediction {output.id}", ())
            return self._outputs[key]
        record = self._outputs.get(output) if isinstance(output, str) else None
        if record is None and isinstance(output, str) and output in self._sweep_outputs:
            record = self._adopt_sweep_output(output)
        if record is None:
            raise InvalidRequestError(
                [
                    Problem(
                        "key",
                        output,
                        "expected the key of an output of this widget ('<prediction id>:<index>')",
                    )
                ]
            )
        return record

    def _adopt_sweep_output(self, key: str) -> _Output:
        """A sweep cell's output as the widget's other outputs are (read from the store once)."""
        made = self._sweep_outputs[key]
        try:
            data = made.store.read_image(made.sha)
        except OSError as exc:
            raise InvalidRequestError(
                [Problem("key", key, f"an output whose image is in the sweep store ({exc})")]
            ) from None
        prediction = Prediction(
            id=made.prediction_id,
            status=Status.COMPLETED,
            images=(OutputImage(url="", data=data),),
            request=made.request,
            simulated=made.simulated,
        )
        record = _Output(key, prediction, 0, made.label, made.inputs)
        self._outputs[key] = record
        return record

    def _thumb(self, record: _Output) -> str:
        thumb = self._thumbs.get(record.key)
        if thumb is None:
            thumb = thumbnail_data_uri(record.image.data)
            self._thumbs[record.key] = thumb
        return thumb


# --------------------------------------------------------------------------- module helpers


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        # Inside ipykernel this is the kernel's loop, which keeps running between cells.
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "KontextWidget runs its work on the notebook's event loop: use it in Jupyter, "
            "or call `await widget.generate()` from async code"
        ) from None


def _has_key(client: Client) -> bool:
    # The balance is worth asking for only with a key (a real account, or a simulator that
    # checks keys).
    return client.has_key and not client.simulated


def _random_seed() -> int:
    # Leaves room for comparing MAX_COMPARE seeds upwards from it.
    return secrets.randbelow(SEED_MAX - MAX_COMPARE + 2)


def _unknown_message(where: str, unknown: Mapping[str, object], allowed: Sequence[str]) -> str:
    names = sorted(unknown)
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, allowed, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    noun = "argument" if len(names) == 1 else "arguments"
    article = "an unknown" if len(names) == 1 else "unknown"
    return f"{where} got {article} keyword {noun} {', '.join(hints)}; allowed: {', '.join(allowed)}"


def _settings_values(given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Trait values for constructor/override settings, checked like a request's fields."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    if "prompt" in given:
        if isinstance(given["prompt"], str):
            values["prompt"] = given["prompt"]
        else:
            problems.append(Problem("prompt", given["prompt"], ALLOWED["prompt"]))
    if "aspect_ratio" in given:
        ratio = given["aspect_ratio"]
        problem = check_aspect_setting("" if ratio is None else ratio)
        if problem:
            problems.append(dataclasses.replace(problem, value=ratio))
        else:
            values["aspect_ratio"] = ratio or ""
    if "guidance_scale" in given:
        problem = check_guidance(given["guidance_scale"])
        if problem:
            problems.append(problem)
        else:
            values["guidance_scale"] = float(given["guidance_scale"])
    if "enable_sync_mode" in given:
        problem = check_sync_mode(given["enable_sync_mode"])
        if problem:
            problems.append(problem)
        else:
            values["sync_mode"] = given["enable_sync_mode"]
    if "on_busy" in given:
        if given["on_busy"] in ON_BUSY:
            values["on_busy"] = given["on_busy"]
        else:
            problems.append(Problem("on_busy", given["on_busy"], "expected 'replace' or 'queue'"))
    if "seeds" in given:
        seed_values, seed_problems = _seed_values(given["seeds"])
        values.update(seed_values)
        problems += seed_problems
    if "compare" in given:
        problem = check_compare(given["compare"])
        if problem:
            problems.append(problem)
        else:
            values["compare"] = given["compare"]
            values.setdefault("seed_list", "")
    return values, problems


def _seed_values(seeds: object) -> tuple[dict[str, Any], list[Problem]]:
    allowed = (
        f"expected None (random), a seed from 0 to {SEED_MAX}, or a list of up to "
        f"{MAX_COMPARE} different seeds"
    )
    if seeds is None:
        return {"seed_locked": False, "seed_list": ""}, []
    if isinstance(seeds, bool):
        return {}, [Problem("seeds", seeds, allowed)]
    if isinstance(seeds, int):
        if not 0 <= seeds <= SEED_MAX:
            return {}, [Problem("seeds", seeds, allowed)]
        return {"seed": seeds, "seed_locked": True, "seed_list": "", "compare": 1}, []
    if isinstance(seeds, str):
        text = seeds
    elif isinstance(seeds, Iterable):
        listed = list(seeds)
        if not listed or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= SEED_MAX for s in listed
        ):
            return {}, [Problem("seeds", listed, allowed)]
        text = ", ".join(str(s) for s in listed)
    else:
        return {}, [Problem("seeds", seeds, allowed)]
    try:
        parsed = parse_seed_list(text)
    except InvalidRequestError as exc:
        return {}, [dataclasses.replace(p, field="seeds") for p in exc.problems]
    if not parsed:
        return {}, [Problem("seeds", seeds, allowed)]
    return {"seed": parsed[0], "seed_locked": True, "seed_list": ", ".join(map(str, parsed))}, []


def _store_thumbnail(store: Store, sha: str) -> str:
    return thumbnail_data_uri(store.read_image(sha), SWEEP_THUMB_PX)


def _sweep_values(
    given: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[Problem]]:
    """``sweep()``'s overrides as sweep traits, single-mode overrides (for ``_apply``), problems.

    A list (or range string, or count of seeds) is an axis; a single value sets the
    single-mode setting and clears the axis.
    """
    values: dict[str, Any] = {}
    general: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in ("images", "on_busy"):
        if name in given:
            general[name] = given[name]
    if "prompt" in given:
        prompt = given["prompt"]
        if isinstance(prompt, (list, tuple)):
            if not prompt or not all(isinstance(p, str) and "\n" not in p for p in prompt):
                problems.append(
                    Problem("prompt", prompt, "expected a prompt or a list of one-line prompts")
                )
            else:
                values["sweep_prompts"] = "\n".join(prompt)
        else:
            general["prompt"] = prompt
            values["sweep_prompts"] = ""
    if "seed" in given:
        seed = given["seed"]
        if seed is None:
            values["sweep_seeds"] = ""
        elif isinstance(seed, str):
            values["sweep_seeds"] = seed
        elif isinstance(seed, int) and not isinstance(seed, bool):
            values["sweep_seeds"] = str(seed)  # as for kw.sweep: a count of random seeds
        elif isinstance(seed, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in seed
        ):
            values["sweep_seeds"] = ", ".join(str(v) for v in seed)
        else:
            problems.append(
                Problem(
                    "seed",
                    seed,
                    "expected a list of seeds, a range such as '1-4', a count of random seeds "
                    "or None (the Seed field)",
                )
            )
    if "guidance_scale" in given:
        guidance = given["guidance_scale"]
        if isinstance(guidance, str):
            values["sweep_guidance"] = guidance
        elif isinstance(guidance, (list, tuple)):
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in guidance):
                values["sweep_guidance"] = ", ".join(repr(float(v)) for v in guidance)
            else:
                problems.append(Problem("guidance_scale", guidance, "expected numbers"))
        else:
            general["guidance_scale"] = guidance
            values["sweep_guidance"] = ""
    if "aspect_ratio" in given:
        ratio = given["aspect_ratio"]
        if isinstance(ratio, (list, tuple)):
            values["sweep_ratios"] = list(ratio)
        else:
            general["aspect_ratio"] = ratio
            values["sweep_ratios"] = []
    if "concurrency" in given:
        values["sweep_concurrency"] = given["concurrency"]
    if "max_cost_usd" in given:
        budget = given["max_cost_usd"]
        if budget is None:
            values["sweep_allow_over_budget"] = True
        else:
            values["sweep_budget"] = budget
            values["sweep_allow_over_budget"] = False
    for name in ("rows", "cols"):
        if name in given:
            axis = given[name]
            if axis is None or isinstance(axis, str):
                values[f"sweep_{name}"] = axis or ""
            else:
                problems.append(Problem(name, axis, "expected an axis name or None"))
    return values, general, problems


def _mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _file_name(record: _Output, mime: str) -> str:
    request = record.prediction.request
    seed = f"-seed{request.seed}" if request and request.seed is not None else ""
    safe_id = re.sub(r"[^A-Za-z0-9]", "", record.prediction.id)[:12] or "output"
    index = f"-{record.index + 1}" if len(record.prediction.images) > 1 else ""
    return f"kontext-{safe_id}{seed}{index}{_MIME_EXT.get(mime, '.img')}"


def _image_name(record: _Output) -> str:
    short = re.sub(r"[^A-Za-z0-9]", "", record.prediction.id)[:6]
    return f"{record.label} · {short}" if short else record.label


def _comment(text: str) -> str:
    """Text safe inside a ``#`` comment: one line, no control characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:200]


def _python_call(record: _Output) -> str:
    request: KontextRequest | None = record.prediction.request
    if request is None:
        raise InvalidRequestError(
            [Problem("key", record.key, "an output made by this widget (its request is known)")]
        )
    lines = [
        "import kontext_widgets as kw",
        "",
        f"# Reproduces {_comment(record.label)} (output {_comment(record.key)}).",
        "# kw.Client() reads WAVESPEED_API_KEY from the environment (no key: the offline",
        f"# simulator); with a key this costs ${PRICE_PER_IMAGE_USD:.2f}.",
        "async with kw.Client() as client:",
        "    prediction = await client.run(",
        f"        prompt={request.prompt!r},",
        "        images=[",
    ]
    inputs = list(record.inputs)
    for position, source in enumerate(request.images):
        item = inputs[position] if position < len(inputs) else None
        if isinstance(source, str):
            lines.append(f"            {source!r},")
        elif item is not None and item.path:
            lines.append(f"            {item.path!r},  # a local file")
        elif item is not None and item.kind == "output":
            name = f"{_file_name_of_key(item)}.png"
            lines.append(
                f"            {name!r},  # output {_comment(item.key or '')} of an earlier edit: "
                "download it and put its path here"
            )
        else:
            lines.append(
                f"            {source.name!r},  # a file from your computer: put its path here"
            )
    lines.append("        ],")
    if request.seed is not None:
        lines.append(f"        seed={request.seed},")
    lines.append(f"        guidance_scale={request.guidance_scale!r},")
    if request.aspect_ratio is not None:
        lines.append(f"        aspect_ratio={request.aspect_ratio!r},")
    if request.enable_sync_mode:
        lines.append("        enable_sync_mode=True,")
    lines += ["    )", "kw.show(prediction)", ""]
    return "\n".join(lines)


def _file_name_of_key(item: InputImage) -> str:
    return "kontext-" + (re.sub(r"[^A-Za-z0-9]", "", item.key or item.name)[:16] or "output")


def _close(work: Coroutine[Any, Any, Any]) -> Callable[[asyncio.Task[Any]], None]:
    """A done-callback that closes ``work``: a task cancelled before its first step never
    awaited it, and Python would warn that the coroutine was never awaited."""

    def close(_task: asyncio.Task[Any]) -> None:
        work.close()  # a no-op for a coroutine that ran to its end

    return close
