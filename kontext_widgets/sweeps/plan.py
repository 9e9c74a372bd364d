"""Planning a sweep: axes, their product (the cells), and the cost, before anything is spent."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..contract import PRICE_PER_IMAGE_USD, REQUEST_FIELDS, SEED_MAX
from ..errors import InvalidRequestError, KontextError, Problem
from ..request import KontextRequest, normalize_image

#: The order axes vary in (the last varies fastest), whatever order they were given in.
AXIS_ORDER = ("prompt", "images", "aspect_ratio", "guidance_scale", "seed")
#: A plan above this many dollars is refused unless ``max_cost_usd`` allows it.
DEFAULT_BUDGET_USD = 5.0
_INT_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")
_FLOAT_RANGE = re.compile(r"^\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)\s*$")
MAX_CELLS = 100_000


class BudgetExceededError(KontextError):
    """The plan costs more than allowed; nothing was sent."""

    def __init__(self, cells: int, cost: float, budget: float) -> None:
        self.cells, self.cost, self.budget = cells, cost, budget
        super().__init__(
            f"this sweep has {cells} cells and would cost ${cost:.2f}, above the budget of "
            f"${budget:.2f}; nothing was sent. Pass max_cost_usd={math.ceil(cost)} (or None) "
            "to allow it, or make an axis shorter."
        )


def parse_range(text: str) -> list[int] | list[float]:
    """Expand the compact range syntax: ``"1-8"`` (integers, inclusive) or ``"2.0:6.0:0.5"``.

    >>> parse_range("1-4")
    [1, 2, 3, 4]
    >>> parse_range("2.0:3.0:0.5")
    [2.0, 2.5, 3.0]
    """
    if m := _INT_RANGE.match(text):
        start, stop = int(m.group(1)), int(m.group(2))
        if stop < start:
            raise ValueError(f"range {text!r}: the end is before the start")
        if stop - start >= MAX_CELLS:
            raise ValueError(f"range {text!r} has more than {MAX_CELLS} values")
        return list(range(start, stop + 1))
    if m := _FLOAT_RANGE.match(text):
        try:
            start_d, stop_d, step_d = (Decimal(g) for g in m.groups())
        except InvalidOperation:
            raise ValueError(f"range {text!r}: expected numbers as START:STOP:STEP") from None
        if step_d <= 0 or stop_d < start_d:
            raise ValueError(f"range {text!r}: expected START <= STOP and a positive STEP")
        count = int((stop_d - start_d) / step_d) + 1
        if count > MAX_CELLS:
            raise ValueError(f"range {text!r} has more than {MAX_CELLS} values")
        # Decimal steps, so 2.0:6.0:0.1 ends exactly at 6.0 with no float drift.
        return [float(start_d + i * step_d) for i in range(count)]
    raise ValueError(f"{text!r} is not a range; expected START-STOP (integers) or START:STOP:STEP")


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
        axes = ", ".join(f"{k} × {len(v)}" for k, v in self.axes.items()) or "no axes"
        seconds = self.expected_seconds(concurrency, seconds_per_task)
        duration = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        billed = " (simulated: nothing billed)" if simulated else ""
        return (
            f"{len(self.cells)} cells ({axes}); cost ${self.cost_usd:.2f}{billed}; "
            f"about {duration} at concurrency {concurrency}"
        )

    def check_budget(self, max_cost_usd: float | None) -> None:
        if max_cost_usd is not None and self.cost_usd > max_cost_usd + 1e-9:
            raise BudgetExceededError(len(self.cells), self.cost_usd, max_cost_usd)


def _axis_values(name: str, value: Any, rng: random.Random) -> tuple[list[Any], bool]:
    """The values of one argument and whether it is an axis (more than a single setting)."""
    if name == "seed" and isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise InvalidRequestError(
                [Problem("seed", value, "a count of random seeds must be 1 or more")]
            )
        # A count means that many random seeds, drawn now so reruns and resumes match.
        return [rng.randint(0, SEED_MAX) for _ in range(value)], True
    if name == "images":
        is_list = isinstance(value, Sequence) and not isinstance(value, (str, bytes))
        if is_list and value and all(isinstance(v, (list, tuple)) for v in value):
            return [list(v) for v in value], True
        return [value], False
    if isinstance(value, str) and name in ("seed", "guidance_scale"):
        try:
            return list(parse_range(value)), True
        except ValueError as exc:
            raise InvalidRequestError([Problem(name, value, str(exc))]) from None
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidRequestError([Problem(name, value, "an axis needs at least one value")])
        return list(value), True
    return [value], False


def plan_sweep(*, random_seed: int | None = None, **arguments: Any) -> SweepPlan:
    """Expand arguments into cells; any argument given as a list is an axis.

    ``seed`` may be a list, a range string (``"1-8"``) or a count of random seeds
    (drawn now, with ``random_seed`` for a reproducible draw); ``guidance_scale``
    a list or ``"2.0:6.0:0.5"``; ``images`` one image list or a list of lists.
    Every cell's request is validated before anything is sent.
    """
    unknown = set(arguments) - REQUEST_FIELDS
    if unknown:
        allowed = "unknown sweep argument; allowed: " + ", ".join(sorted(REQUEST_FIELDS))
        raise InvalidRequestError([Problem(k, arguments[k], allowed) for k in sorted(unknown)])
    rng = random.Random(random_seed)  # noqa: S311 - seeds for images, not secrets
    axes: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for name in sorted(arguments, key=lambda n: AXIS_ORDER.index(n) if n in AXIS_ORDER else 99):
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
