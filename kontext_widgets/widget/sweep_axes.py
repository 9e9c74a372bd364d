"""The sweep mode's axis texts (``sweep_seeds``, ``sweep_guidance``…), parsed strictly.

Every refused text becomes a :class:`Problem` naming the widget's trait and what is
allowed, so the widget can refuse a Generate before anything is sent and show the
reason live in the plan line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..contract import ASPECT_RATIOS, GUIDANCE_MAX, GUIDANCE_MIN, SEED_MAX
from ..errors import InvalidRequestError, Problem
from ..payload import check_guidance, check_prompt
from ..sweeps.layout import format_value
from ..sweeps.plan import parse_range

__all__ = [
    "AXES",
    "AXIS_TRAITS",
    "MAX_RANDOM_SEEDS",
    "MAX_SWEEP_CONCURRENCY",
    "MODES",
    "cell_label",
    "parse_guidance",
    "parse_prompts",
    "parse_ratios",
    "parse_seeds",
    "problem_line",
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
