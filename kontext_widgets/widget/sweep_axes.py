"""The sweep mode's axis texts (``sweep_seeds``, ``sweep_guidance``…), parsed strictly.

Every refused text becomes a :class:`Problem` naming the widget's trait and what is
allowed, so the widget can refuse a Generate before anything is sent and show the
reason live in the plan line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..contract import ASPECT_RATIOS
from ..errors import InvalidRequestError, Problem
from ..fields import MAX_RANDOM_SEEDS, MAX_SWEEP_CONCURRENCY, parse_floats, parse_ints, random_count
from ..payload import check_prompt
from ..sweeps.layout import format_value

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
MODES: Final = ("single", "sweep")


# --------------------------------------------------------------------------- parsing


def parse_seeds(text: str) -> list[int] | int | None:
    """The ``sweep_seeds`` text: seeds, a count of random seeds, or None (not an axis).

    Read with the one grammar (:func:`kontext_widgets.fields.parse_values`).

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
    count = random_count("seed", stripped, field_name="sweep_seeds", max_count=MAX_RANDOM_SEEDS)
    if count is not None:
        return count
    return parse_ints(
        "seed", stripped, field_name="sweep_seeds", counts=True, max_count=MAX_RANDOM_SEEDS
    )


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
    return parse_floats("guidance_scale", stripped, field_name="sweep_guidance")


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
