"""Small text rules used everywhere: shortening with "…", plurals, safe file stems.

One copy of each, so a label, an error message and a file name never disagree
about how a long prompt is cut or which characters a file name may hold.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ELLIPSIS", "plural", "safe_stem", "shorten"]

#: What marks a cut: one character, so ``limit`` counts what the reader sees.
ELLIPSIS: Final = "…"
_STEM_SAFE: Final = re.compile(r"[A-Za-z0-9_-]*")


def shorten(text: str, limit: int, *, squash: bool = True) -> str:
    """``text`` in at most ``limit`` characters, cut with "…" when it is longer.

    Runs of whitespace (newlines included) become one space unless ``squash`` is
    false; the cut never leaves a space before the "…".

    >>> shorten("make  the sky\\npurple", 40)
    'make the sky purple'
    >>> shorten("make the sky a deep purple", 14)
    'make the sky…'
    >>> shorten("abcdef", 1)
    '…'
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit: {limit!r} is not allowed; expected an integer of 1 or more")
    if squash:
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is one.

    >>> plural(1, "cell"), plural(2, "cell"), plural(0, "image"), plural(3, "entry", "entries")
    ('1 cell', '2 cells', '0 images', '3 entries')
    """
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def safe_stem(
    text: str, *, limit: int = 64, default: str = "output", keep: str = "_-", fill: str = "_"
) -> str:
    """A file-name stem from any text: ASCII letters, digits and ``keep``, at most ``limit`` long.

    Every other character becomes ``fill`` (``""`` drops it); an empty result
    gives ``default``. Path separators, dots and control characters never get
    through, so the stem is safe to join to a directory.

    >>> safe_stem("a1b2/../c d")
    'a1b2____c_d'
    >>> safe_stem("pred-0f3a:1", keep="", fill="")
    'pred0f3a1'
    >>> safe_stem(":", keep="", fill=""), safe_stem("x" * 100, limit=8)
    ('output', 'xxxxxxxx')
    """
    for name, value in (("keep", keep), ("fill", fill)):
        if not _STEM_SAFE.fullmatch(value):
            raise ValueError(
                f"{name}: {value!r} is not allowed; expected ASCII letters, digits, '_' or '-'"
            )
    stem = re.sub(f"[^A-Za-z0-9{re.escape(keep)}]", fill, text)
    return stem[:limit] or default
