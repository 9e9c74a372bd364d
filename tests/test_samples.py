"""The bundled sample images: present, small, readable, licensed, and made by our script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from kontext_widgets import samples
from kontext_widgets.request import KontextRequest, LocalImage

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "kontext_widgets" / "samples"
EXPECTED = ["landscape", "person", "shoes"]


def test_names_and_paths() -> None:
    assert samples.names() == EXPECTED
    assert [p.stem for p in samples.all_paths()] == EXPECTED
    for name in EXPECTED:
        path = samples.path(name)
        assert path.is_absolute()
        assert path == SAMPLES_DIR.resolve() / f"{name}.png"
        assert path.is_file()


def test_every_png_in_the_folder_is_a_listed_sample() -> None:
    assert sorted(p.stem for p in SAMPLES_DIR.glob("*.png")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_sample_is_a_small_readable_png(name: str) -> None:
    path = samples.path(name)
    assert path.stat().st_size < 60_000
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert max(image.size) == 512
        assert min(image.size) >= 256
        rgb = image.convert("RGB")
    # drawn, not blank: many colours and real contrast
    assert len(rgb.getcolors(1 << 16) or []) > 40
    assert min(ImageStat.Stat(rgb).stddev) > 20


@pytest.mark.parametrize("name", EXPECTED)
def test_sample_carries_its_licence_in_the_file(name: str) -> None:
    with Image.open(samples.path(name)) as image:
        text = getattr(image, "text", {})
    assert "CC0" in text.get("Copyright", "")
    assert "kontext-widgets" in text.get("Author", "")


def test_samples_are_valid_request_images() -> None:
    request = KontextRequest.build(prompt="put the shoes on her", images=samples.all_paths())
    assert [i.content_type for i in request.local_images] == ["image/png"] * 3
    assert all(isinstance(i, LocalImage) for i in request.images)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown sample 'cat'.*landscape, person, shoes"):
        samples.path("cat")
    with pytest.raises(ValueError, match=r"unknown sample 'person\.png'"):
        samples.path("person.png")


def test_licence_is_cc0_and_names_the_script() -> None:
    licence = (SAMPLES_DIR / "LICENSE.md").read_text(encoding="utf-8")
    assert "CC0 1.0" in licence
    assert "scripts/make_samples.py" in licence
    assert "kontext-widgets" in licence
    for name in EXPECTED:
        assert f"{name}.png" in licence


def test_the_script_draws_the_committed_images(tmp_path: Path) -> None:
    """The committed PNGs are what scripts/make_samples.py draws (pixels, not bytes)."""
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_samples.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in EXPECTED:
        with Image.open(tmp_path / f"{name}.png") as fresh, Image.open(samples.path(name)) as kept:
            assert fresh.size == kept.size
            diff = ImageChops.difference(fresh.convert("RGB"), kept.convert("RGB"))
            assert max(ImageStat.Stat(diff).mean) < 2.0, name
