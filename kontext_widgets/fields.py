"""One declaration per request setting: the registry everything else reads.

Each :class:`Field` says everything about one setting of a Kontext request: its
keyword, its JSON key, the widget trait that holds it, its label in plain words,
its default, what is allowed and the check, whether it decides the output (the
cache key), how a sweep writes several values of it, its CLI flag, its line in
"copy as code" and what the front end needs to draw its control. The request
checks, the submit body, the cache key, the unknown-key refusal, the CLI options,
the snippet, the front end's ``field_specs`` trait and the settings table in
``docs/widget-protocol.md`` are all made from :data:`FIELDS`, so a new setting is
one entry here (see "Adding a setting" in that document).

>>> field("enable_sync_mode").trait, by_trait("sync_mode").label
('sync_mode', 'Sync mode')
>>> parse_values("seed", "1-3, 7"), parse_values("guidance_scale", "2.0:3.0:0.5")
([1, 2, 3, 7], [2.0, 2.5, 3.0])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Final

from . import grammar
from .checks import (
    ASPECT_RATIO_ALLOWED,
    BOOL_ALLOWED,
    GUIDANCE_ALLOWED,
    IMAGES_ALLOWED,
    PROMPT_ALLOWED,
    SEED_ALLOWED,
    check_aspect_ratio,
    check_guidance,
    check_image_urls,
    check_prompt,
    check_seed,
    check_sync_mode,
    image_url_problems,
)
from .contract import (
    ASPECT_RATIOS,
    GUIDANCE_DEFAULT,
    GUIDANCE_MAX,
    GUIDANCE_MIN,
    MAX_IMAGES,
    MAX_UPLOAD_BYTES,
    MIN_IMAGES,
    PRICE_PER_IMAGE_USD,
    SEED_MAX,
)
from .errors import Problem

__all__ = [
    "FIELDS",
    "MAX_COMPARE",
    "MAX_RANDOM_SEEDS",
    "MAX_SWEEP_CONCURRENCY",
    "REQUEST_FIELDS",
    "REQUIRED_FIELDS",
    "Field",
    "by_trait",
    "field",
    "frontend_spec",
    "parse_values",
]

#: Most seeds one single-mode Generate compares (each is one paid image).
MAX_COMPARE: Final = 16
#: Most cells a widget sweep runs at once.
MAX_SWEEP_CONCURRENCY: Final = 16
#: Most random seeds a count may ask for in the widget (each is a paid image per other cell).
MAX_RANDOM_SEEDS: Final = 1000


def _same(value: object) -> object:
    return value


@dataclass(frozen=True)
class Field:
    """One request setting, declared once.

    >>> f = field("guidance_scale")
    >>> f.label, f.default, f.cli_flag, f.axis, f.in_cache_key
    ('Guidance', 3.5, '--guidance', 'floats', True)
    >>> print(f.check(25))
    guidance_scale: 25 is not allowed; expected a number from 1.0 to 20.0
    """

    #: keyword in ``KontextRequest.build`` / ``Client.run`` / ``kw.sweep``
    name: str
    #: JSON body key, None if never sent
    wire: str | None
    #: widget trait holding the single-mode value (None: not a widget setting)
    trait: str | None
    #: plain words, for labels and messages
    label: str
    default: object
    #: "expected …" text used in problem messages
    allowed: str
    #: the check of one wire value
    check: Callable[[object], Problem | None]
    #: does it decide the output? (then it is part of the store's cache key)
    in_cache_key: bool
    #: sweep grammar: "ints" | "floats" | "choices" | "lines" | "image_sets" | "none"
    axis: str
    #: the ``kontext-widgets`` option, e.g. "--sync-mode"
    cli_flag: str | None
    #: its line(s) in "copy as code"; None leaves it out
    snippet: Callable[[object], str | None]
    #: what the front end needs: "kind" and min/max/step/choices/default
    frontend: Mapping[str, object] = dataclass_field(default_factory=dict)
    #: a request without it is refused (code 1400)
    required: bool = False
    #: one value in words, for "each seed once" and "at most 16 seeds"
    item: str = "value"
    #: in the cache key even at its default: yes for the first six (keys as before the
    #: registry); no for a new field, so results stored before it existed are still found
    keyed_at_default: bool = False
    #: the value as the cache key records it (local images by content hash)
    cache: Callable[[object], object] = _same
    #: the value as a person compares it (``describe()``, labels, PNG text)
    shown: Callable[[object], object] = _same
    #: every problem of one wire value (default: the one from ``check``)
    problems: Callable[[object], list[Problem]] | None = None
    #: the CLI option's help
    help: str = ""
    #: other spellings of the CLI option, kept for old command lines
    cli_aliases: tuple[str, ...] = ()

    def all_problems(self, value: object) -> list[Problem]:
        """Every problem of ``value`` as sent on the wire."""
        if self.problems is not None:
            return self.problems(value)
        problem = self.check(value)
        return [problem] if problem else []

    def omitted(self, value: object) -> bool:
        """A None value of a setting whose default is None is not sent (the service chooses)."""
        return value is None and self.default is None


def _arg(name: str) -> Callable[[object], str | None]:
    """The usual snippet line, ``name=value,``, left out when the value is None."""
    return lambda value: None if value is None else f"{name}={value!r},"


def _images_snippet(images: object) -> str:
    lines = ["images=["]
    for source in images if isinstance(images, (list, tuple)) else []:
        if isinstance(source, str):
            lines.append(f"    {source!r},")
        else:
            name = getattr(source, "name", "image")
            lines.append(f"    {name!r},  # a file from your computer: put its path here")
    return "\n".join([*lines, "],"])


def _image_keys(images: object) -> object:
    items = images if isinstance(images, (list, tuple)) else []
    return [i if isinstance(i, str) else "sha256:" + str(getattr(i, "sha256", "")) for i in items]


def _image_names(images: object) -> object:
    items = images if isinstance(images, (list, tuple)) else []
    return [i if isinstance(i, str) else getattr(i, "name", "image") for i in items]


def _as_float(value: object) -> object:
    return float(value) if isinstance(value, (int, float)) else value


#: The request settings, in form order.
FIELDS: tuple[Field, ...] = (
    Field(
        name="prompt",
        wire="prompt",
        trait="prompt",
        label="Prompt",
        default="",
        allowed=PROMPT_ALLOWED,
        check=check_prompt,
        in_cache_key=True,
        axis="lines",
        cli_flag="--prompt",
        snippet=_arg("prompt"),
        frontend={"kind": "text"},
        required=True,
        item="prompt",
        keyed_at_default=True,
        help="the edit instruction",
    ),
    Field(
        name="images",
        wire="images",
        trait="images",
        label="Images",
        default=(),
        allowed=IMAGES_ALLOWED,
        check=check_image_urls,
        in_cache_key=True,
        axis="image_sets",
        cli_flag="--image",
        snippet=_images_snippet,
        frontend={"kind": "images", "min": MIN_IMAGES, "max": MAX_IMAGES, "default": []},
        required=True,
        item="image set",
        keyed_at_default=True,
        cache=_image_keys,
        shown=_image_names,
        problems=image_url_problems,
        help=f"input image: http(s) URL or local file ({MIN_IMAGES} to {MAX_IMAGES}; repeat it)",
    ),
    Field(
        name="seed",
        wire="seed",
        trait="seed",
        label="Seed",
        default=None,
        allowed=SEED_ALLOWED,
        check=check_seed,
        in_cache_key=True,
        axis="ints",
        cli_flag="--seed",
        snippet=_arg("seed"),
        frontend={"kind": "seeds", "min": 0, "max": SEED_MAX, "step": 1, "default": 0},
        item="seed",
        keyed_at_default=True,
        help="seed (repeat for a side-by-side comparison; -1 or none = random)",
    ),
    Field(
        name="guidance_scale",
        wire="guidance_scale",
        trait="guidance_scale",
        label="Guidance",
        default=GUIDANCE_DEFAULT,
        allowed=GUIDANCE_ALLOWED,
        check=check_guidance,
        in_cache_key=True,
        axis="floats",
        cli_flag="--guidance",
        snippet=_arg("guidance_scale"),
        frontend={"kind": "number", "min": GUIDANCE_MIN, "max": GUIDANCE_MAX, "step": 0.1},
        item="guidance value",
        keyed_at_default=True,
        cache=_as_float,
        help=f"how closely to follow the prompt, {GUIDANCE_MIN} to {GUIDANCE_MAX}",
    ),
    Field(
        name="aspect_ratio",
        wire="aspect_ratio",
        trait="aspect_ratio",
        label="Aspect ratio",
        default=None,
        allowed=ASPECT_RATIO_ALLOWED,
        check=check_aspect_ratio,
        in_cache_key=True,
        axis="choices",
        cli_flag="--aspect-ratio",
        snippet=_arg("aspect_ratio"),
        frontend={"kind": "choice", "choices": list(ASPECT_RATIOS), "default": ""},
        item="aspect ratio",
        keyed_at_default=True,
        help="output shape (default: the service's)",
    ),
    Field(
        name="enable_sync_mode",
        wire="enable_sync_mode",
        trait="sync_mode",
        label="Sync mode",
        default=False,
        allowed=BOOL_ALLOWED,
        check=check_sync_mode,
        in_cache_key=False,  # how the answer comes back, not what the image is
        axis="none",
        cli_flag="--sync-mode",
        cli_aliases=("--sync",),
        snippet=lambda on: "enable_sync_mode=True," if on is True else None,
        frontend={"kind": "bool"},
        help="use sync mode (one open request per image)",
    ),
)

#: The JSON keys a submit may hold (anything else is refused before sending).
REQUEST_FIELDS: Final = frozenset(f.wire for f in FIELDS if f.wire)
#: The JSON keys a submit must hold.
REQUIRED_FIELDS: Final = frozenset(f.wire for f in FIELDS if f.wire and f.required)


def field(name: str) -> Field:
    """The setting called ``name`` (its keyword, e.g. ``"enable_sync_mode"``).

    >>> field("aspect_ratio").label
    'Aspect ratio'
    """
    for f in FIELDS:
        if f.name == name:
            return f
    raise KeyError(f"{name!r} is not a request setting; settings: {', '.join(names())}")


def by_trait(trait: str) -> Field:
    """The setting a widget trait holds.

    >>> by_trait("sync_mode").name
    'enable_sync_mode'
    """
    for f in FIELDS:
        if f.trait == trait:
            return f
    traits = ", ".join(f.trait for f in FIELDS if f.trait)
    raise KeyError(f"{trait!r} is not a setting's trait; traits: {traits}")


def names() -> tuple[str, ...]:
    """The settings' keywords, in form order (read at call time: the registry decides).

    >>> names()
    ('prompt', 'images', 'seed', 'guidance_scale', 'aspect_ratio', 'enable_sync_mode')
    """
    return tuple(f.name for f in FIELDS)


def wire_fields() -> Iterator[Field]:
    """The settings that are sent, in form order."""
    return (f for f in FIELDS if f.wire)


def parse_values(
    name: str,
    value: object,
    *,
    field_name: str | None = None,
    counts: bool = False,
    rng: random.Random | None = None,
    max_count: int = grammar.MAX_VALUES,
    limit: int | None = None,
) -> list[object]:
    """The values ``value`` stands for under setting ``name``'s grammar (the one grammar).

    ``field_name`` names the problems (a widget passes its trait, e.g. ``"sweep_seeds"``);
    ``counts=True`` lets a bare count mean that many random seeds (at most ``max_count``,
    drawn with ``rng``); ``limit`` caps how many values there may be.

    >>> parse_values("seed", [1, 5]), parse_values("aspect_ratio", "16:9, 1:1")
    ([1, 5], ['16:9', '1:1'])
    >>> len(parse_values("seed", "3", counts=True, rng=random.Random(1)))
    3
    >>> parse_values("seed", "1, 1")
    Traceback (most recent call last):
    ...
    kontext_widgets.errors.InvalidRequestError: seed: 1 is not allowed; each seed once
    """
    setting = field(name)
    return grammar.parse(
        setting, value, field=field_name, counts=counts, rng=rng, max_count=max_count, limit=limit
    )


def frontend_spec() -> dict[str, object]:
    """What the front end draws the settings from (the widget's ``field_specs`` trait).

    >>> spec = frontend_spec()
    >>> spec["fields"]["sync_mode"]["label"], spec["limits"]["max_images"], spec["axes"]["seed"]
    ('Sync mode', 5, 'Seed')
    """
    specs = {f.trait: _spec(f) for f in FIELDS if f.trait is not None}
    limits = {
        "max_images": MAX_IMAGES,
        "seed_max": SEED_MAX,
        "compare_max": MAX_COMPARE,
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "sweep_concurrency_max": MAX_SWEEP_CONCURRENCY,
        "price_per_image_usd": PRICE_PER_IMAGE_USD,
    }
    axes = {f.name: f.label for f in FIELDS if f.axis != "none"}
    return {"fields": specs, "limits": limits, "axes": axes}


def _spec(f: Field) -> dict[str, object]:
    got = f.frontend.get("choices", ())
    return {
        "name": f.name,
        "label": f.label,
        "kind": f.frontend.get("kind", "text"),
        "default": jsonable(f.frontend.get("default", f.default)),
        **{key: f.frontend.get(key) for key in ("min", "max", "step")},
        "choices": list(got) if isinstance(got, (list, tuple)) else [],
    }


def jsonable(value: object) -> object:
    """A default as JSON holds it (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value
