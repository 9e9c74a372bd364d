"""``kontext-widgets sweep`` with options and a TOML file, against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kontext_widgets.cli import main

from ..conftest import png_bytes


def test_sweep_from_toml_with_exports(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    config = tmp_path / "sweep.toml"
    config.write_text(
        f'prompt = ["night", "snow"]\nimages = ["{image}"]\nseed = "1-2"\n'
        "guidance_scale = [2.0, 4.0]\nconcurrency = 3\n"
    )
    out = tmp_path / "out"
    argv = ["sweep", "--config", str(config), "--aspect-ratio", "16:9", "--out", str(out)]
    argv += ["--store", str(tmp_path / "store"), "--base-url", simulator.url]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "8 of 8 cells done" in captured.out
    assert "8/8 cells" in captured.err  # the progress display
    assert "Sweep plan: 8 cells" in captured.err
    assert (out / "contact-sheet.png").is_file()
    assert (out / "sweep.html").is_file()
    pngs = sorted((out / "images").glob("*.png"))
    assert len(pngs) == 8
    with Image.open(pngs[0]) as first:
        assert json.loads(first.text["parameters"])["aspect_ratio"] == "16:9"
    assert main(argv) == 0  # a rerun comes from the store
    assert simulator.stats()["submits"] == 8


def test_sweep_over_budget_is_refused_unless_told(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    argv = ["sweep", "--prompt", "x", "--image", str(image), "--seed", "1-40", "--max-cost", "1"]
    argv += ["--store", str(tmp_path / "store"), "--base-url", simulator.url]
    assert main(argv) == 1
    assert "would cost $1.60" in capsys.readouterr().err
    assert simulator.stats()["submits"] == 0


def test_sweep_bad_axis_value_exits_2(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "sweep",
        "--prompt",
        "x",
        "--image",
        "https://example.com/a.png",
        "--guidance",
        "2:40:5",
    ]
    argv += ["--store", str(tmp_path), "--base-url", simulator.url]
    assert main(argv) == 2
    assert "guidance_scale" in capsys.readouterr().err
    assert simulator.stats()["submits"] == 0
