"""The plan of a single-mode Generate: its seeds, its ratio, one checked request (cell) per seed.

Planning is pure and synchronous, so a bad setting is refused before anything is
sent and the widget can answer a click at once. The plan is then a plan of cells
(:meth:`Plan.cell_plan`), run by the same :class:`~kontext_widgets.engine.runner.Runner`
and recorded in the same store as a sweep: a rerun with the same fixed seeds comes
from the store, and a run cut by a crash resumes its submitted tasks by id.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ..client import Client
from ..contract import ASPECT_RATIOS, GUIDANCE_DEFAULT, PRICE_PER_IMAGE_USD, SEED_MAX
from ..errors import InvalidRequestError, KontextError, Problem
from ..inputs import InputImage, image_size
from ..payload import ALLOWED, check_guidance, check_image_count, check_prompt, check_sync_mode
from ..request import KontextRequest
from .cells import Cell, CellPlan, describe_error

__all__ = [
    "MAX_COMPARE",
    "RATIO_FIRST",
    "Plan",
    "Settings",
    "check_aspect_setting",
    "check_compare",
    "nearest_ratio",
    "parse_seed_list",
    "plan_run",
    "ratio_of_url",
    "resolve_first_ratio",
]

#: Most seeds one Generate compares (each is one paid image).
MAX_COMPARE: Final = 16
#: ``aspect_ratio`` value meaning "keep the first image's shape".
RATIO_FIRST: Final = "first"
_SEED_ALLOWED = f"expected an integer from 0 to {SEED_MAX}"
_SEPARATORS = re.compile(r"[\s,;]+")


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

    def cell_plan(self) -> CellPlan:
        """The plan as cells, one per seed (what the runner runs and the store records).

        >>> from kontext_widgets.inputs import InputList
        >>> images = InputList()
        >>> _ = images.add_url("https://example.com/a.png")
        >>> plan, _ = plan_run(Settings(prompt="x", seed=5, seed_locked=True, compare=2),
        ...                    images.items, run_id="r1", draw_seed=lambda: 0)
        >>> [dict(c.coords) for c in plan.cell_plan().cells]
        [{'seed': 5}, {'seed': 6}]
        """
        cells = tuple(
            Cell(i, {"seed": seed}, request)
            for i, (seed, request) in enumerate(zip(self.seeds, self.requests, strict=True))
        )
        first = self.requests[0].describe() if self.requests else {}
        fixed = {k: v for k, v in first.items() if k != "seed"}
        return CellPlan(axes={"seed": list(self.seeds)}, fixed=fixed, cells=cells)


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
