"""The settings' command-line options, made from the registry (``fields.FIELDS``).

A setting with a ``cli_flag`` gets its option in ``generate`` and in ``sweep``; a new
setting declared in :mod:`kontext_widgets.fields` appears in both with no edit here.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_setting_options(parser, sweep=True)
>>> args = parser.parse_args(["--prompt", "a", "--prompt", "b", "--guidance", "2:3:0.5"])
>>> setting_arguments(args, sweep=True)
{'prompt': ['a', 'b'], 'guidance_scale': [2.0, 2.5, 3.0]}
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from .. import fields as _fields
from ..fields import Field

#: What an axis option takes in ``sweep`` (its help after the label).
_AXIS_HELP: Final = {
    "ints": 'seeds: "1-8", "1, 5, 9" or a count of random seeds ("4")',
    "floats": 'values: "2.0:6.0:0.5", "2, 3.5" or repeat the option',
    "choices": "repeat the option for an axis",
    "lines": "repeat the option for an axis",
    "image_sets": "one image per option (1 to 5)",
}


def add_setting_options(parser: argparse.ArgumentParser, *, sweep: bool) -> None:
    """One option per setting that has a CLI flag: ``generate`` runs one value of each
    (several seeds side by side), ``sweep`` takes axes."""
    for f in _fields.FIELDS:
        if f.cli_flag is not None:
            flags = (f.cli_flag, *f.cli_aliases)
            parser.add_argument(*flags, dest=f.name, **_option(f, sweep))


def _option(f: Field, sweep: bool) -> dict[str, Any]:
    kind = f.frontend.get("kind")
    if kind == "bool":
        return {"action": "store_true", "default": None, "help": f.help or f.label}
    option: dict[str, Any] = {"help": f.help or f.label}
    if kind == "images":
        option.update(action="append", metavar="URL_OR_PATH")
    if sweep:
        if f.axis in ("lines", "floats", "choices"):
            option["action"] = "append"
        option["help"] = f"{f.label}: {_AXIS_HELP.get(f.axis, f.help)}"
        return option
    option["required"] = f.required
    if kind == "seeds":
        option.update(action="append", type=int, metavar="N")
    elif kind == "number":
        option["type"] = float
    elif kind == "choice":
        option["choices"] = f.frontend.get("choices")
    return option


def setting_arguments(args: argparse.Namespace, *, sweep: bool) -> dict[str, Any]:
    """The settings given on the command line, as keyword arguments (unset ones left out).

    In ``sweep`` a repeated option is an axis and a single one a fixed value; numbers are
    read with the one grammar (:func:`kontext_widgets.fields.parse_values`).
    """
    given: dict[str, Any] = {}
    for f in _fields.FIELDS:
        value = getattr(args, f.name, None) if f.cli_flag else None
        if value is None:
            continue
        if sweep and f.axis == "floats":
            value = _fields.parse_values(f.name, ", ".join(value))
        if sweep and f.axis in ("lines", "floats", "choices") and len(value) == 1:
            value = value[0]
        given[f.name] = value
    return given
