"""Small sample images to try edits with, made by this project (CC0).

They are drawn from code by ``scripts/make_samples.py`` (see ``LICENSE.md``
beside them) and ship inside the package, so they work offline.

>>> from kontext_widgets import samples
>>> samples.names()
['landscape', 'person', 'shoes']
>>> samples.path("shoes").name
'shoes.png'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DESCRIPTIONS", "all_paths", "names", "path"]

_DIR = Path(__file__).resolve().parent

#: What each sample shows, to help write a prompt.
DESCRIPTIONS: dict[str, str] = {
    "landscape": "mountains, a lake, green hills and pine trees under a morning sky",
    "person": "a cartoon woman standing in socks on a plain background",
    "shoes": "a pair of red sneakers, side view, on a plain background",
}


def names() -> list[str]:
    """The names of the bundled samples, sorted.

    >>> names()
    ['landscape', 'person', 'shoes']
    """
    return sorted(DESCRIPTIONS)


def path(name: str) -> Path:
    """The file of the sample called ``name`` (a 512 px PNG).

    Pass it anywhere an input image is accepted, e.g.
    ``client.run(prompt=..., images=[samples.path("person"), samples.path("shoes")])``.

    >>> path("person").suffix
    '.png'
    >>> path("cat")
    Traceback (most recent call last):
    ...
    ValueError: unknown sample 'cat'; the samples are: landscape, person, shoes
    """
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown sample {name!r}; the samples are: {', '.join(names())}")
    return _DIR / f"{name}.png"


def all_paths() -> list[Path]:
    """The files of every sample, in the order of :func:`names`.

    >>> [p.stem for p in all_paths()]
    ['landscape', 'person', 'shoes']
    """
    return [path(name) for name in names()]
