"""The widget's sweep mode: the axis texts the front end edits, planned with the sweep engine.

Parsing is strict and pure: every refused text becomes a :class:`Problem` naming the
widget's trait (``sweep_seeds``, ``sweep_guidance``…) and what is allowed, so the
widget can refuse a Generate before anything is sent and show the reason live in
the plan line. Planning uses :func:`~kontext_widgets.sweeps.plan.plan_sweep` on the
widget's input images as it already holds them (URLs and
:class:`~kontext_widgets.request.LocalImage` bytes), so re-planning on every
keystroke never reads a file again.

:class:`LiveSweep` is one running sweep as the widget shows it: every cell's latest
state (queued, running, done, failed, cancelled), fed by the runner's
``on_progress`` callback, and turned into a partial
:class:`~kontext_widgets.sweeps.results.SweepResult` for the grid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .contract import ASPECT_RATIOS, GUIDANCE_MAX, GUIDANCE_MIN, SEED_MAX
from .errors import InvalidRequestError, Problem
from .inputs import InputImage
from .jobs import RATIO_FIRST, check_aspect_setting, nearest_ratio
from .payload import check_guidance, check_prompt
from .store import Store
from .sweeps.layout import format_value
from .sweeps.plan import Cell, SweepPlan, parse_range, plan_sweep
from .sweeps.results import SweepResult
from .sweeps.runner import CellOutcome, SweepProgress

__all__ = [
    "AXES",
    "MAX_RANDOM_SEEDS",
    "MAX_SWEEP_CONCURRENCY",
    "LiveSweep",
    "SweepSettings",
    "SweepSetup",
    "cell_label",
    "grid_axes",
    "parse_guidance",
    "parse_prompts",
    "parse_ratios",
    "parse_seeds",
    "plan_line",
    "plan_widget_sweep",
    "with_ratio",
]

#: The axes the widget can sweep, in the order the sweep engine nests them.
AXES: Final = ("prompt", "aspect_ratio", "guidance_scale", "seed")
#: The trait that holds each axis.
AXIS_TRAITS: Final = {
    "prompt": "sweep_prompts",
    "aspect_ratio": "sweep_ratios",
    "guidance_scale": "sweep_guidance",
    "seed": "sweep_seeds",
}
#: What the front end calls each field a problem may name (for the plan line).
FIELD_LABELS: Final = {
    "prompt": "Prompt",
    "images": "Images",
    "aspect_ratio": "Aspect ratio",
    "seed": "Seed",
    "guidance_scale": "Guidance scale",
    "mode": "Mode",
    "sweep_seeds": "Sweep seeds",
    "sweep_guidance": "Sweep guidance",
    "sweep_ratios": "Sweep aspect ratios",
    "sweep_prompts": "Sweep prompts",
    "sweep_concurrency": "Sweep concurrency",
    "sweep_budget": "Budget (USD)",
    "sweep_rows": "Grid rows",
    "sweep_cols": "Grid columns",
}
MAX_SWEEP_CONCURRENCY: Final = 16
#: Most random seeds a count may ask for (each is a paid image per other cell).
MAX_RANDOM_SEEDS: Final = 1000
MODES: Final = ("single", "sweep")

_WHOLE = re.compile(r"^\d+$")
_SEED_RANGE = re.compile(r"^\d+\s*-\s*\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_SEEDS_ALLOWED = (
    "expected a range START-END (e.g. 1-4), seeds separated by commas (e.g. 1, 5, 9) or a "
    f"count of random seeds (e.g. 4, at most {MAX_RANDOM_SEEDS}); seeds are whole numbers "
    f"from 0 to {SEED_MAX}; empty uses the Seed field"
)
_GUIDANCE_ALLOWED = (
    "expected START:STOP:STEP (e.g. 2.0:6.0:0.5) or numbers separated by commas "
    f"(e.g. 2, 3.5, 5), each from {GUIDANCE_MIN:g} to {GUIDANCE_MAX:g}; empty uses the "
    "Guidance scale slider"
)


# --------------------------------------------------------------------------- parsing


def parse_seeds(text: str) -> list[int] | int | None:
    """The ``sweep_seeds`` text: seeds, a count of random seeds, or None (not an axis).

    >>> parse_seeds("1-4"), parse_seeds("1, 5, 9"), parse_seeds("4"), parse_seeds("  ")
    ([1, 2, 3, 4], [1, 5, 9], 4, None)
    >>> parse_seeds("1, x")
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: sweep_seeds: 'x' is not allowed; expected a range...
    """
    stripped = text.strip()
    if not stripped:
        return None
    if "," in stripped:
        seeds: list[int] = []
        for item in (part.strip() for part in stripped.split(",")):
            if not _WHOLE.match(item) or int(item) > SEED_MAX:
                raise _refused("sweep_seeds", item, _SEEDS_ALLOWED)
            if int(item) in seeds:
                raise _refused("sweep_seeds", item, "each seed once")
            seeds.append(int(item))
        return seeds
    if _SEED_RANGE.match(stripped):
        try:
            values = [int(v) for v in parse_range(stripped)]
        except ValueError as exc:
            raise _refused("sweep_seeds", stripped, f"{exc}; {_SEEDS_ALLOWED}") from None
        if values[-1] > SEED_MAX:
            raise _refused("sweep_seeds", stripped, _SEEDS_ALLOWED)
        return values
    if _WHOLE.match(stripped):
        count = int(stripped)
        if not 1 <= count <= MAX_RANDOM_SEEDS:
            raise _refused(
                "sweep_seeds",
                stripped,
                f"a count of random seeds from 1 to {MAX_RANDOM_SEEDS} (or a range such as "
                f"{stripped}-{stripped} for that one seed)",
            )
        return count
    raise _refused("sweep_seeds", stripped, _SEEDS_ALLOWED)


def parse_guidance(text: str) -> list[float] | None:
    """The ``sweep_guidance`` text: guidance values, or None (not an axis).

    >>> parse_guidance("2.0:3.0:0.5"), parse_guidance("2, 3.5"), parse_guidance("")
    ([2.0, 2.5, 3.0], [2.0, 3.5], None)
    >>> parse_guidance("2, 30")
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: sweep_guidance: '30' is not allowed; expected...
    """
    stripped = text.strip()
    if not stripped:
        return None
    values: list[float] = []
    if ":" in stripped:
        try:
            values = [float(v) for v in parse_range(stripped)]
        except ValueError as exc:
            raise _refused("sweep_guidance", stripped, f"{exc}; {_GUIDANCE_ALLOWED}") from None
        bad = [v for v in values if check_guidance(v)]
        if bad:
            raise _refused("sweep_guidance", stripped, _GUIDANCE_ALLOWED, shown=f"{bad[0]:g}")
        return values
    for item in (part.strip() for part in stripped.split(",")):
        if not _DECIMAL.match(item) or check_guidance(float(item)):
            raise _refused("sweep_guidance", item, _GUIDANCE_ALLOWED)
        if float(item) in values:
            raise _refused("sweep_guidance", item, "each value once")
        values.append(float(item))
    return values


def parse_ratios(values: object) -> list[str] | None:
    """The ``sweep_ratios`` list: the ticked ratios in the usual order, or None (none ticked).

    >>> parse_ratios(["16:9", "1:1", "16:9"]), parse_ratios([])
    (['16:9', '1:1'], None)
    """
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise _refused("sweep_ratios", values, "expected a list of aspect ratios")
    unknown = [v for v in values if v not in ASPECT_RATIOS]
    if unknown:
        raise _refused(
            "sweep_ratios", unknown[0], "expected aspect ratios among " + ", ".join(ASPECT_RATIOS)
        )
    chosen = [r for r in ASPECT_RATIOS if r in values]
    return chosen or None


def parse_prompts(text: str) -> list[str] | None:
    """The ``sweep_prompts`` text: one prompt per non-empty line, or None (not an axis).

    >>> parse_prompts("make it night\\n\\n  make it snow  \\n"), parse_prompts(" ")
    (['make it night', 'make it snow'], None)
    """
    prompts: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        problem = check_prompt(line)
        if problem:
            raise _refused("sweep_prompts", line, problem.allowed + " (one prompt per line)")
        if line in prompts:
            raise _refused("sweep_prompts", line, "each prompt once")
        prompts.append(line)
    return prompts or None


def _refused(
    field_name: str, value: object, allowed: str, *, shown: str = ""
) -> InvalidRequestError:
    return InvalidRequestError([Problem(field_name, value, allowed, shown=shown)])


# --------------------------------------------------------------------------- planning


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
    arguments: dict[str, Any] = {"images": [item.source for item in inputs]}
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
    if problems:
        raise InvalidRequestError(problems)

    # One value of an axis text is a fixed setting, like the single-mode controls' values.
    prompts = axis_values["prompt"] or [settings.prompt]
    arguments["prompt"] = prompts if len(prompts) > 1 else prompts[0]
    guidance = axis_values["guidance_scale"] or [settings.guidance_scale]
    arguments["guidance_scale"] = guidance if len(guidance) > 1 else guidance[0]
    ratios = axis_values["aspect_ratio"]
    from_url: str | None = None
    if ratios:
        arguments["aspect_ratio"] = ratios if len(ratios) > 1 else ratios[0]
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
    # one-value axis and is made a fixed setting again below.
    arguments["seed"] = [settings.seed] if seeds is None else seeds

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
    4 cells (seed × 4); cost $0.16; about 16 s at concurrency 2 — above the budget of $0.10:
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


def problem_line(problems: Sequence[Problem]) -> str:
    """Problems as the plan line shows them, with the front end's names for the fields.

    >>> problem_line([Problem("sweep_seeds", "x", "expected seeds")])
    "Cannot plan the sweep: Sweep seeds: 'x' is not allowed; expected seeds"
    """
    texts = []
    for problem in problems:
        text = str(problem)
        base = problem.field.split("[", 1)[0]
        label = FIELD_LABELS.get(base)
        if label and text.startswith(f"{problem.field}: "):
            text = f"{label}: {text[len(problem.field) + 2 :]}"
        texts.append(text)
    return "Cannot plan the sweep: " + "; ".join(texts)


def cell_label(coords: Mapping[str, Any], index: int) -> str:
    """How an output of a cell is named in the gallery's buttons ("seed 3 · guidance 2.5").

    >>> cell_label({"guidance_scale": 2.5, "seed": 3}, 0), cell_label({}, 0)
    ('guidance 2.5 · seed 3', 'cell 1')
    """
    return " · ".join(format_value(k, v) for k, v in coords.items()) or f"cell {index + 1}"


# --------------------------------------------------------------------------- a running sweep

SweepState = Literal["running", "finished", "cancelled", "failed"]


@dataclass
class LiveSweep:
    """One sweep of the widget while it runs: every cell's latest state, for the grid.

    >>> from kontext_widgets.sweeps.plan import plan_sweep
    >>> plan = plan_sweep(prompt="x", images=["https://example.com/a.png"], seed=[1, 2])
    >>> import tempfile
    >>> live = LiveSweep("sweep1", plan, Store(tempfile.mkdtemp()), simulated=True)
    >>> live.on_progress(SweepProgress(total=2, running=1), CellOutcome(0, {"seed": 1}, "running"))
    >>> [o.state for o in live.outcomes], live.progress_trait()["running"]
    (['running', 'pending'], 1)
    >>> live.cancel_now(); live.status()
    'Sweep 1 cancelled: 0 of 2 cells done, 0 failed, 2 cancelled, 0 from the store (SIMULATED)'
    """

    id: str
    plan: SweepPlan
    store: Store
    simulated: bool
    rows: list[str] = field(default_factory=list)
    cols: list[str] = field(default_factory=list)
    inputs: tuple[InputImage, ...] = ()
    retry: bool = False
    #: the task that runs it (so it is not counted as waiting)
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    state: SweepState = "running"
    error: str = ""
    progress: SweepProgress | None = None
    outcomes: list[CellOutcome] = field(init=False)
    changed: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    started: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.outcomes = [CellOutcome(c.index, dict(c.coords), "pending") for c in self.plan.cells]
        self._position = {c.index: i for i, c in enumerate(self.plan.cells)}

    def cell(self, index: int) -> Cell:
        """The planned cell with this index."""
        return self.plan.cells[self._position[index]]

    @property
    def number(self) -> str:
        return self.id.removeprefix("sweep")

    @property
    def ended(self) -> bool:
        return self.state != "running"

    def on_progress(self, progress: SweepProgress, outcome: CellOutcome | None) -> None:
        """The runner's callback: remember the counts and the cell's new state."""
        if self.ended:
            return
        self.progress = progress
        if outcome is not None:
            position = self._position.get(outcome.index)
            if position is not None:
                self.outcomes[position] = outcome
        self.changed.set()

    def finish(self, outcomes: Sequence[CellOutcome]) -> None:
        self.outcomes = list(outcomes)
        self.state = "finished"

    def cancel_now(self, state: SweepState = "cancelled", error: str = "") -> None:
        """Mark every unfinished cell cancelled at once (the task is being cancelled)."""
        if self.ended:
            return
        self.outcomes = [
            CellOutcome(o.index, o.coords, "cancelled") if o.state in ("pending", "running") else o
            for o in self.outcomes
        ]
        self.state, self.error = state, error

    def result(self) -> SweepResult:
        """The sweep so far (unfinished cells queued, running or cancelled)."""
        return SweepResult(self.plan, tuple(self.outcomes), self.store, self.simulated)

    def counts(self) -> dict[str, int]:
        states = [o.state for o in self.outcomes]
        return {
            "total": len(states),
            "done": states.count("done"),
            "failed": states.count("failed"),
            "running": states.count("running"),
            "queued": states.count("pending"),
            "cancelled": states.count("cancelled"),
            "cached": sum(o.cached and o.state == "done" for o in self.outcomes),
        }

    def title(self) -> str:
        what = "retry of the failed cells" if self.retry else f"{len(self.outcomes)} cells"
        axes = ", ".join(f"{k} × {len(v)}" for k, v in self.plan.axes.items()) or "no axes"
        return f"Sweep {self.number}: {what} ({axes})"

    def status(self) -> str:
        summary = self.result().summary()
        if self.state == "running":
            line = self.progress_line()
            return f"Sweep {self.number}: {line}"
        if self.state == "cancelled":
            return f"Sweep {self.number} cancelled: {summary}"
        if self.state == "failed":
            return f"Sweep {self.number} stopped: {summary}"
        return f"Sweep {self.number}: {summary}"

    def progress_line(self) -> str:
        n = self.counts()
        spent = self.progress.spent_usd if self.progress else 0.0
        eta = self.progress.eta_s if self.progress else None
        billed = " (simulated: nothing billed)" if self.simulated else ""
        left = f"; about {eta:.0f} s left" if eta is not None and self.state == "running" else ""
        return (
            f"{n['done'] + n['failed']} of {n['total']} cells: {n['done']} done, "
            f"{n['failed']} failed, {n['running']} running ({n['cached']} from the store); "
            f"spent ${spent:.2f}{billed}{left}"
        )

    def progress_trait(self) -> dict[str, Any]:
        """The ``sweep_progress`` trait (docs/widget-protocol.md)."""
        eta = self.progress.eta_s if self.progress and self.state == "running" else None
        spent = self.progress.spent_usd if self.progress else 0.0
        return {
            "id": self.id,
            "state": self.state,
            **self.counts(),
            "spent_usd": spent,
            "eta_s": None if eta is None else round(eta, 1),
            "text": self.status(),
        }
