"""How a request's settings read to a person: one vocabulary for tiles, headings and legends.

A tile says only what differs from its neighbours (``seed 2 · guidance 5``), a
row's heading what they share, a tooltip everything, and a sweep grid's legend
the axis values that place a cell. All of them word a value the same way
(:func:`format_field`); nothing here is escaped (the display escapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._text import plural, shorten
from .contract import RANDOM_SEED

if TYPE_CHECKING:
    from .request import KontextRequest

__all__ = [
    "LABEL_FIELDS",
    "SIMULATED_NOTE",
    "Labelled",
    "axes_words",
    "axis_name",
    "differing_fields",
    "differing_labels",
    "format_field",
    "label",
    "request_lines",
    "shared_fields",
]

#: The request fields a label may show, in the order they are shown.
LABEL_FIELDS: Final = ("seed", "guidance_scale", "aspect_ratio", "prompt", "images")
#: What every view of the offline simulator's results says next to "SIMULATED".
SIMULATED_NOTE: Final = "offline simulator, not the real model"
LABEL_CHARS: Final = 60
TITLE_CHARS: Final = 120
_NO_LIMIT: Final = 10_000


class Labelled(Protocol):
    """Anything a label can be made for: a Prediction or a Pending tile."""

    @property
    def id(self) -> str: ...

    @property
    def request(self) -> KontextRequest | None: ...


def format_field(name: str, value: Any, limit: int = LABEL_CHARS, *, legend: bool = False) -> str:
    """One setting in words. A ``legend`` (a sweep grid's axis) leaves out the names
    the grid's heading already gives (the prompt, the ratio) and is not shortened.

    >>> format_field("guidance_scale", 2), format_field("seed", -1)
    ('guidance 2', 'seed random')
    >>> format_field("aspect_ratio", None), format_field("aspect_ratio", "16:9", legend=True)
    ('ratio default', '16:9')
    >>> format_field("prompt", "make it night"), format_field("prompt", "night", legend=True)
    ('prompt “make it night”', 'night')
    >>> format_field("images", ["a.png", "b.png"], legend=True)
    'images: a.png, b.png'
    """
    if name == "seed":
        return "seed random" if value is None or value == RANDOM_SEED else f"seed {value}"
    if name == "guidance_scale":
        return f"guidance {float(value):g}"
    if name == "images":
        items = value if isinstance(value, (list, tuple)) else [value]
        names = ", ".join(str(getattr(v, "name", v)) for v in items)
        return "images: " + names if legend else "images " + shorten(names, limit)
    if legend:
        return str(value) if value is not None else "default"
    if name == "aspect_ratio":
        return f"ratio {value}" if value else "ratio default"
    if name == "prompt":
        return f"prompt “{shorten(str(value), limit)}”"
    return f"{name} {shorten(str(value), limit)}"


def _value_key(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)


def differing_fields(items: Iterable[Labelled]) -> list[str]:
    """The request fields whose values differ across ``items``; ``["seed"]`` if none do.

    Fields come from ``KontextRequest.describe()`` in :data:`LABEL_FIELDS` order;
    items without a request are left out of the comparison.
    """
    described = [p.request.describe() for p in items if p.request is not None]
    fields = [f for f in LABEL_FIELDS if len({_value_key(d.get(f)) for d in described}) > 1]
    return fields or ["seed"]


def label(item: Labelled, fields: Sequence[str]) -> str:
    """The label of one item naming ``fields`` (by its id when it has no request)."""
    if item.request is None:
        return f"prediction {item.id}"
    described = item.request.describe()
    return " · ".join(format_field(f, described.get(f)) for f in fields)


def differing_labels(items: Iterable[Labelled]) -> list[str]:
    """One plain-text label per item, naming only what differs between them.

    Labels are not escaped (the display escapes them). An item that has no
    request is labelled by its id.

    >>> from kontext_widgets.contract import Status
    >>> from kontext_widgets.prediction import Prediction
    >>> from kontext_widgets.request import KontextRequest
    >>> def made(seed, guidance=3.5):
    ...     r = KontextRequest.build(prompt="make it night", images=["https://example.com/a.png"],
    ...                              seed=seed, guidance_scale=guidance)
    ...     return Prediction(id=f"p{seed}", status=Status.COMPLETED, request=r)
    >>> differing_labels([made(1), made(2)])
    ['seed 1', 'seed 2']
    >>> differing_labels([made(1, 2.5), made(2, 5)])
    ['seed 1 · guidance 2.5', 'seed 2 · guidance 5']
    >>> differing_labels([made(7), made(7)])  # nothing differs: the seed
    ['seed 7', 'seed 7']
    """
    listed = list(items)
    fields = differing_fields(listed)
    return [label(p, fields) for p in listed]


def shared_fields(items: Sequence[Labelled], differing: Sequence[str]) -> list[str]:
    """What all the items have in common, for a row's heading (taken from the first request)."""
    requests = [p.request for p in items if p.request is not None]
    if not requests:
        return []
    described = requests[0].describe()
    shared = [
        format_field(name, described.get(name), TITLE_CHARS)
        for name in ("prompt", "guidance_scale", "aspect_ratio")
        if name not in differing
    ]
    if "images" not in differing:
        shared.append(plural(len(described.get("images") or []), "input image"))
    return shared


def request_lines(request: KontextRequest | None) -> list[str]:
    """Every label field of a request, one line each, in full (for a tooltip)."""
    if request is None:
        return []
    described = request.describe()
    return [format_field(f, described.get(f), _NO_LIMIT) for f in LABEL_FIELDS]


#: How an axis reads in plain words: (one, many).
_AXIS_NOUNS: Final[dict[str, tuple[str, str]]] = {
    "prompt": ("prompt", "prompts"),
    "seed": ("seed", "seeds"),
    "guidance_scale": ("guidance value", "guidance values"),
    "aspect_ratio": ("aspect ratio", "aspect ratios"),
    "images": ("image set", "image sets"),
}


def axis_name(name: str) -> str:
    """An axis in plain words (``aspect_ratio`` is "aspect ratio").

    >>> axis_name("aspect_ratio"), axis_name("guidance_scale"), axis_name("seed")
    ('aspect ratio', 'guidance', 'seed')
    """
    return "guidance" if name == "guidance_scale" else _AXIS_NOUNS.get(name, (name, ""))[0]


def axes_words(axes: Mapping[str, Sized]) -> str:
    """The axes of a sweep in plain words, e.g. "2 prompts × 4 seeds".

    >>> axes_words({"aspect_ratio": ["1:1", "16:9"], "seed": [1]})
    '2 aspect ratios × 1 seed'
    >>> axes_words({})
    'no axes'
    """
    parts = []
    for name, values in axes.items():
        one, many = _AXIS_NOUNS.get(name, (name.replace("_", " "), name.replace("_", " ") + "s"))
        parts.append(plural(len(values), one, many))
    return " × ".join(parts) or "no axes"
