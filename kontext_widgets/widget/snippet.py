""" "Copy as code": the Python call that reproduces an output, never holding the API key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from ..contract import PRICE_PER_IMAGE_USD
from ..errors import InvalidRequestError, Problem
from ..field_text import snippet_lines
from ..inputs import InputImage
from ..request import KontextRequest
from .outputs import Output

__all__ = ["python_call"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


def _comment(text: str) -> str:
    """Text safe inside a ``#`` comment: one line, no control characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:200]


def python_call(record: Output) -> str:
    """The ``client.run(...)`` call that reproduces ``record``; its keyword lines come from
    the registry (each setting's own snippet line), the images from what the widget knows.

    >>> from kontext_widgets.contract import Status
    >>> from kontext_widgets.prediction import Prediction
    >>> from kontext_widgets.request import KontextRequest
    >>> r = KontextRequest.build(prompt="x", images=["https://example.com/a.png"], seed=2)
    >>> done = Prediction(id="p", status=Status.COMPLETED, request=r)
    >>> made = Output("p:0", done, 0, "seed 2", ())
    >>> print(python_call(made).split("client.run(")[1])  # doctest: +NORMALIZE_WHITESPACE
        prompt='x',
        images=[
            'https://example.com/a.png',
        ],
        seed=2,
        guidance_scale=3.5,
    )
    kw.show(prediction)
    <BLANKLINE>
    """
    request: KontextRequest | None = record.prediction.request
    if request is None:
        raise InvalidRequestError(
            [Problem("key", record.key, "an output made by this widget (its request is known)")]
        )
    lines = [
        "import kontext_widgets as kw",
        "",
        f"# Reproduces {_comment(record.label)} (output {_comment(record.key)}).",
        "# kw.Client() reads WAVESPEED_API_KEY from the environment (no key: the offline",
        f"# simulator); with a key this costs ${PRICE_PER_IMAGE_USD:.2f}.",
        "async with kw.Client() as client:",
        "    prediction = await client.run(",
    ]
    arguments = snippet_lines(request, image_lines=_image_lines(request, record.inputs))
    lines += [f"        {line}" for line in arguments]
    lines += ["    )", "kw.show(prediction)", ""]
    return "\n".join(lines)


def _image_lines(request: KontextRequest, inputs: Sequence[InputImage]) -> list[str]:
    """Each input as the snippet writes it: a URL, a path, or a name to replace by a path."""
    lines = []
    for position, source in enumerate(request.images):
        item = inputs[position] if position < len(inputs) else None
        if isinstance(source, str):
            lines.append(f"{source!r},")
        elif item is not None and item.path:
            lines.append(f"{item.path!r},  # a local file")
        elif item is not None and item.kind == "output":
            name = f"{_stem_of_key(item)}.png"
            lines.append(
                f"{name!r},  # output {_comment(item.key or '')} of an earlier edit: "
                "download it and put its path here"
            )
        else:
            lines.append(f"{source.name!r},  # a file from your computer: put its path here")
    return lines


def _stem_of_key(item: InputImage) -> str:
    return "kontext-" + (re.sub(r"[^A-Za-z0-9]", "", item.key or item.name)[:16] or "output")
