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
import re
import secrets
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import anywidget
import traitlets as t

from ._frontend import require_bundle
from .client import Client
from .contract import GUIDANCE_DEFAULT, PRICE_PER_IMAGE_USD, SEED_MAX, Status
from .errors import InvalidRequestError, Problem
from .gallery import output_key, show_strip, thumbnail_data_uri, widget_row
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
    resolve_first_ratio,
)
from .payload import ALLOWED, check_guidance, check_sync_mode
from .prediction import OutputImage, Prediction
from .request import ImageInput, KontextRequest

__all__ = ["MAX_ROWS", "KontextWidget"]

log = logging.getLogger("kontext_widgets")

# Read once at import: a missing bundle is a clear FrontendBundleMissingError, not anywidget's
# bare FileNotFoundError from inside its class machinery.
_ESM, _CSS = require_bundle()

#: Runs kept in the ``rows`` trait (oldest dropped first): every row's thumbnails are saved
#: in the notebook and resent on each change. ``w.results`` keeps every prediction.
MAX_ROWS: Final = 8
ON_BUSY: Final = ("replace", "queue")

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

    # -- set by Python only -----------------------------------------------------------------
    images = t.List(t.Dict()).tag(sync=True)
    simulated = t.Bool(False).tag(sync=True)
    price_per_image = t.Float(PRICE_PER_IMAGE_USD).tag(sync=True)
    balance = t.Float(None, allow_none=True).tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    jobs = t.List(t.Dict()).tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    problems = t.List(t.Dict()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    #: Python sees HistoryStep objects; the front end gets them as dicts (to_json).
    history = t.List(t.Instance(HistoryStep)).tag(sync=True, to_json=_history_to_json)

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
        **unknown: object,
    ) -> None:
        if unknown:
            raise TypeError(_unknown_message("KontextWidget()", unknown, _CONSTRUCTOR_ARGS))
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
        self._open = True
        if _has_key(the_client):
            self._in_background(self._fetch_balance())

    # ======================================================================= Python API

    @property
    def client(self) -> Client:
        """The client every run goes through."""
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
        return await self._start_generate()

    def cancel(self) -> None:
        """Cancel the running and queued Generates now; their polling stops at once.

        >>> KontextWidget().cancel()  # nothing running: nothing happens
        """
        pending = [task for task in self._tasks if not task.done()]
        for run in self._runs:
            run.cancel_now()  # the jobs say "cancelled" now, not after the loop gets round to it
        for task in pending:
            task.cancel()
        if pending:
            self.busy = False
            current = self._current
            self.status = (
                current.status() if current and current.state == "cancelled" else "Cancelled"
            )

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
        """:meth:`close`, then wait until the client's connections are closed."""
        self.close()
        if self._owns_client:
            await self._client.close()

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
        with contextlib.suppress(InvalidRequestError):
            self._start_generate()

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
            raise ValueError(
                f"add_files: got {len(buffers)} file(s) but names {names!r:.200}; "
                "expected one name per file"
            )
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
        if self.on_busy == "replace":
            self.cancel()
        waiting_for = [task for task in self._tasks if not task.done()]
        task = loop.create_task(self._guard(self._execute(plan, waiting_for)))
        self._tasks.append(task)
        task.add_done_callback(self._task_done)
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
        self._rows[run.id] = {
            "id": run.id,
            "title": made.title,
            "html": made.html,
            "outputs": [dataclasses.asdict(o) for o in made.outputs],
        }
        while len(self._rows) > MAX_ROWS:
            oldest = next(iter(self._rows))
            del self._rows[oldest]
            self._dropped_rows.add(oldest)
        # Called from inside the run's own task, so that one is not "waiting".
        waiting = sum(not task.done() for task in self._tasks) - 1
        with self.hold_sync():
            if run is self._current:
                self.jobs = [job.trait() for job in run.jobs]
                self.status = run.status() + (f" · {waiting} queued" if waiting > 0 else "")
            self.rows = list(self._rows.values())
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
