"""The one grammar for seeds, ranges and lists of setting values.

A setting's ``axis`` picks the grammar (see :mod:`kontext_widgets.fields`):

- ``"ints"`` (seeds): ``"1, 7, 42"`` (commas, semicolons or spaces), ``"1-8"`` (inclusive),
  both mixed, a Python list, one int; with ``counts=True`` a bare count (``4`` or ``"4"``)
  means that many random seeds, drawn at once.
- ``"floats"`` (guidance): ``"2, 3.5"``, ``"2.0:6.0:0.5"`` (Decimal steps, so the end is exact),
  a Python list, one number.
- ``"choices"`` (aspect ratio): ``"16:9, 1:1"`` or a list, each one of the choices.
- ``"lines"`` (prompts): one value per non-empty line, or a list.
- ``"image_sets"``: one image list, or a list of image lists.
- ``"none"``: exactly one value, never an axis.

Every value is checked with the setting's own check; a repeated value is refused (it would
repeat its image and its cost). Empty text or an empty list gives ``[]``: the caller decides
what "no values" means.

>>> parse_range("1-4"), parse_range("2.0:3.0:0.5")
([1, 2, 3, 4], [2.0, 2.5, 3.0])
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol

from .errors import InvalidRequestError, Problem

#: Most values one range or one axis may hold.
MAX_VALUES: Final = 100_000

_INT_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")
_FLOAT_RANGE = re.compile(r"^\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)\s*$")
_SEPARATORS = re.compile(r"[\s,;]+")
_JOINED_DASH = re.compile(r"(?<=\d)\s*-\s*(?=\d)")
_JOINED_COLON = re.compile(r"\s*:\s*")
_WHOLE = re.compile(r"^\d+$")
_INT_SPAN = re.compile(r"^\d+-\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class Setting(Protocol):
    """What the grammar reads from a :class:`~kontext_widgets.fields.Field`."""

    @property
    def name(self) -> str: ...
    @property
    def item(self) -> str: ...
    @property
    def axis(self) -> str: ...
    @property
    def check(self) -> Callable[[object], Problem | None]: ...
    @property
    def frontend(self) -> Mapping[str, object]: ...


def parse_range(text: str) -> list[int] | list[float]:
    """Expand one range: ``"1-8"`` (integers, inclusive) or ``"2.0:6.0:0.5"`` (START:STOP:STEP).

    >>> parse_range("1.0:2.0:0.1")[-1]
    2.0
    >>> parse_range("8-1")
    Traceback (most recent call last):
    ...
    ValueError: range '8-1': the end is before the start
    """
    if m := _INT_RANGE.match(text):
        start, stop = int(m.group(1)), int(m.group(2))
        if stop < start:
            raise ValueError(f"range {text!r}: the end is before the start")
        if stop - start >= MAX_VALUES:
            raise ValueError(f"range {text!r} has more than {MAX_VALUES} values")
        return list(range(start, stop + 1))
    if m := _FLOAT_RANGE.match(text):
        try:
            start_d, stop_d, step_d = (Decimal(g) for g in m.groups())
        except InvalidOperation:
            raise ValueError(f"range {text!r}: expected numbers as START:STOP:STEP") from None
        if not (step_d.is_finite() and start_d.is_finite() and stop_d.is_finite()):
            raise ValueError(f"range {text!r}: expected numbers as START:STOP:STEP")
        if step_d <= 0 or stop_d < start_d:
            raise ValueError(f"range {text!r}: expected START <= STOP and a positive STEP")
        count = int((stop_d - start_d) / step_d) + 1
        if count > MAX_VALUES:
            raise ValueError(f"range {text!r} has more than {MAX_VALUES} values")
        # Decimal steps, so 2.0:6.0:0.1 ends exactly at 6.0 with no float drift.
        return [float(start_d + i * step_d) for i in range(count)]
    raise ValueError(f"{text!r} is not a range; expected START-STOP (integers) or START:STOP:STEP")


def refused(field: str, value: object, allowed: str, *, shown: str = "") -> InvalidRequestError:
    """One refused value as the error every parser raises."""
    return InvalidRequestError([Problem(field, value, allowed, shown=shown)])


def allowed_text(setting: Setting, *, counts: bool = False, max_count: int = MAX_VALUES) -> str:
    """What the grammar of ``setting`` accepts, in words (the ``allowed`` of its problems).

    >>> from kontext_widgets.fields import field
    >>> print(allowed_text(field("guidance_scale")))  # doctest: +NORMALIZE_WHITESPACE
    expected START:STOP:STEP (e.g. 2.0:6.0:0.5) or numbers separated by commas
    (e.g. 2, 3.5, 5), each from 1 to 20
    """
    item, spec = setting.item, setting.frontend
    if setting.axis == "ints":
        random_part = f" or a count of random {item}s (e.g. 4, at most {max_count})"
        return (
            f"expected a range START-END (e.g. 1-4), {item}s separated by commas (e.g. 1, 5, 9)"
            + (random_part if counts else "")
            + f"; {item}s are whole numbers from {spec.get('min')} to {spec.get('max')}"
        )
    if setting.axis == "floats":
        return (
            "expected START:STOP:STEP (e.g. 2.0:6.0:0.5) or numbers separated by commas "
            f"(e.g. 2, 3.5, 5), each from {spec.get('min'):g} to {spec.get('max'):g}"
        )
    if setting.axis == "choices":
        choices = spec.get("choices", ())
        listed = ", ".join(map(str, choices)) if isinstance(choices, Sequence) else ""
        return f"expected {item}s among {listed}"
    if setting.axis == "lines":
        return f"expected one {item} per line (or a list of {item}s)"
    if setting.axis == "image_sets":
        return "expected one list of images, or a list of image lists (one per cell)"
    return f"expected one {item}: this setting is not a sweep axis"


def random_count(setting: Setting, value: object, *, field: str, max_count: int) -> int | None:
    """The count when ``value`` is a bare count (``4`` or ``"4"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _WHOLE.match(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        return None
    if not 1 <= value <= max_count:
        raise refused(
            field,
            value,
            f"a count of random {setting.item}s from 1 to {max_count} "
            f"(or a range such as {value}-{value} for that one {setting.item})",
        )
    return value


def parse(
    setting: Setting,
    value: object,
    *,
    field: str | None = None,
    counts: bool = False,
    rng: random.Random | None = None,
    max_count: int = MAX_VALUES,
    limit: int | None = None,
) -> list[object]:
    """The values ``value`` stands for under ``setting``'s grammar (see the module doc).

    ``field`` names the problems (default: the setting's name; a widget passes its trait),
    ``counts`` lets a bare count mean that many random seeds (at most ``max_count``, drawn
    with ``rng``), ``limit`` caps how many values there may be.
    """
    name = field or setting.name
    if counts and setting.axis == "ints":
        count = random_count(setting, value, field=name, max_count=max_count)
        if count is not None:
            draw = rng or random.Random()  # noqa: S311 - seeds for images, not secrets
            low, high = _bound(setting, "min", 0), _bound(setting, "max", 2**31 - 1)
            return [draw.randint(int(low), int(high)) for _ in range(count)]
    values = _PARSERS.get(setting.axis, _single)(setting, value, name, counts, max_count)
    _refuse_repeats(setting, values, name)
    if limit is not None and len(values) > limit:
        raise refused(
            name, value, f"at most {limit} {setting.item}s", shown=f"{len(values)} {setting.item}s"
        )
    return values


def _bound(setting: Setting, key: str, default: float) -> float:
    got = setting.frontend.get(key, default)
    return got if isinstance(got, (int, float)) else default


def _tokens(text: str, joined: re.Pattern[str], glue: str) -> list[str]:
    return [t for t in _SEPARATORS.split(joined.sub(glue, text.strip())) if t]


def _ints(setting: Setting, value: object, name: str, counts: bool, max_count: int) -> list[object]:
    allowed = allowed_text(setting, counts=counts, max_count=max_count)
    if isinstance(value, str):
        out: list[object] = []
        for token in _tokens(value, _JOINED_DASH, "-"):
            out += _int_token(token, name, allowed)
        return _checked(setting, out, name, allowed)
    items = _as_list(value)
    if items is None or any(isinstance(v, bool) or not isinstance(v, int) for v in items):
        raise refused(name, value, allowed)
    return _checked(setting, items, name, allowed)


def _int_token(token: str, name: str, allowed: str) -> list[int]:
    if token.isascii() and _WHOLE.match(token):
        return [int(token)]
    if token.isascii() and _INT_SPAN.match(token):
        try:
            return [int(v) for v in parse_range(token)]
        except ValueError as exc:
            raise refused(name, token, f"{exc}; {allowed}") from None
    raise refused(name, token, allowed)


def _floats(
    setting: Setting, value: object, name: str, counts: bool, max_count: int
) -> list[object]:
    allowed = allowed_text(setting)
    if isinstance(value, str):
        out: list[object] = []
        for token in _tokens(value, _JOINED_COLON, ":"):
            if ":" in token:
                try:
                    out += parse_range(token)
                except ValueError as exc:
                    raise refused(name, token, f"{exc}; {allowed}") from None
            elif token.isascii() and _DECIMAL.match(token):
                out.append(float(token))
            else:
                raise refused(name, token, allowed)
        return _checked(setting, out, name, allowed)
    items = _as_list(value)
    if items is None or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
        raise refused(name, value, allowed)
    return _checked(setting, items, name, allowed)


def _choices(
    setting: Setting, value: object, name: str, counts: bool, max_count: int
) -> list[object]:
    allowed = allowed_text(setting)
    items: list[object] | None = (
        list(_tokens(value, _SEPARATORS, ",")) if isinstance(value, str) else _as_list(value)
    )
    if items is None:
        raise refused(name, value, allowed)
    return _checked(setting, items, name, allowed)


def _lines(
    setting: Setting, value: object, name: str, counts: bool, max_count: int
) -> list[object]:
    if isinstance(value, str):
        lines: list[object] = [line.strip() for line in value.splitlines() if line.strip()]
        return _checked(setting, lines, name, None, suffix=f" (one {setting.item} per line)")
    items = _as_list(value)
    if items is None:
        raise refused(name, value, allowed_text(setting))
    return _checked(setting, items, name, None)


def _image_sets(
    setting: Setting, value: object, name: str, counts: bool, max_count: int
) -> list[object]:
    items = _as_list(value)
    if items and all(isinstance(v, (list, tuple)) for v in items):
        return [list(v) for v in items]  # type: ignore[call-overload]
    # One image list (or something KontextRequest.build will name the problem of).
    return [value]


def _single(
    setting: Setting, value: object, name: str, counts: bool, max_count: int
) -> list[object]:
    if isinstance(value, (list, tuple)):
        raise refused(name, value, allowed_text(setting))
    return _checked(setting, [value], name, None)


def _as_list(value: object) -> list[object] | None:
    """A lone value as a one-value list, a list or tuple as itself; None for anything else."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, bytes, Mapping, set, frozenset)) or value is None:
        return None
    return [value]


def _checked(
    setting: Setting, values: list[object], name: str, allowed: str | None, *, suffix: str = ""
) -> list[object]:
    """Each value through the setting's own check; the problem names ``name``."""
    low, high = _bound(setting, "min", -math.inf), _bound(setting, "max", math.inf)
    for value in values:
        problem = setting.check(value)
        # The front end's bounds may be narrower than the wire's: -1 means "random" on the
        # wire, but a seed someone writes down is a real one (0 and up).
        if problem is None and isinstance(value, (int, float)) and not low <= value <= high:
            problem = Problem(name, value, allowed or "")
        if problem is not None:
            shown = f"{value:g}" if isinstance(value, float) else ""
            raise refused(name, value, (allowed or problem.allowed) + suffix, shown=shown)
    return values


def _refuse_repeats(setting: Setting, values: list[object], name: str) -> None:
    seen: list[object] = []
    for value in values:
        try:
            repeated = value in seen
        except Exception:  # an object whose == is broken: it cannot be compared, let it be
            repeated = False
        if repeated:
            shown = f"{value:g}" if isinstance(value, float) else ""
            raise refused(
                name,
                value,
                f"each {setting.item} once",
                shown=shown,
            )
        seen.append(value)


_PARSERS: Final[Mapping[str, Callable[[Setting, object, str, bool, int], list[object]]]] = {
    "ints": _ints,
    "floats": _floats,
    "choices": _choices,
    "lines": _lines,
    "image_sets": _image_sets,
}
