"""Deterministic stand-in images: the inputs composed, visibly marked SIMULATED.

The picture is a pure function of the input image bytes, seed, guidance scale,
aspect ratio, prompt and output size, so tests can compare bytes. Nothing here
edits images the way the model does; it only makes every parameter visible:

* seed: crop and zoom of the first image, placement of the other images, a
  colour tint and a pattern of shapes;
* guidance scale: contrast and saturation (low guidance is flat, high is punchy);
* aspect ratio: the output size; the prompt: wrapped text in a band at the bottom.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import textwrap
import threading
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps, PngImagePlugin

from .. import contract

SOFTWARE = "kontext-widgets simulator"
LABEL = "SIMULATED"
_RESAMPLE = Image.Resampling.BILINEAR
_BORDER = (255, 255, 255)
#: Guidance 1.0 and 20.0 ends of the colour grade (see _colour).
CONTRAST = (0.4, 2.4)
SATURATION = (0.15, 2.2)
WARMTH = 60.0
STRIPES_PER_GUIDANCE = 2.0
STRIPE_AMPLITUDE = (16, 72)
# Pillow's FreeType faces are not safe to share between threads; renders run
# in worker threads (asyncio.to_thread), so each thread keeps its own fonts.
_fonts = threading.local()


class RenderError(ValueError):
    """An input could not be used (not an image, or an unreadable one)."""


def output_size(
    aspect_ratio: str | None, long_side: int, first: tuple[int, int]
) -> tuple[int, int]:
    """Output width and height: multiples of 16 with the long side ``long_side``.

    Without an aspect ratio the first input image's proportions are kept.

    >>> output_size("1:1", 1024, (300, 200))
    (1024, 1024)
    >>> output_size("16:9", 1024, (300, 200))
    (1024, 576)
    >>> output_size("9:21", 1024, (300, 200))
    (432, 1024)
    >>> output_size(None, 1024, (300, 200))
    (1024, 688)
    """
    if aspect_ratio is None:
        ratio_w, ratio_h = first
    else:
        if aspect_ratio not in contract.ASPECT_RATIOS:
            raise ValueError(
                f"aspect_ratio {aspect_ratio!r} is not one of {contract.ASPECT_RATIOS}"
            )
        w_text, h_text = aspect_ratio.split(":")
        ratio_w, ratio_h = int(w_text), int(h_text)
    long_px = _round16(long_side)
    if ratio_w >= ratio_h:
        return long_px, _round16(long_px * ratio_h / ratio_w)
    return _round16(long_px * ratio_w / ratio_h), long_px


def render(
    images: Sequence[bytes],
    *,
    prompt: str,
    seed: int,
    guidance_scale: float,
    aspect_ratio: str | None = None,
    long_side: int = 1024,
    extra_parameters: Mapping[str, Any] | None = None,
) -> bytes:
    """A PNG that composes ``images`` and shows every parameter; same inputs, same bytes.

    ``seed`` must already be resolved (not -1). The PNG carries text chunks
    ``Software`` and ``parameters`` (JSON).

    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (64, 48), "teal").save(buf, "PNG")
    >>> png = render([buf.getvalue()], prompt="add a hat", seed=1, guidance_scale=3.5,
    ...              aspect_ratio="1:1", long_side=256)
    >>> out = Image.open(io.BytesIO(png))
    >>> out.size, out.text["Software"]
    ((256, 256), 'kontext-widgets simulator')
    >>> json.loads(out.text["parameters"])["seed"]
    1
    >>> png == render([buf.getvalue()], prompt="add a hat", seed=1, guidance_scale=3.5,
    ...               aspect_ratio="1:1", long_side=256)
    True
    """
    if not images:
        raise RenderError("at least one input image is needed")
    if seed < 0:
        raise ValueError("seed must be resolved to a non-negative integer before rendering")
    pictures = [decode(data, long_side) for data in images]
    size = output_size(aspect_ratio, long_side, pictures[0].size)
    rng = random.Random(seed)  # noqa: S311 - layout, not security

    canvas = _cover(pictures[0], size, rng)
    _place_references(canvas, pictures[1:], rng)
    canvas = _colour(canvas, guidance_scale, rng)
    canvas = _stripes(canvas, guidance_scale)
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    _pattern(draw, size, rng)
    _label(draw, size)
    _caption(
        draw, size, f"seed {seed} · guidance {guidance_scale:g} · {aspect_ratio or 'input ratio'}"
    )
    _prompt_band(draw, size, prompt)
    # The canvas is opaque, so pasting through the overlay's alpha is exact compositing.
    canvas.paste(overlay, (0, 0), overlay)
    result = canvas

    parameters: dict[str, Any] = {
        "simulated": True,
        "model": contract.MODEL,
        "prompt": prompt,
        "seed": seed,
        "guidance_scale": guidance_scale,
        "aspect_ratio": aspect_ratio,
        "width": size[0],
        "height": size[1],
        "inputs_sha256": [hashlib.sha256(data).hexdigest() for data in images],
        **(extra_parameters or {}),
    }
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", SOFTWARE)
    info.add_text("parameters", json.dumps(parameters, sort_keys=True, ensure_ascii=False))
    info.add_text("Comment", "SIMULATED by kontext-widgets: not an output of FLUX.1 Kontext")
    out = io.BytesIO()
    # Fast zlib settings (level 1, run-length strategy): the files are stand-ins, and
    # this is both quicker and smaller than the default for such pictures.
    result.save(out, "PNG", pnginfo=info, compress_level=1, compress_type=zlib.Z_RLE)
    return out.getvalue()


def decode(data: bytes, long_side: int = 1024) -> Image.Image:
    """``data`` as an RGB image no larger than needed; :class:`RenderError` if it is none.

    >>> decode(b"not an image")
    Traceback (most recent call last):
    ...
    kontext_widgets.simulator.render.RenderError: not a readable image
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            # JPEG can decode at a fraction of full size: much faster for big photos.
            opened.draft("RGB", (long_side, long_side))
            # In place and convert only when needed: each copy of a photo costs milliseconds.
            picture: Image.Image = ImageOps.exif_transpose(opened, in_place=True) or opened
            if picture.mode != "RGB":
                picture = picture.convert("RGB")
            picture.load()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise RenderError("not a readable image") from exc
    picture.thumbnail((long_side * 2, long_side * 2), _RESAMPLE)
    return picture


def _round16(value: float) -> int:
    return max(16, round(value / 16) * 16)


def _cover(picture: Image.Image, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Fill ``size`` from a seed-chosen crop (zoom 70-100 %, anywhere in the picture)."""
    width, height = size
    src_w, src_h = picture.size
    scale = min(src_w / width, src_h / height) * rng.uniform(0.7, 1.0)
    crop_w, crop_h = max(1, round(width * scale)), max(1, round(height * scale))
    left = rng.uniform(0, src_w - crop_w)
    top = rng.uniform(0, src_h - crop_h)
    box = (left, top, left + crop_w, top + crop_h)
    return picture.resize(size, _RESAMPLE, box=box, reducing_gap=2.0)


def _colour(canvas: Image.Image, guidance_scale: float, rng: random.Random) -> Image.Image:
    """Seed tint, then guidance-driven saturation, contrast and warmth, in one colour-matrix pass.

    Guidance acts on a log scale (1, 2, 4, 8 are even steps, as users sweep it): low
    guidance is flat, grey and cool, high guidance harsh, saturated and warm.
    """
    share = guidance_share(guidance_scale)
    contrast = CONTRAST[0] + (CONTRAST[1] - CONTRAST[0]) * share
    saturation = SATURATION[0] + (SATURATION[1] - SATURATION[0]) * share
    warmth = WARMTH * (2 * share - 1)
    cast = (warmth, 0.0, -warmth)
    tint = [rng.randrange(256) for _ in range(3)]
    mix = 0.22
    # Each step is affine per pixel, so they fold into one 3x4 matrix for Image.convert.
    luma = (0.299, 0.587, 0.114)
    matrix: list[float] = []
    for channel in range(3):
        # tint: x -> (1 - mix) * x + mix * tint
        # saturation: c -> L + s * (c - L), L the luma of the tinted pixel
        # contrast: v -> 128 + k * (v - 128); then the warm or cool cast is added
        weights = [
            (1 - mix) * ((1 - saturation) * luma[i] + (saturation if i == channel else 0.0))
            for i in range(3)
        ]
        offset = mix * (
            (1 - saturation) * sum(luma[i] * tint[i] for i in range(3)) + saturation * tint[channel]
        )
        matrix += [contrast * w for w in weights]
        matrix.append(contrast * offset + 128 * (1 - contrast) + cast[channel])
    return canvas.convert("RGB", tuple(matrix))


def _stripes(canvas: Image.Image, guidance_scale: float) -> Image.Image:
    """Diagonal light and dark stripes: two per unit of guidance, stronger as it grows.

    So guidance 2 and 4 differ across the whole picture, even for a flat input.
    """
    width, height = canvas.size
    count = max(2, round(STRIPES_PER_GUIDANCE * guidance_scale))
    period = (width + height) / count
    amplitude = round(
        STRIPE_AMPLITUDE[0]
        + (STRIPE_AMPLITUDE[1] - STRIPE_AMPLITUDE[0]) * guidance_share(guidance_scale)
    )
    # Along x + y the pattern is one row; each image row is that row shifted by one pixel.
    light_row = bytes(
        amplitude if int(i / period * 2) % 2 == 0 else 0 for i in range(width + height)
    )
    dark_row = bytes(amplitude - v for v in light_row)
    light = Image.frombytes(
        "L", (width, height), b"".join(light_row[y : y + width] for y in range(height))
    )
    dark = Image.frombytes(
        "L", (width, height), b"".join(dark_row[y : y + width] for y in range(height))
    )
    canvas = ImageChops.add(canvas, Image.merge("RGB", (light, light, light)))
    return ImageChops.subtract(canvas, Image.merge("RGB", (dark, dark, dark)))


def guidance_share(guidance_scale: float) -> float:
    """Where ``guidance_scale`` sits from 1.0 (0) to 20.0 (1), on a log scale.

    >>> guidance_share(1.0), guidance_share(20.0), round(guidance_share(3.5), 3)
    (0.0, 1.0, 0.418)
    """
    low, high = math.log(contract.GUIDANCE_MIN), math.log(contract.GUIDANCE_MAX)
    value = min(max(guidance_scale, contract.GUIDANCE_MIN), contract.GUIDANCE_MAX)
    return (math.log(value) - low) / (high - low)


def _pattern(draw: ImageDraw.ImageDraw, size: tuple[int, int], rng: random.Random) -> None:
    width, height = size
    unit = min(size)
    for _ in range(rng.randint(4, 8)):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), rng.randint(60, 120))
        radius = rng.uniform(0.05, 0.2) * unit
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        box = (x - radius, y - radius, x + radius, y + radius)
        if rng.random() < 0.5:
            draw.ellipse(box, outline=colour, width=max(2, unit // 80))
        else:
            draw.rectangle(box, fill=colour)


def _place_references(
    canvas: Image.Image, pictures: Sequence[Image.Image], rng: random.Random
) -> None:
    """Paste the other inputs as bordered tiles at seed-chosen spots."""
    width, height = canvas.size
    side = max(16, int(min(width, height) * 0.32))
    border = max(2, side // 40)
    for picture in pictures:
        tile = ImageOps.fit(
            picture, (side, side), _RESAMPLE, centering=(rng.random(), rng.random())
        )
        tile = ImageOps.expand(tile, border=border, fill=_BORDER)
        x = rng.randint(0, max(0, width - tile.width))
        y = rng.randint(0, max(0, height - tile.height))
        canvas.paste(tile, (x, y))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] | None = getattr(
        _fonts, "cache", None
    )
    if cache is None:
        cache = _fonts.cache = {}
    if size not in cache:
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]


def _label(draw: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    width, height = size
    font_size = max(12, min(width // 7, height // 5))
    font = _font(font_size)
    left, top, right, bottom = draw.textbbox((0, 0), LABEL, font=font)
    pad = font_size // 4
    band_h = bottom - top + 2 * pad
    draw.rectangle((0, 0, width, band_h), fill=(160, 0, 0, 190))
    x = (width - (right - left)) / 2 - left
    draw.text((x, pad - top), LABEL, font=font, fill=(255, 255, 255, 255))


def _caption(draw: ImageDraw.ImageDraw, size: tuple[int, int], text: str) -> None:
    width, height = size
    font_size = max(10, min(width, height) // 40)
    font = _font(font_size)
    label_h = max(12, min(width // 7, height // 5)) * 3 // 2
    draw.text(
        (font_size // 2, label_h),
        text,
        font=font,
        fill=(255, 255, 255, 230),
        stroke_width=max(1, font_size // 12),
        stroke_fill=(0, 0, 0, 230),
    )


def _prompt_band(draw: ImageDraw.ImageDraw, size: tuple[int, int], prompt: str) -> None:
    text = " ".join(prompt.split())
    if not text:
        return
    width, height = size
    font_size = max(10, min(width, height) // 30)
    font = _font(font_size)
    char_w = max(1.0, draw.textlength("abcdefghijklmnopqrstuvwxyz", font=font) / 26)
    lines = textwrap.wrap(text, width=max(8, int((width - font_size) / char_w)))
    max_lines = 4
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][:-1] + "…"]
    line_h = int(font_size * 1.25)
    band_h = line_h * len(lines) + font_size
    top = height - band_h
    draw.rectangle((0, top, width, height), fill=(0, 0, 0, 170))
    for i, line in enumerate(lines):
        draw.text(
            (font_size // 2, top + font_size // 2 + i * line_h),
            line,
            font=font,
            fill=(255, 255, 255, 255),
        )
