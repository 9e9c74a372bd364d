"""Text made from the registry: the "copy as code" lines and the docs' settings table.

>>> print(settings_table().splitlines()[2])  # doctest: +ELLIPSIS
| `prompt` | `prompt` | `prompt` | Prompt | required | a non-empty edit instruction ... |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from . import fields as _fields
from .fields import Field, jsonable

__all__ = ["SETTINGS_TABLE_HEADER", "HasValues", "settings_table", "snippet_lines"]


class HasValues(Protocol):
    """What :func:`snippet_lines` reads: a request's value of each setting."""

    def value(self, name: str) -> Any: ...


def snippet_lines(
    request: HasValues | Mapping[str, Any], *, image_lines: Sequence[str] | None = None
) -> list[str]:
    """The keyword lines of ``client.run(...)`` that reproduce ``request`` (not indented).

    ``image_lines`` replaces the items of ``images=[...]`` (the widget knows paths and
    earlier outputs that the request holds only as bytes).

    >>> print("\\n".join(snippet_lines({"prompt": "night", "images": ["https://x.org/a.png"],
    ...                                  "seed": 5, "guidance_scale": 3.5})))
    prompt='night',
    images=[
        'https://x.org/a.png',
    ],
    seed=5,
    guidance_scale=3.5,
    """
    lines: list[str] = []
    for f in _fields.FIELDS:
        raw = (
            request.get(f.name, f.default)
            if isinstance(request, Mapping)
            else request.value(f.name)
        )
        if f.name == "images" and image_lines is not None:
            lines += ["images=[", *(f"    {line}" for line in image_lines), "],"]
            continue
        text = f.snippet(raw)
        if text is not None:
            lines += text.split("\n")
    return lines


def _value(request: HasValues | Mapping[str, Any], f: Field) -> Any:
    if isinstance(request, Mapping):
        return request.get(f.name, f.default)
    return request.value(f.name)


SETTINGS_TABLE_HEADER: Final = (
    "| setting | JSON key | trait | label | default | allowed | cache key | sweep axis | CLI |",
    "|---|---|---|---|---|---|---|---|---|",
)


def settings_table() -> str:
    """The settings table of ``docs/widget-protocol.md``, made from the registry."""
    rows = list(SETTINGS_TABLE_HEADER)
    for f in _fields.FIELDS:
        cells = [
            f"`{f.name}`",
            f"`{f.wire}`" if f.wire else "–",
            f"`{f.trait}`" if f.trait else "–",
            f.label,
            "required" if f.required else f"`{jsonable(f.default)!r}`",
            f.allowed.removeprefix("expected "),
            "yes" if f.in_cache_key else "no",
            f.axis,
            " ".join(f"`{flag}`" for flag in (f.cli_flag, *f.cli_aliases) if flag) or "–",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
