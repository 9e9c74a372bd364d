""" "Copy as code": the Python call that reproduces an output, never holding the API key."""

from __future__ import annotations

import re
from typing import Final

from ..contract import PRICE_PER_IMAGE_USD
from ..errors import InvalidRequestError, Problem
from ..inputs import InputImage
from ..request import KontextRequest
from .outputs import Output

__all__ = ["python_call"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]+")


def _comment(text: str) -> str:
    """Text safe inside a ``#`` comment: one line, no control characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:200]


def python_call(record: Output) -> str:
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
        f"        prompt={request.prompt!r},",
        "        images=[",
    ]
    inputs = list(record.inputs)
    for position, source in enumerate(request.images):
        item = inputs[position] if position < len(inputs) else None
        if isinstance(source, str):
            lines.append(f"            {source!r},")
        elif item is not None and item.path:
            lines.append(f"            {item.path!r},  # a local file")
        elif item is not None and item.kind == "output":
            name = f"{_stem_of_key(item)}.png"
            lines.append(
                f"            {name!r},  # output {_comment(item.key or '')} of an earlier edit: "
                "download it and put its path here"
            )
        else:
            lines.append(
                f"            {source.name!r},  # a file from your computer: put its path here"
            )
    lines.append("        ],")
    if request.seed is not None:
        lines.append(f"        seed={request.seed},")
    lines.append(f"        guidance_scale={request.guidance_scale!r},")
    if request.aspect_ratio is not None:
        lines.append(f"        aspect_ratio={request.aspect_ratio!r},")
    if request.enable_sync_mode:
        lines.append("        enable_sync_mode=True,")
    lines += ["    )", "kw.show(prediction)", ""]
    return "\n".join(lines)


def _stem_of_key(item: InputImage) -> str:
    return "kontext-" + (re.sub(r"[^A-Za-z0-9]", "", item.key or item.name)[:16] or "output")
