"""One Generate of the widget: plan it (seeds, ratio, one request per seed), then run it.

Planning is pure and synchronous, so a bad setting is refused before anything
is sent and the widget can answer a click at once. Running uploads local
images once, then runs every request concurrently through the client (which
enforces its concurrency limit) and reports each change to a callback, so
results appear one by one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from .client import Client
from .contract import ASPECT_RATIOS, GUIDANCE_DEFAULT, PRICE_PER_IMAGE_USD, SEED_MAX, Status
from .errors import InvalidRequestError, KontextError, Problem, TaskFailedError
from .gallery import Pending, TileState, differing_labels, output_key, thumbnail_data_uri
from .inputs import InputImage, image_size
from .payload import (
    ALLOWED,
    check_guidance,
    check_image_count,
    check_prompt,
    check_sync_mode,
)
from .prediction import Prediction
from .request import KontextRequest, LocalImage

__all__ = [
    "MAX_COMPARE",
    "RATIO_FIRST",
    "Job",
    "Plan",
    "Run",
    "Settings",
    "check_aspect_setting",
    "check_compare",
    "describe_error",
    "nearest_ratio",
    "parse_seed_list",
    "plan_run",
    "problem_entries",
    "resolve_first_ratio",
]

log = logging.getLogger("kontext_widgets")

#: Most seeds one Generate compares (each is one paid image).
MAX_COMPARE: Final = 16
#: ``aspect_ratio`` value meaning "keep the first image's shape".
RATIO_FIRST: Final = "first"
_SEED_ALLOWED = f"expected an integer from 0 to {SEED_MAX}"
_SEPARATORS = re.compile(r"[\s,;]+")

JobState = TileState
RunState = Literal["waiting", "uploading", "running", "finished", "cancelled", "failed"]


@dataclass(frozen=True)
class Settings:
    """What the person set in the widget, as the traits hold it (checked by :func:`plan_run`)."""

    prompt: str = ""
    aspect_ratio: str = ""
    seed: int = 0
    seed_locked: bool = False
    compare: int = 1
    seed_list: str = ""
    guidance_scale: float = GUIDANCE_DEFAULT
    sync_mode: bool = False


# --------------------------------------------------------------------------- seeds and ratio


def parse_seed_list(text: str) -> list[int]:
    """Seeds written as ``"1, 7, 42"`` (commas, semicolons or spaces), checked strictly.

    >>> parse_seed_list("1, 7 42")
    [1, 7, 42]
    >>> parse_seed_list("1, x")
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: seed_list: 'x' is not allowed; ...
    """
    tokens = [t for t in _SEPARATORS.split(text.strip()) if t]
    seeds: list[int] = []
    for token in tokens:
        if not token.isascii() or not token.isdigit() or int(token) > SEED_MAX:
            raise InvalidRequestError(
                [
                    Problem(
                        "seed_list",
                        token,
                        f"{_SEED_ALLOWED}, separated by commas or spaces (e.g. 1, 7, 42)",
                    )
                ]
            )
        if int(token) in seeds:
            raise InvalidRequestError(
                [Problem("seed_list", token, "each seed once (a repeated seed repeats its image)")]
            )
        seeds.append(int(token))
    if len(seeds) > MAX_COMPARE:
        raise InvalidRequestError(
            [
                Problem(
                    "seed_list",
                    text,
                    f"at most {MAX_COMPARE} seeds",
                    shown=f"{len(seeds)} seeds",
                )
            ]
        )
    return seeds


def nearest_ratio(width: int, height: int) -> str:
    """The allowed aspect ratio closest to ``width:height`` (compared on a log scale).

    >>> nearest_ratio(1920, 1080), nearest_ratio(384, 512), nearest_ratio(500, 500)
    ('16:9', '3:4', '1:1')
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height} has no aspect ratio")
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(v) for v in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ASPECT_RATIOS, key=distance)


def _seed_problem(value: object) -> Problem | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        return Problem("seed", value, _SEED_ALLOWED)
    return None


def check_aspect_setting(value: object) -> Problem | None:
    """The widget's ``aspect_ratio``: "", "first" or an allowed ratio."""
    if value in ("", RATIO_FIRST, *ASPECT_RATIOS):
        return None
    return Problem(
        "aspect_ratio",
        value,
        '"" (the service default), "first" (the first image\'s shape) or '
        + ALLOWED["aspect_ratio"].removeprefix("expected "),
    )


def check_compare(value: object) -> Problem | None:
    """How many seeds to compare: 1 to :data:`MAX_COMPARE`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COMPARE:
        return Problem("compare", value, f"expected an integer from 1 to {MAX_COMPARE}")
    return None


# --------------------------------------------------------------------------- planning


@dataclass
class Job:
    """One prediction of a run, as the ``jobs`` trait shows it."""

    key: str
    label: str
    seed: int
    request: KontextRequest
    state: JobState = "queued"
    started: float | None = None
    finished: float | None = None
    error: str = ""
    prediction: Prediction | None = field(default=None, repr=False)
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def trait(self) -> dict[str, object]:
        return {
            "key": self.key,
            "label": self.label,
            "state": self.state,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
        }


@dataclass(frozen=True)
class Plan:
    """Checked requests for one Generate, one per seed, not sent yet."""

    run_id: str
    seeds: tuple[int, ...]
    requests: tuple[KontextRequest, ...]
    inputs: tuple[InputImage, ...]
    #: "first" with a URL first image: the ratio is read from it when the run starts
    ratio_from_url: str | None = None

    @property
    def cost_usd(self) -> float:
        return len(self.requests) * PRICE_PER_IMAGE_USD

    def with_ratio(self, ratio: str) -> Plan:
        requests = tuple(dataclasses.replace(r, aspect_ratio=ratio) for r in self.requests)
        return dataclasses.replace(self, requests=requests, ratio_from_url=None)


def plan_run(
    settings: Settings,
    inputs: Sequence[InputImage],
    *,
    run_id: str,
    draw_seed: Callable[[], int],
) -> tuple[Plan, int]:
    """Check everything and build one request per seed; return the plan and the base seed.

    Without an explicit ``seed_list`` the seeds are ``seed, seed+1, …`` (``compare``
    of them); when ``seed_locked`` is false, ``draw_seed()`` picks the base seed
    first (the caller shows it). Raises :class:`InvalidRequestError` listing every
    problem; nothing is sent either way.

    >>> from kontext_widgets.inputs import InputList
    >>> images = InputList()
    >>> _ = images.add_url("https://example.com/a.png")
    >>> plan, seed = plan_run(Settings(prompt="night", seed=5, seed_locked=True, compare=3),
    ...                       images.items, run_id="r1", draw_seed=lambda: 0)
    >>> plan.seeds, seed, plan.cost_usd
    ((5, 6, 7), 5, 0.12)
    """
    problems: list[Problem] = []
    checks = [
        check_prompt(settings.prompt),
        check_guidance(settings.guidance_scale),
        check_aspect_setting(settings.aspect_ratio),
        check_sync_mode(settings.sync_mode),
        check_image_count(len(inputs)),
    ]
    problems += [p for p in checks if p]
    seeds: list[int] = []
    base = settings.seed
    if settings.seed_list.strip():
        try:
            seeds = parse_seed_list(settings.seed_list)
        except InvalidRequestError as exc:
            problems += exc.problems
    else:
        compare = check_compare(settings.compare)
        seed = _seed_problem(settings.seed) if settings.seed_locked else None
        problems += [p for p in (compare, seed) if p]
        if not compare and not seed:
            if not settings.seed_locked:
                base = draw_seed()
            if base + settings.compare - 1 > SEED_MAX:
                problems.append(
                    Problem(
                        "seed",
                        base,
                        f"{_SEED_ALLOWED}; comparing {settings.compare} seeds from it "
                        f"needs a seed of at most {SEED_MAX - settings.compare + 1}",
                    )
                )
            seeds = list(range(base, base + settings.compare))
    if problems:
        raise InvalidRequestError(problems)

    ratio: str | None = settings.aspect_ratio or None
    from_url: str | None = None
    if ratio == RATIO_FIRST:
        first = inputs[0]
        if first.size is not None:
            ratio = nearest_ratio(*first.size)
        elif isinstance(first.source, str):
            ratio, from_url = None, first.source
    requests = tuple(
        KontextRequest.build(
            prompt=settings.prompt,
            images=[i.source for i in inputs],
            seed=seed,
            guidance_scale=settings.guidance_scale,
            aspect_ratio=ratio,
            enable_sync_mode=settings.sync_mode,
        )
        for seed in seeds
    )
    plan = Plan(
        run_id=run_id,
        seeds=tuple(seeds),
        requests=requests,
        inputs=tuple(inputs),
        ratio_from_url=from_url,
    )
    return plan, base


def problem_entries(problems: Sequence[Problem]) -> list[dict[str, str]]:
    """The ``problems`` trait: the widget's field name and the request model's message."""
    renames = {"enable_sync_mode": "sync_mode"}
    entries = []
    for p in problems:
        name = "images" if p.field.startswith("images[") else renames.get(p.field, p.field)
        entries.append({"field": name, "message": str(p)})
    return entries


def describe_error(exc: BaseException) -> str:
    """One line for the ``error`` trait (our errors already say what to do)."""
    if isinstance(exc, KontextError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------- running


class Run:
    """Runs a :class:`Plan`: uploads once, then all requests at once; reports every change.

    ``on_change(run)`` is called (on the event loop) after each change of a job, so the
    widget can re-render its traits; ``thumbs`` receives a thumbnail per output key.
    """

    def __init__(
        self,
        plan: Plan,
        client: Client,
        *,
        on_change: Callable[[Run], None],
        thumbs: dict[str, str],
    ) -> None:
        self.plan = plan
        self.client = client
        self.thumbs = thumbs
        self._on_change = on_change
        self.state: RunState = "waiting"
        self.uploads = 0
        self.simulated = client.simulated
        labels = differing_labels(
            [Pending(f"{plan.run_id}/{i}", "queued", r) for i, r in enumerate(plan.requests)]
        )
        self.jobs = [
            Job(key=f"{plan.run_id}/{i}", label=label, seed=seed, request=request)
            for i, (seed, request, label) in enumerate(
                zip(plan.seeds, plan.requests, labels, strict=True)
            )
        ]

    @property
    def id(self) -> str:
        return self.plan.run_id

    @property
    def ended(self) -> bool:
        return self.state in ("finished", "cancelled", "failed")

    def predictions(self) -> list[Prediction]:
        """The finished predictions (completed or failed), in seed order."""
        return [j.prediction for j in self.jobs if j.prediction is not None and j.ended]

    def items(self) -> list[Prediction | Pending]:
        """What the row shows, one entry per job."""
        out: list[Prediction | Pending] = []
        for job in self.jobs:
            if job.prediction is not None and job.state in ("done", "failed"):
                out.append(job.prediction)
            else:
                out.append(
                    Pending(
                        job.key,
                        job.state,
                        job.request,
                        error=job.error,
                        simulated=self.simulated,
                    )
                )
        return out

    def status(self) -> str:
        total = len(self.jobs)
        done = sum(j.state == "done" for j in self.jobs)
        failed = sum(j.state == "failed" for j in self.jobs)
        tail = f", {failed} failed" if failed else ""
        if self.state == "waiting":
            return f"Queued: {total} image{_s(total)} start when the running Generate ends"
        if self.state == "uploading":
            return f"Uploading {self.uploads} image{_s(self.uploads)}…"
        if self.state == "running":
            return f"Running: {done} of {total} done{tail}"
        if self.state == "cancelled":
            return f"Cancelled: {done} of {total} done{tail}"
        return f"{done} of {total} done{tail}"

    def cancel_now(self) -> None:
        """Mark every unfinished job cancelled at once (the task is being cancelled)."""
        if self.ended:
            return
        now = time.time()
        for job in self.jobs:
            if not job.ended:
                job.state, job.finished = "cancelled", now
        self.state = "cancelled"
        self._changed()

    def _changed(self) -> None:
        try:
            self._on_change(self)
        except Exception:  # a display problem must not stop the run
            log.exception("updating the widget failed")

    async def execute(self) -> list[Prediction]:
        """Upload, run every job, and return the finished predictions in seed order.

        A failed prediction (or an error for one seed) ends only its job; an upload
        error ends the whole run and is raised. Cancelling stops at once.
        """
        try:
            await self._upload()
            self.state = "running"
            self._changed()
            tasks = [asyncio.ensure_future(self._run_job(job)) for job in self.jobs]
            try:
                await asyncio.gather(*tasks)
            except Exception:
                for task in tasks:  # gather leaves the others running on an error
                    task.cancel()
                raise
        except asyncio.CancelledError:
            self.cancel_now()
            raise
        except Exception as exc:
            now = time.time()
            for job in self.jobs:
                if not job.ended:
                    job.state, job.error, job.finished = "failed", describe_error(exc), now
            self.state = "failed"
            self._changed()
            raise
        self.state = "finished"
        self.simulated = self.client.simulated
        self._changed()
        return self.predictions()

    async def _upload(self) -> None:
        unique: dict[str, LocalImage] = {}
        for item in self.plan.inputs:
            if isinstance(item.source, LocalImage):
                unique.setdefault(item.source.sha256, item.source)
        if not unique:
            return
        self.state, self.uploads = "uploading", len(unique)
        for job in self.jobs:
            job.state = "uploading"
        self._changed()
        # The client uploads each content once and remembers it, so the submits reuse these.
        await asyncio.gather(*(self.client.upload(image) for image in unique.values()))
        for job in self.jobs:
            job.state = "queued"

    async def _run_job(self, job: Job) -> None:
        def update(prediction: Prediction) -> None:
            if job.ended:
                return
            if job.started is None:
                job.started = time.time()
            if job.state != "running":
                job.state = "running"
                self._changed()

        try:
            prediction = await self.client.run(
                job.request, on_update=update, raise_on_failure=False
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if job.ended:
                return
            log.warning("seed %s failed: %s", job.seed, describe_error(exc))
            job.state, job.error, job.exception = "failed", describe_error(exc), exc
            job.finished = time.time()
            self._changed()
            return
        if job.ended:  # cancelled meanwhile: its tile says so already
            return
        if prediction.status is Status.FAILED:
            failure = TaskFailedError(prediction.id, prediction.code, prediction.error)
            job.state, job.error = "failed", str(failure)
        else:
            for index, image in enumerate(prediction.images):
                try:
                    # Off the loop: decoding a 1024 px PNG takes tens of milliseconds.
                    thumb = await asyncio.to_thread(thumbnail_data_uri, image.data)
                except ValueError:
                    continue  # the gallery shows a placeholder with the reason
                self.thumbs[output_key(prediction.id, index)] = thumb
            job.state = "done"
        job.prediction = prediction
        job.started = job.started or time.time()
        job.finished = time.time()
        self._changed()


async def resolve_first_ratio(plan: Plan, client: Client) -> Plan:
    """For "first" with a URL first image: fetch it once and use its shape's nearest ratio."""
    if plan.ratio_from_url is None:
        return plan
    return plan.with_ratio(await ratio_of_url(client, plan.ratio_from_url))


async def ratio_of_url(client: Client, url: str) -> str:
    """The allowed ratio nearest to the shape of the image at ``url`` (fetched once)."""
    try:
        return nearest_ratio(*image_size(await client.download(url)))
    except (KontextError, OSError, ValueError) as exc:
        raise InvalidRequestError(
            [
                Problem(
                    "aspect_ratio",
                    RATIO_FIRST,
                    f"cannot read the first image's size ({describe_error(exc)}); "
                    "pick a ratio instead",
                )
            ]
        ) from None


def _s(count: int) -> str:
    return "" if count == 1 else "s"
