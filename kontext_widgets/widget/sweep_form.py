"""Planning the widget's sweep: its settings checked, then planned with the sweep engine.

Planning uses :func:`~kontext_widgets.sweeps.plan.plan_sweep` on the widget's input
images as it already holds them (URLs and :class:`~kontext_widgets.request.LocalImage`
bytes), so re-planning on every keystroke never reads a file again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..contract import SEED_MAX
from ..engine.single import RATIO_FIRST, check_aspect_setting, nearest_ratio
from ..errors import InvalidRequestError, Problem
from ..inputs import InputImage
from ..sweeps.plan import Cell, SweepPlan, plan_sweep
from .sweep_axes import (
    AXES,
    AXIS_TRAITS,
    MAX_SWEEP_CONCURRENCY,
    parse_guidance,
    parse_prompts,
    parse_ratios,
    parse_seeds,
)

__all__ = [
    "SweepSettings",
    "SweepSetup",
    "check_run_settings",
    "grid_axes",
    "plan_line",
    "plan_widget_sweep",
    "with_ratio",
]


@dataclass(frozen=True)
class SweepSettings:
    """The traits sweep mode reads (the single-mode ones give the values of unswept axes)."""

    prompt: str = ""
    aspect_ratio: str = ""
    seed: int = 0
    guidance_scale: float = 3.5
    seeds: str = ""
    guidance: str = ""
    ratios: tuple[str, ...] = ()
    prompts: str = ""
    concurrency: int = 2
    budget: float = 5.0
    allow_over_budget: bool = False
    rows: str = ""
    cols: str = ""


@dataclass(frozen=True)
class SweepSetup:
    """A checked sweep: the plan, how to run it and how to lay it out."""

    plan: SweepPlan
    concurrency: int
    #: the most it may cost; None when over budget is allowed
    budget: float | None
    rows: list[str]
    cols: list[str]
    #: "first" with a URL first image: the ratio is read from it when the sweep starts
    ratio_from_url: str | None = None
    #: the seeds were a count: drawn at random (shown in the plan line)
    random_seeds: bool = False
    #: the input images it was planned with (for the outputs' "Copy Python call")
    inputs: tuple[InputImage, ...] = ()


def check_run_settings(settings: SweepSettings) -> list[Problem]:
    """Problems with what is not an axis: concurrency, budget, grid axes.

    >>> [p.field for p in check_run_settings(SweepSettings(concurrency=0, rows="size"))]
    ['sweep_concurrency', 'sweep_rows']
    """
    problems: list[Problem] = []
    concurrency = settings.concurrency
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_SWEEP_CONCURRENCY
    ):
        problems.append(
            Problem(
                "sweep_concurrency",
                concurrency,
                f"expected a whole number from 1 to {MAX_SWEEP_CONCURRENCY}",
            )
        )
    budget = settings.budget
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or budget < 0
    ):
        problems.append(Problem("sweep_budget", budget, "expected dollars: a number, 0 or more"))
    for name, value in (("sweep_rows", settings.rows), ("sweep_cols", settings.cols)):
        if value != "" and value not in AXES:
            problems.append(
                Problem(
                    name,
                    value,
                    '"" (the default) or one of the axes ' + ", ".join(AXES),
                )
            )
    return problems


def plan_widget_sweep(
    settings: SweepSettings,
    inputs: Sequence[InputImage],
    *,
    random_seed: int | None,
) -> SweepSetup:
    """Check every setting and plan the sweep; raise :class:`InvalidRequestError` listing all.

    An empty axis text uses the single-mode value (the prompt, the seed, the guidance
    slider, the aspect-ratio picker) and is no axis. ``random_seed`` fixes the draw of
    a count of random seeds, so the plan shown is the plan run. ``aspect_ratio="first"``
    with a URL first image plans without a ratio and sets ``ratio_from_url``: the widget
    reads the image's size when the sweep starts (:func:`with_ratio`).

    >>> from kontext_widgets.inputs import InputList
    >>> images = InputList()
    >>> _ = images.add_url("https://example.com/a.png")
    >>> setup = plan_widget_sweep(SweepSettings(prompt="night", seed=9, seeds="1-3",
    ...                                         guidance="2, 4"), images.items, random_seed=0)
    >>> len(setup.plan.cells), list(setup.plan.axes), setup.rows, setup.cols
    (6, ['guidance_scale', 'seed'], ['guidance_scale'], ['seed'])
    """
    problems = check_run_settings(settings)
    axis_values = _axis_values(settings, problems)
    if problems:
        raise InvalidRequestError(problems)
    arguments, from_url = _arguments(settings, inputs, axis_values)
    seeds = axis_values["seed"]

    try:
        plan = plan_sweep(random_seed=random_seed, **arguments)
    except InvalidRequestError as exc:
        swept = {name for name, values in axis_values.items() if values is not None}
        raise InvalidRequestError(_axis_fields(exc.problems, swept)) from None
    if seeds is None:
        plan = _fixed(plan, "seed")
    rows, cols = grid_axes(list(plan.axes), settings.rows, settings.cols)
    return SweepSetup(
        plan=plan,
        concurrency=settings.concurrency,
        budget=None if settings.allow_over_budget else float(settings.budget),
        rows=rows,
        cols=cols,
        ratio_from_url=from_url,
        random_seeds=isinstance(seeds, int),
        inputs=tuple(inputs),
    )


def _axis_values(settings: SweepSettings, problems: list[Problem]) -> dict[str, Any]:
    """Each axis text parsed (None: not an axis); problems, the seed's too, added to the list."""
    axis_values: dict[str, Any] = {}
    parsers: list[tuple[str, Any]] = [
        ("prompt", lambda: parse_prompts(settings.prompts)),
        ("aspect_ratio", lambda: parse_ratios(list(settings.ratios))),
        ("guidance_scale", lambda: parse_guidance(settings.guidance)),
        ("seed", lambda: parse_seeds(settings.seeds)),
    ]
    for name, parse in parsers:
        try:
            axis_values[name] = parse()
        except InvalidRequestError as exc:
            problems += exc.problems
    seed = settings.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        problems.append(Problem("seed", seed, f"expected a whole number from 0 to {SEED_MAX}"))
    ratio_problem = check_aspect_setting(settings.aspect_ratio)
    if ratio_problem and axis_values.get("aspect_ratio") is None:
        problems.append(ratio_problem)
    return axis_values


def _one_or_list(values: list[Any]) -> Any:
    return values if len(values) > 1 else values[0]


def _arguments(
    settings: SweepSettings, inputs: Sequence[InputImage], axis_values: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """plan_sweep's arguments, and the URL to read the ratio from for "first" with a URL."""
    # One value of an axis text is a fixed setting, like the single-mode controls' values.
    arguments: dict[str, Any] = {"images": [item.source for item in inputs]}
    arguments["prompt"] = _one_or_list(axis_values["prompt"] or [settings.prompt])
    guidance = axis_values["guidance_scale"] or [settings.guidance_scale]
    arguments["guidance_scale"] = _one_or_list(guidance)
    ratios = axis_values["aspect_ratio"]
    from_url: str | None = None
    if ratios:
        arguments["aspect_ratio"] = _one_or_list(ratios)
    elif settings.aspect_ratio == RATIO_FIRST:
        first = inputs[0] if inputs else None
        if first is None:
            arguments["aspect_ratio"] = None  # no images: plan_sweep says so
        elif first.size is not None:
            arguments["aspect_ratio"] = nearest_ratio(*first.size)
        else:
            arguments["aspect_ratio"], from_url = None, str(first.source)
    else:
        arguments["aspect_ratio"] = settings.aspect_ratio or None
    seeds = axis_values["seed"]
    # plan_sweep reads an int seed as a count of random seeds: one fixed seed goes in as a
    # one-value axis and is made a fixed setting again (_fixed).
    arguments["seed"] = [settings.seed] if seeds is None else seeds
    return arguments, from_url


def _axis_fields(problems: Sequence[Problem], swept: set[str]) -> list[Problem]:
    """A problem with a value of an axis names the axis's trait (what the person edits)."""
    out = []
    for problem in problems:
        name = problem.field.split("[", 1)[0]
        if name in swept and name in AXIS_TRAITS:
            problem = dataclasses.replace(problem, field=AXIS_TRAITS[name])
        out.append(problem)
    return out


def _fixed(plan: SweepPlan, name: str) -> SweepPlan:
    """The plan with a one-value axis made a fixed setting (same requests, same task keys)."""
    values = plan.axes.get(name)
    if values is None or len(values) != 1:
        return plan
    axes = {k: v for k, v in plan.axes.items() if k != name}
    cells = tuple(
        Cell(c.index, {k: v for k, v in c.coords.items() if k != name}, c.request)
        for c in plan.cells
    )
    return SweepPlan(axes=axes, fixed={**plan.fixed, name: values[0]}, cells=cells)


def with_ratio(setup: SweepSetup, ratio: str) -> SweepSetup:
    """The setup with every cell's aspect ratio set (for "first" read from a URL).

    >>> from kontext_widgets.inputs import InputList
    >>> images = InputList()
    >>> _ = images.add_url("https://example.com/a.png")
    >>> setup = plan_widget_sweep(SweepSettings(prompt="x", aspect_ratio="first", seeds="1-2"),
    ...                           images.items, random_seed=0)
    >>> setup.ratio_from_url
    'https://example.com/a.png'
    >>> [c.request.aspect_ratio for c in with_ratio(setup, "16:9").plan.cells]
    ['16:9', '16:9']
    """
    plan = setup.plan
    cells = tuple(
        Cell(c.index, c.coords, dataclasses.replace(c.request, aspect_ratio=ratio))
        for c in plan.cells
    )
    fixed = {**plan.fixed, "aspect_ratio": ratio}
    return dataclasses.replace(
        setup, plan=SweepPlan(axes=plan.axes, fixed=fixed, cells=cells), ratio_from_url=None
    )


def grid_axes(axes: Sequence[str], rows: str, cols: str) -> tuple[list[str], list[str]]:
    """Rows and columns of the grid: ``cols`` (default: the last axis) across, the rest down.

    A chosen row axis comes first (outermost); a choice that is not an axis of this
    sweep, or rows equal to cols, falls back to the default.

    >>> grid_axes(["prompt", "guidance_scale", "seed"], "", "")
    (['prompt', 'guidance_scale'], ['seed'])
    >>> grid_axes(["prompt", "guidance_scale", "seed"], "seed", "prompt")
    (['seed', 'guidance_scale'], ['prompt'])
    >>> grid_axes(["prompt", "seed"], "seed", "")
    (['seed'], ['prompt'])
    >>> grid_axes([], "seed", "prompt")
    ([], [])
    """
    if cols in axes:
        col: str | None = cols
    else:
        col = next((a for a in reversed(axes) if a != rows), None)
    col_axes = [col] if col is not None else []
    first = [rows] if rows in axes and rows != col else []
    return first + [a for a in axes if a not in col_axes and a not in first], col_axes


def plan_line(
    setup: SweepSetup, *, seconds_per_task: float, simulated: bool, balance: float | None
) -> str:
    """The plan as the widget shows it: cells, cost, expected time, and the budget's verdict.

    >>> from kontext_widgets.inputs import InputList
    >>> images = InputList()
    >>> _ = images.add_url("https://example.com/a.png")
    >>> setup = plan_widget_sweep(SweepSettings(prompt="x", seeds="1-4", budget=0.1),
    ...                           images.items, random_seed=0)
    >>> print(plan_line(setup, seconds_per_task=8.0, simulated=False, balance=None))
    4 cells (4 seeds); cost $0.16; about 16 s at concurrency 2 — above the budget of $0.10:
    raise Budget (USD) or tick Allow over budget
    """
    plan = setup.plan
    text = plan.summary(setup.concurrency, seconds_per_task, simulated)
    if setup.random_seeds:
        seeds = [str(s) for s in plan.axes.get("seed", [])]
        shown = ", ".join(seeds[:6]) + (", …" if len(seeds) > 6 else "")
        text += f"; random seeds {shown}"
    if setup.ratio_from_url is not None:
        text += "; aspect ratio: the first image's, read when the sweep starts"
    if setup.budget is not None and plan.cost_usd > setup.budget + 1e-9:
        text += (
            f" — above the budget of ${setup.budget:.2f}: raise Budget (USD) or tick "
            "Allow over budget"
        )
    if balance is not None and not simulated and plan.cost_usd > balance:
        text += f" — more than the balance of ${balance:.2f}"
    return text
