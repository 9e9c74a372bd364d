"""_text.py: one rule each for shortening, plurals and file-name stems."""

from __future__ import annotations

import pytest

from kontext_widgets._text import ELLIPSIS, plural, safe_stem, shorten


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven char", 10, "eleven ch…"),
        ("word  word", 6, "word…"),  # no space left before the ellipsis
        ("a\n\tb", 10, "a b"),
        ("", 3, ""),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    out = shorten(text, limit)
    assert out == expected
    assert len(out) <= limit


def test_shorten_can_keep_whitespace_and_refuses_bad_limits() -> None:
    assert shorten("a\nb", 10, squash=False) == "a\nb"
    assert shorten("x" * 20, 5, squash=False) == "xxxx" + ELLIPSIS
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match=f"limit: {bad!r}"):
            shorten("abc", bad)  # type: ignore[arg-type]


def test_plural() -> None:
    assert [plural(n, "cell") for n in (0, 1, 2)] == ["0 cells", "1 cell", "2 cells"]
    assert plural(1, "input image") == "1 input image"
    assert plural(2, "entry", "entries") == "2 entries"


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("pred-1_a", {}, "pred-1_a"),
        ("../../etc/passwd", {}, "______etc_passwd"),
        ("a b\x00c", {}, "a_b_c"),
        ("é", {}, "_"),
        ("", {"default": "prediction"}, "prediction"),
        ("abc:1/2", {"keep": "", "fill": ""}, "abc12"),
        ("::", {"keep": "", "fill": ""}, "output"),
        ("x" * 80, {}, "x" * 64),
        ("abcdef", {"limit": 3}, "abc"),
    ],
)
def test_safe_stem(text: str, kwargs: dict[str, str], expected: str) -> None:
    assert safe_stem(text, **kwargs) == expected  # type: ignore[arg-type]


def test_safe_stem_never_lets_a_separator_through() -> None:
    stem = safe_stem("a/b\\c.d:e", keep="-")
    assert not set("/\\.:") & set(stem)
    with pytest.raises(ValueError, match="fill: '/'"):
        safe_stem("x", fill="/")
