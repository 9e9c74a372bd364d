"""How a setting's value is written in code, keyed in the cache and shown to a person.

The small functions the registry (:mod:`kontext_widgets.fields`) attaches to its fields.

>>> arg_line("seed")(5), arg_line("seed")(None)
('seed=5,', None)
"""

from __future__ import annotations

from collections.abc import Callable


def same(value: object) -> object:
    """The value itself (most settings are keyed and shown as they are)."""
    return value


def arg_line(name: str) -> Callable[[object], str | None]:
    """The usual snippet line, ``name=value,``, left out when the value is None."""
    return lambda value: None if value is None else f"{name}={value!r},"


def images_snippet(images: object) -> str:
    lines = ["images=["]
    for source in images if isinstance(images, (list, tuple)) else []:
        if isinstance(source, str):
            lines.append(f"    {source!r},")
        else:
            name = getattr(source, "name", "image")
            lines.append(f"    {name!r},  # a file from your computer: put its path here")
    return "\n".join([*lines, "],"])


def image_keys(images: object) -> object:
    items = images if isinstance(images, (list, tuple)) else []
    return [i if isinstance(i, str) else "sha256:" + str(getattr(i, "sha256", "")) for i in items]


def image_names(images: object) -> object:
    items = images if isinstance(images, (list, tuple)) else []
    return [i if isinstance(i, str) else getattr(i, "name", "image") for i in items]


def as_float(value: object) -> object:
    return float(value) if isinstance(value, (int, float)) else value
