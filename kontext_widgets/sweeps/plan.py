"""Planning a sweep: axes, their product (the cells), and the cost, before anything is spent."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import fields as _fields
from .._text import plural
from ..contract import PRICE_PER_IMAGE_USD
from ..errors import BudgetExceededError, InvalidRequestError, Problem
from ..grammar import MAX_VALUES, parse_range
from ..labels import axes_words
from ..request import KontextRequest, normalize_image

#: The order axes vary in (the last varies fastest), whatever order they were given in.
AXIS_ORDER = ("prompt", "images", "aspect_ratio", "guidance_scale", "seed")
#: A plan above this many dollars is refused unless ``max_cost_usd`` allows it.
DEFAULT_BUDGET_USD = 5.0
MAX_CELLS = MAX_VALUES

__all__ = [
    "AXIS_ORDER",
    "DEFAULT_BUDGET_USD",
    "MAX_CELLS",
    "BudgetExceededError",
    "Cell",
    "SweepPlan",
    "parse_range",
    "plan_sweep",
]


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its index, the axis values that place it, and its request."""

    index: int
    coords: Mapping[str, Any]
    request: KontextRequest = field(repr=False)

    @property
    def cache_key(self) -> str:
        return self.request.cache_key()


@dataclass(frozen=True)
class SweepPlan:
    """Axes, cells and cost of a sweep, fixed before the run (random seeds included).

    >>> plan = plan_sweep(prompt="make it night", images=["https://example.com/a.png"],
    ...                   seed="1-4", guidance_scale=[2.5, 3.5])
    >>> len(plan.cells), plan.axes["seed"], f"${plan.cost_usd:.2f}"
    (8, [1, 2, 3, 4], '$0.32')
    """

    axes: Mapping[str, list[Any]]
    fixed: Mapping[str, Any]
    cells: tuple[Cell, ...]

    @property
    def cost_usd(self) -> float:
        return round(len(self.cells) * PRICE_PER_IMAGE_USD, 2)

    def expected_seconds(self, concurrency: int, seconds_per_task: float) -> float:
        return math.ceil(len(self.cells) / max(1, concurrency)) * seconds_per_task

    def summary(self, concurrency: int, seconds_per_task: float, simulated: bool) -> str:
        """One paragraph saying what will happen and what it costs."""
        axes = axes_words(self.axes)
        seconds = self.expected_seconds(concurrency, seconds_per_task)
        duration = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        billed = " (simulated: nothing billed)" if simulated else ""
        return (
            f"{plural(len(self.cells), 'cell')} ({axes}); cost ${self.cost_usd:.2f}{billed}; "
            f"about {duration} at concurrency {concurrency}"
        )

    def check_budget(self, max_cost_usd: float | None) -> None:
        if max_cost_usd is not None and self.cost_usd > max_cost_usd + 1e-9:
            raise BudgetExceededError(len(self.cells), self.cost_usd, max_cost_usd)


def _axis_values(name: str, value: Any, rng: random.Random) -> tuple[list[Any], bool]:
    """The values of one argument and whether it is an axis (more than a single setting).

    Lists are axes; so are texts in a numeric grammar (``"1-8"``, ``"2.0:6.0:0.5"``) and a
    seed count (that many random seeds, drawn now so reruns and resumes match).
    """
    setting = _fields.field(name)
    numeric_text = isinstance(value, str) and setting.axis in ("ints", "floats")
    count = setting.axis == "ints" and isinstance(value, int) and not isinstance(value, bool)
    if setting.axis == "image_sets":
        values = _fields.parse_values(name, value)
        return values, not (len(values) == 1 and values[0] is value)
    if not (numeric_text or count or isinstance(value, (list, tuple))):
        return [value], False
    values = _fields.parse_values(name, value, counts=numeric_text or count, rng=rng)
    if not values:
        raise InvalidRequestError([Problem(name, value, "an axis needs at least one value")])
    return values, True


def plan_sweep(*, random_seed: int | None = None, **arguments: Any) -> SweepPlan:
    """Expand arguments into cells; any argument given as a list is an axis.

    ``seed`` may be a list, a range string (``"1-8"``) or a count of random seeds
    (drawn now, with ``random_seed`` for a reproducible draw); ``guidance_scale``
    a list or ``"2.0:6.0:0.5"``; ``images`` one image list or a list of lists.
    Every cell's request is validated before anything is sent.
    """
    known = _fields.names()
    unknown = set(arguments) - set(known)
    if unknown:
        allowed = "unknown sweep argument; allowed: " + ", ".join(sorted(known))
        raise InvalidRequestError([Problem(k, arguments[k], allowed) for k in sorted(unknown)])
    rng = random.Random(random_seed)  # noqa: S311 - seeds for images, not secrets
    axes: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for name in sorted(arguments, key=_axis_rank):
        values, is_axis = _axis_values(name, arguments[name], rng)
        if is_axis:
            axes[name] = values
        else:
            fixed[name] = values[0]
    # Normalise each image set once: local files are read and hashed a single time and the
    # bytes shared by every cell, so a 1,000-cell sweep holds one copy of each image.
    if "images" in fixed:
        fixed["images"] = _shared_images(fixed["images"], "images")
    if "images" in axes:
        axes["images"] = [
            _shared_images(v, f"images (set {i})") for i, v in enumerate(axes["images"])
        ]
    total = math.prod(len(v) for v in axes.values())
    if total > MAX_CELLS:
        raise InvalidRequestError([Problem("axes", total, f"at most {MAX_CELLS} cells per sweep")])
    cells = []
    problems: list[Problem] = []
    for index, combo in enumerate(_product(list(axes.values()))):
        coords = dict(zip(axes, combo, strict=True))
        try:
            request = KontextRequest.build(**fixed, **coords)
        except InvalidRequestError as exc:
            problems += [p for p in exc.problems if p not in problems]
            continue
        cells.append(Cell(index=index, coords=coords, request=request))
    if problems:
        raise InvalidRequestError(problems)
    return SweepPlan(axes=axes, fixed=fixed, cells=tuple(cells))


def _axis_rank(name: str) -> int:
    return AXIS_ORDER.index(name) if name in AXIS_ORDER else len(AXIS_ORDER)


def _shared_images(images: Any, name: str) -> Any:
    if not isinstance(images, (list, tuple)):
        return images  # KontextRequest.build names the problem
    out: list[Any] = []
    for i, image in enumerate(images):
        got = normalize_image(image, f"{name}[{i}]")
        if isinstance(got, Problem):
            raise InvalidRequestError([got])
        out.append(got)
    return out


def _product(axes: list[list[Any]]) -> Iterable[tuple[Any, ...]]:
    import itertools

    return itertools.product(*axes)
