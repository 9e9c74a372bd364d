"""The request model refuses every bad value before any I/O, naming field, value and rule."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from kontext_widgets import InvalidRequestError, KontextRequest
from kontext_widgets.contract import ASPECT_RATIOS, MAX_UPLOAD_BYTES
from kontext_widgets.payload import check_payload
from kontext_widgets.request import LocalImage

URL = "https://example.com/a.png"


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def refused(**fields: object) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        KontextRequest.build(**fields)
    return info.value


def test_valid_request_builds_the_contract_payload() -> None:
    r = KontextRequest.build(
        prompt="make it night", images=[URL], seed=7, guidance_scale=4, aspect_ratio="16:9"
    )
    assert r.payload() == {
        "prompt": "make it night",
        "images": [URL],
        "seed": 7,
        "guidance_scale": 4,
        "aspect_ratio": "16:9",
        "enable_sync_mode": False,
    }
    assert check_payload(r.payload()) == []


def test_defaults_leave_seed_and_ratio_to_the_service() -> None:
    body = KontextRequest.build(prompt="x", images=[URL]).payload()
    assert "seed" not in body
    assert "aspect_ratio" not in body
    assert body["guidance_scale"] == 3.5


@pytest.mark.parametrize("prompt", ["", "   ", None, 3])
def test_empty_or_non_string_prompt(prompt: object) -> None:
    err = refused(prompt=prompt, images=[URL])
    assert err.fields == ("prompt",)
    assert "non-empty" in str(err)


@pytest.mark.parametrize("count", [0, 6, 9])
def test_image_count_outside_1_to_5(count: int) -> None:
    err = refused(prompt="x", images=[URL] * count)
    assert err.fields == ("images",)
    assert f"{count} images" in str(err)
    assert "1 to 5" in str(err)


@pytest.mark.parametrize(
    "image",
    ["ftp://example.com/a.png", "javascript:alert(1)", "http://", "not-a-file.png", 12, None],
)
def test_image_that_is_neither_url_nor_readable_image(image: object) -> None:
    err = refused(prompt="x", images=[image])
    assert err.fields == ("images[0]",)
    assert "http(s) URL" in str(err)


def test_file_that_is_not_an_image(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("hello")
    err = refused(prompt="x", images=[bogus])
    assert err.fields == ("images[0]",)
    assert "notes.png" in str(err)
    assert "not a readable image" in str(err)


def test_image_bytes_over_the_upload_limit() -> None:
    err = refused(prompt="x", images=[b"\x89PNG" + b"\0" * MAX_UPLOAD_BYTES])
    assert "at most" in str(err)


def test_local_path_bytes_and_pil_become_local_images(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    r = KontextRequest.build(
        prompt="x", images=[path, str(path), png_bytes(color="blue"), Image.new("RGB", (4, 4))]
    )
    assert all(isinstance(i, LocalImage) for i in r.images)
    assert r.needs_upload
    assert r.images[0].sha256 == r.images[1].sha256  # same content, one upload later
    with pytest.raises(ValueError, match="uploaded first"):
        r.payload()


@pytest.mark.parametrize("seed", [-2, 2_147_483_648, 1.5, "3", True])
def test_seed_outside_range_or_not_integer(seed: object) -> None:
    err = refused(prompt="x", images=[URL], seed=seed)
    assert err.fields == ("seed",)
    assert "-1 to 2147483647" in str(err)
    assert repr(seed) in str(err)


@pytest.mark.parametrize("seed", [-1, 0, 2_147_483_647])
def test_seed_bounds_are_allowed(seed: int) -> None:
    assert KontextRequest.build(prompt="x", images=[URL], seed=seed).seed == seed


@pytest.mark.parametrize("guidance", [0.99, 20.01, 25, float("nan"), float("inf"), "3", None])
def test_guidance_outside_range_or_not_number(guidance: object) -> None:
    err = refused(prompt="x", images=[URL], guidance_scale=guidance)
    assert err.fields == ("guidance_scale",)
    assert "1.0 to 20.0" in str(err)


def test_unknown_aspect_ratio_lists_the_allowed_ones() -> None:
    err = refused(prompt="x", images=[URL], aspect_ratio="5:4")
    assert err.fields == ("aspect_ratio",)
    for ratio in ASPECT_RATIOS:
        assert ratio in str(err)


def test_unknown_keys_are_refused_not_dropped() -> None:
    err = refused(prompt="x", images=[URL], num_images=4, negative_prompt="blur")
    assert set(err.fields) == {"num_images", "negative_prompt"}
    assert "unknown field" in str(err)


def test_every_problem_is_reported_at_once() -> None:
    err = refused(prompt="", images=[URL] * 6, guidance_scale=25)
    assert set(err.fields) == {"prompt", "images", "guidance_scale"}


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(InvalidRequestError, match="seed"):
        KontextRequest(prompt="x", images=(URL,), seed=-5)


def test_cache_key_follows_content_not_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(png_bytes())
    b.write_bytes(png_bytes())
    key_a = KontextRequest.build(prompt="x", images=[a], seed=1).cache_key()
    assert key_a == KontextRequest.build(prompt="x", images=[b], seed=1).cache_key()
    assert key_a != KontextRequest.build(prompt="x", images=[b], seed=2).cache_key()


def test_simulator_side_check_uses_missing_and_invalid_codes() -> None:
    problems = check_payload({"images": "x", "seed": "1"})
    codes = {p.field: p.code for p in problems}
    assert codes == {"prompt": 1400, "images": 1401, "seed": 1401}
