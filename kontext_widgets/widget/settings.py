"""Settings given from Python (constructor, ``generate()``, ``sweep()``), checked like a request.

Each accepted keyword has one converter here, from the value a person passes to the
trait values it sets (or the problems it has); the names ``generate()`` and ``sweep()``
accept are the keys of these tables, and the constructor's are its signature's, so no
separate list of names can drift from what is accepted.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from ..contract import SEED_MAX
from ..engine.single import MAX_COMPARE, check_aspect_setting, check_compare, parse_seed_list
from ..errors import InvalidRequestError, Problem
from ..fields import FIELDS, Field
from ..payload import ALLOWED, check_guidance
from ..store import Store

__all__ = [
    "ON_BUSY",
    "SETTERS",
    "SWEEP_SETTERS",
    "problem_entries",
    "settings_values",
    "sweep_values",
    "unknown_message",
]

ON_BUSY: Final = ("replace", "queue")
_ON_BUSY_ALLOWED = "expected 'replace' or 'queue'"

Values = tuple[dict[str, Any], list[Problem]]


def _checked(f: Field) -> Callable[[object], Values]:
    """A request setting the widget holds as it is: checked by its field, set on its trait."""

    def setter(value: object) -> Values:
        problem = f.check(value)
        return ({}, [problem]) if problem else ({str(f.trait): value}, [])

    return setter


def _prompt(value: object) -> Values:
    if isinstance(value, str):
        return {"prompt": value}, []
    return {}, [Problem("prompt", value, ALLOWED["prompt"])]


def _aspect_ratio(value: object) -> Values:
    problem = check_aspect_setting("" if value is None else value)
    if problem:
        return {}, [dataclasses.replace(problem, value=value)]
    return {"aspect_ratio": value or ""}, []


def _guidance(value: object) -> Values:
    problem = check_guidance(value)
    return ({}, [problem]) if problem else ({"guidance_scale": float(value)}, [])  # type: ignore[arg-type]


def _on_busy(value: object) -> Values:
    if value in ON_BUSY:
        return {"on_busy": value}, []
    return {}, [Problem("on_busy", value, _ON_BUSY_ALLOWED)]


def _compare(value: object) -> Values:
    problem = check_compare(value)
    return ({}, [problem]) if problem else ({"compare": value, "seed_list": ""}, [])


def _seed_text(seeds: object, allowed: str) -> str | Problem:
    if isinstance(seeds, str):
        return seeds
    if isinstance(seeds, Iterable):
        listed = list(seeds)
        ok = all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= SEED_MAX for s in listed
        )
        return (
            ", ".join(str(s) for s in listed)
            if listed and ok
            else Problem("seeds", listed, allowed)
        )
    return Problem("seeds", seeds, allowed)


def _seeds(seeds: object) -> Values:
    allowed = (
        f"expected None (random), a seed from 0 to {SEED_MAX}, or a list of up to "
        f"{MAX_COMPARE} different seeds"
    )
    if seeds is None:
        return {"seed_locked": False, "seed_list": ""}, []
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 0 <= seeds <= SEED_MAX:
            return {}, [Problem("seeds", seeds, allowed)]
        return {"seed": seeds, "seed_locked": True, "seed_list": "", "compare": 1}, []
    text = (
        _seed_text(seeds, allowed)
        if not isinstance(seeds, bool)
        else Problem("seeds", seeds, allowed)
    )
    if isinstance(text, Problem):
        return {}, [text]
    try:
        parsed = parse_seed_list(text)
    except InvalidRequestError as exc:
        return {}, [dataclasses.replace(p, field="seeds") for p in exc.problems]
    if not parsed:
        return {}, [Problem("seeds", seeds, allowed)]
    return {"seed": parsed[0], "seed_locked": True, "seed_list": ", ".join(map(str, parsed))}, []


#: Request settings the widget reads its own way (keyword, converter); the rest are checked
#: by their field and set on their trait as they are.
_OWN_WAY: Final[Mapping[str, tuple[str, Callable[[object], Values]]]] = {
    "prompt": ("prompt", _prompt),
    "images": ("images", lambda value: ({}, [])),  # the input list's, handled by the widget
    "seed": ("seeds", _seeds),  # None, one seed or a list to compare
    "guidance_scale": ("guidance_scale", _guidance),
    "aspect_ratio": ("aspect_ratio", _aspect_ratio),  # also "" and "first"
}
#: Settings of the widget that are not request fields.
_WIDGET_ONLY: Final[Mapping[str, Callable[[object], Values]]] = {
    "compare": _compare,
    "on_busy": _on_busy,
}


def _setters() -> dict[str, Callable[[object], Values]]:
    table: dict[str, Callable[[object], Values]] = {}
    for f in FIELDS:
        if f.trait is not None:
            name, setter = _OWN_WAY.get(f.name, (f.name, _checked(f)))
            table[name] = setter
    return {**table, **_WIDGET_ONLY}


#: ``generate(**overrides)`` (and the constructor's settings): keyword -> converter to trait
#: values, made from the registry (``fields.FIELDS``) and the widget's own settings.
SETTERS: Final[Mapping[str, Callable[[object], Values]]] = _setters()


def settings_values(given: Mapping[str, Any]) -> Values:
    """Trait values for constructor/override settings, checked like a request's fields.

    >>> settings_values({"seeds": [3, 4], "enable_sync_mode": True})
    ({'seed': 3, 'seed_locked': True, 'seed_list': '3, 4', 'sync_mode': True}, [])
    >>> [p.field for p in settings_values({"guidance_scale": 99, "on_busy": "x"})[1]]
    ['guidance_scale', 'on_busy']
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in given.items():
        got, bad = SETTERS[name](value)
        problems += bad
        for trait, v in got.items():
            if trait == "seed_list" and name == "compare":
                values.setdefault(trait, v)
            else:
                values[trait] = v
    return values, problems


def problem_entries(problems: Sequence[Problem]) -> list[dict[str, str]]:
    """The ``problems`` trait: the widget's field name and the request model's message.

    >>> problem_entries([Problem("images[0]", "x", "expected an image")])[0]["field"]
    'images'
    """
    renames = {"enable_sync_mode": "sync_mode"}
    entries = []
    for p in problems:
        name = "images" if p.field.startswith("images[") else renames.get(p.field, p.field)
        entries.append({"field": name, "message": p.plain()})
    return entries


def unknown_message(where: str, unknown: Mapping[str, object], allowed: Sequence[str]) -> str:
    """A TypeError's text naming each unknown keyword, a close match, and what is allowed.

    >>> unknown_message("f()", {"promt": 1}, ["prompt", "images"])
    "f() got an unknown keyword argument 'promt' (did you mean 'prompt'?); allowed: prompt, images"
    """
    names = sorted(unknown)
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, allowed, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    noun = "argument" if len(names) == 1 else "arguments"
    article = "an unknown" if len(names) == 1 else "unknown"
    return f"{where} got {article} keyword {noun} {', '.join(hints)}; allowed: {', '.join(allowed)}"


# --------------------------------------------------------------------------- sweep()

#: (sweep trait values, single-mode overrides for settings_values, problems)
SweepValues = tuple[dict[str, Any], dict[str, Any], list[Problem]]


def _sweep_prompt(prompt: object) -> SweepValues:
    if not isinstance(prompt, (list, tuple)):
        return {"sweep_prompts": ""}, {"prompt": prompt}, []
    if not prompt or not all(isinstance(p, str) and "\n" not in p for p in prompt):
        return (
            {},
            {},
            [Problem("prompt", prompt, "expected a prompt or a list of one-line prompts")],
        )
    return {"sweep_prompts": "\n".join(prompt)}, {}, []


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sweep_seed(seed: object) -> SweepValues:
    if seed is None:
        return {"sweep_seeds": ""}, {}, []
    if isinstance(seed, str):
        return {"sweep_seeds": seed}, {}, []
    if _is_int(seed):
        return {"sweep_seeds": str(seed)}, {}, []  # as for kw.sweep: a count of random seeds
    if isinstance(seed, (list, tuple)) and all(map(_is_int, seed)):
        return {"sweep_seeds": ", ".join(str(v) for v in seed)}, {}, []
    allowed = (
        "expected a list of seeds, a range such as '1-4', a count of random seeds "
        "or None (the Seed field)"
    )
    return {}, {}, [Problem("seed", seed, allowed)]


def _sweep_guidance(guidance: object) -> SweepValues:
    if isinstance(guidance, str):
        return {"sweep_guidance": guidance}, {}, []
    if not isinstance(guidance, (list, tuple)):
        return {"sweep_guidance": ""}, {"guidance_scale": guidance}, []
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in guidance):
        return {"sweep_guidance": ", ".join(repr(float(v)) for v in guidance)}, {}, []
    return {}, {}, [Problem("guidance_scale", guidance, "expected numbers")]


def _sweep_ratio(ratio: object) -> SweepValues:
    if isinstance(ratio, (list, tuple)):
        return {"sweep_ratios": list(ratio)}, {}, []
    return {"sweep_ratios": []}, {"aspect_ratio": ratio}, []


def _budget(budget: object) -> SweepValues:
    if budget is None:
        return {"sweep_allow_over_budget": True}, {}, []
    return {"sweep_budget": budget, "sweep_allow_over_budget": False}, {}, []


def _grid(name: str) -> Callable[[object], SweepValues]:
    def setter(axis: object) -> SweepValues:
        if axis is None or isinstance(axis, str):
            return {f"sweep_{name}": axis or ""}, {}, []
        return {}, {}, [Problem(name, axis, "expected an axis name or None")]

    return setter


def _general(name: str) -> Callable[[object], SweepValues]:
    return lambda value: ({}, {name: value}, [])


#: Request settings a sweep reads as axes (the others set their single-mode value).
_SWEEP_AXES: Final[Mapping[str, Callable[[object], SweepValues]]] = {
    "prompt": _sweep_prompt,
    "seed": _sweep_seed,
    "guidance_scale": _sweep_guidance,
    "aspect_ratio": _sweep_ratio,
}
#: Arguments of a sweep run that are not request settings.
_SWEEP_RUN: Final[Mapping[str, Callable[[object], SweepValues]]] = {
    "concurrency": lambda value: ({"sweep_concurrency": value}, {}, []),
    "max_cost_usd": _budget,
    "rows": _grid("rows"),
    "cols": _grid("cols"),
    "on_busy": _general("on_busy"),
    "retry_failed": lambda value: ({}, {}, []),  # an argument of the run: taken out first
}


def _sweep_setters() -> dict[str, Callable[[object], SweepValues]]:
    table = {
        f.name: _SWEEP_AXES.get(f.name, _general(f.name)) for f in FIELDS if f.trait is not None
    }
    # enable_sync_mode is a single-mode setting (a sweep submits asynchronously)
    table["enable_sync_mode"] = _general("enable_sync_mode")
    return {**table, **_SWEEP_RUN}


#: ``sweep(**overrides)``, named as for ``kw.sweep``: keyword -> converter, from the registry
#: and the run's own arguments.
SWEEP_SETTERS: Final[Mapping[str, Callable[[object], SweepValues]]] = _sweep_setters()


def sweep_values(given: Mapping[str, Any]) -> SweepValues:
    """``sweep()``'s overrides as sweep traits, single-mode overrides, problems.

    A list (or range string, or count of seeds) is an axis; a single value sets the
    single-mode setting and clears the axis.

    >>> sweep_values({"seed": "1-4", "guidance_scale": 3.0})
    ({'sweep_seeds': '1-4', 'sweep_guidance': ''}, {'guidance_scale': 3.0}, [])
    """
    values: dict[str, Any] = {}
    general: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in given.items():
        got, single, bad = SWEEP_SETTERS[name](value)
        values.update(got)
        general.update(single)
        problems += bad
    return values, general, problems


def init_names(init: Callable[..., None]) -> list[str]:
    """A constructor's keywords, from its signature (so the refusal cannot drift from it).

    >>> def init(self, prompt: str = "", *, store: object = None, **unknown: object) -> None: ...
    >>> init_names(init)
    ['prompt', 'store']
    """
    parameters = inspect.signature(init).parameters
    return [name for name, p in parameters.items() if name != "self" and p.kind != p.VAR_KEYWORD]


def check_client_and_store(
    client: object, api_key: str | None, base_url: str | None, store: object
) -> None:
    """Refuse a store that is not a directory or Store, and client= with api_key/base_url."""
    if store is not None and not isinstance(store, (Store, str, os.PathLike)):
        raise TypeError(
            f"KontextWidget(): store={store!r:.80} is not allowed; expected a directory "
            "(str or path), a kontext_widgets.Store, or None for the default store"
        )
    if client is not None and (api_key is not None or base_url is not None):
        raise TypeError(
            "KontextWidget(): pass either client= or api_key=/base_url= (for the client "
            "the widget creates), not both"
        )
