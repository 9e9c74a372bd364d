"""The simulated images: deterministic, every parameter visible."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageChops, ImageStat

import kontext_widgets
from kontext_widgets.simulator.render import render
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    Json,
    MakeSim,
    fetch_bytes,
    png_bytes,
    run_to_end,
    upload,
)

# images ------------------------------------------------------------------------


def _render(**changes: Any) -> bytes:
    arguments: Json = {
        "prompt": "add a red hat",
        "seed": 1,
        "guidance_scale": 3.5,
        "aspect_ratio": "1:1",
        "long_side": 256,
        **changes,
    }
    images = arguments.pop("images", [png_bytes()])
    return render(images, **arguments)


def test_render_is_deterministic_and_every_parameter_shows() -> None:
    base = _render()
    assert base == _render()
    assert base != _render(seed=2)
    assert base != _render(guidance_scale=4.0)
    assert base != _render(aspect_ratio="16:9")
    assert base != _render(images=[png_bytes("maroon")])
    assert base != _render(images=[png_bytes(), png_bytes("orange")])


def _middle(png: bytes) -> Image.Image:
    """The picture without the label, caption and prompt bands."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = picture.size
    return picture.crop((0, height // 4, width, height * 3 // 4))


def _difference(a: bytes, b: bytes) -> float:
    diff = ImageChops.difference(_middle(a), _middle(b))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_seed_and_guidance_change_the_picture_not_just_the_caption() -> None:
    assert _difference(_render(seed=1), _render(seed=2)) > 10
    assert _difference(_render(guidance_scale=2.0), _render(guidance_scale=12.0)) > 5
    spread = [
        sum(ImageStat.Stat(_middle(_render(guidance_scale=g))).stddev) for g in (1.0, 3.5, 20.0)
    ]
    assert spread == sorted(spread)  # more guidance, more contrast
    assert spread[2] > spread[0] * 1.5


def test_render_draws_the_prompt_and_the_label() -> None:
    with_prompt = Image.open(io.BytesIO(_render(prompt="add a red hat")))
    without = Image.open(io.BytesIO(_render(prompt=" ")))
    width, height = with_prompt.size
    bottom = (0, height * 3 // 4, width, height)
    assert with_prompt.crop(bottom).tobytes() != without.crop(bottom).tobytes()

    # The label band at the top: red, with a lot of white lettering in it.
    band = with_prompt.convert("RGB").crop((0, 0, width, height // 8))
    raw = band.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    white = sum(1 for r, g, b in pixels if min(r, g, b) > 230)
    reddish = sum(1 for r, g, b in pixels if r > 120 and g < 60 and b < 60)
    assert white > len(pixels) * 0.05
    assert reddish > len(pixels) * 0.3


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1:1", (1024, 1024)), ("16:9", (1024, 576)), ("9:16", (576, 1024)), (None, (1024, 688))],
)
def test_render_sizes(ratio: str | None, size: tuple[int, int]) -> None:
    picture = Image.open(io.BytesIO(_render(aspect_ratio=ratio, long_side=1024)))
    assert picture.size == size


def test_render_is_fast_enough() -> None:
    data = png_bytes(size=(1600, 1200))
    render([data], prompt="p", seed=0, guidance_scale=3.5, aspect_ratio="1:1")  # warm up
    started = time.perf_counter()
    for seed in range(3):
        render([data], prompt="p", seed=seed, guidance_scale=3.5, aspect_ratio="1:1")
    assert (time.perf_counter() - started) / 3 < 0.5  # generous: shared CI machines


async def test_same_request_same_output_bytes_across_simulators(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    async def output(sim: RunningSimulator, seed: int) -> bytes:
        image = await upload(session, sim.url, png_bytes())
        done = await run_to_end(session, sim.url, [image], seed=seed, guidance_scale=5.0)
        return await fetch_bytes(session, done["outputs"][0])

    first, second = await make_sim(), await make_sim()
    assert await output(first, 42) == await output(second, 42)
    assert await output(first, 42) != await output(first, 43)


def _samples() -> list[bytes]:
    folder = Path(kontext_widgets.__file__).parent / "samples"
    return [png_bytes(), *((folder / f"{name}.png").read_bytes() for name in ("person", "shoes"))]


@pytest.mark.parametrize("seed", [1, 7])
def test_guidance_2_and_4_differ_visibly_and_repeat_exactly(seed: int) -> None:
    for image in _samples():
        low = _render(images=[image], seed=seed, guidance_scale=2.0)
        high = _render(images=[image], seed=seed, guidance_scale=4.0)
        # Mean absolute difference of the picture (bands left out), in 0-255 units.
        assert _difference(low, high) > 30
        assert low == _render(images=[image], seed=seed, guidance_scale=2.0)
        assert high == _render(images=[image], seed=seed, guidance_scale=4.0)
        # Still labelled and captioned: the top band is the same red SIMULATED label.
        top = (0, 0, 256, 256 // 8)
        same_label = ImageChops.difference(
            Image.open(io.BytesIO(low)).convert("RGB").crop(top),
            Image.open(io.BytesIO(high)).convert("RGB").crop(top),
        )
        assert sum(ImageStat.Stat(same_label).mean) / 3 < 20
