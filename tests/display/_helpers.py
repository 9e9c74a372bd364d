"""Shared test data for the display tests: photo-like PNGs, predictions, captured outputs."""

from __future__ import annotations

import base64
import functools
import io
import re
from dataclasses import replace
from typing import Any

from IPython.utils.capture import capture_output
from PIL import Image, ImageDraw

from kontext_widgets import display
from kontext_widgets.contract import Status
from kontext_widgets.prediction import OutputImage, Prediction
from kontext_widgets.request import KontextRequest

DATA_URI = re.compile(r'<img src="(data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+)"')
SCRIPT = "<script>alert(1)</script>"


@functools.lru_cache(maxsize=64)
def png(width: int = 1024, height: int = 1024, seed: int = 0) -> bytes:
    """A photo-like PNG: gradient, shapes and grain (roughly as compressible as a real output)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        x, y = (seed * 97 + i * 151) % width, (seed * 53 + i * 89) % height
        r = 40 + (i * 37) % 160
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 70) % 256, (seed * 40) % 256, 120))
    grain = Image.effect_noise((width, height), 32).convert("RGB")
    out = io.BytesIO()
    Image.blend(image, grain, 0.2).save(out, format="PNG", compress_level=1)
    return out.getvalue()


REQUEST = KontextRequest.build(
    prompt="put the shoes on her", images=["https://example.com/person.png"], seed=1
)


def pred(
    seed: int = 1,
    *,
    request: KontextRequest | None = REQUEST,
    status: Status = Status.COMPLETED,
    images: tuple[OutputImage, ...] | None = None,
    **fields: Any,
) -> Prediction:
    if request is not None:
        request = replace(request, seed=seed)
    if images is None:
        images = (
            (OutputImage(f"https://cdn.example.com/out/{seed}.png", png(seed=seed)),)
            if status is Status.COMPLETED
            else ()
        )
    return Prediction(id=f"pred-{seed}", status=status, request=request, images=images, **fields)


def shown(predictions: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
    """Run display.show and return the published outputs and the text/html of the first."""
    with capture_output() as captured:
        display.show(predictions, **kwargs)
    outputs = [o.data for o in captured.outputs]
    return outputs, (outputs[0].get("text/html", "") if outputs else "")


def embedded(html: str) -> list[Image.Image]:
    images: list[Image.Image] = []
    for uri in DATA_URI.findall(html):
        header, payload = uri.split(",", 1)
        if "svg" in header:
            continue
        images.append(Image.open(io.BytesIO(base64.b64decode(payload))))
    return images
