"""The ``kontext-widgets generate`` command against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kontext_widgets.cli import main

from ..conftest import png_bytes


def test_generate_writes_outputs_and_says_where(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    out = tmp_path / "out"
    code = main(
        [
            "generate",
            "--prompt",
            "make it night",
            "--image",
            str(image),
            "--seed",
            "1",
            "--seed",
            "2",
            "--aspect-ratio",
            "16:9",
            "--out",
            str(out),
            "--base-url",
            simulator.url,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2
    for png in pngs:
        assert str(png) in captured.out
        with Image.open(png) as img:
            assert img.width > img.height
        sidecar = json.loads(png.with_suffix(".json").read_text())
        assert sidecar["prompt"] == "make it night"
        assert sidecar["aspect_ratio"] == "16:9"
    assert {json.loads(p.with_suffix(".json").read_text())["seed"] for p in pngs} == {1, 2}
    assert "2/2 finished" in captured.err  # the progress display
    assert simulator.stats()["submits"] == 2


def test_bad_input_exits_2_before_sending(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "generate",
            "--prompt",
            "",
            "--image",
            "ftp://x/y.png",
            "--guidance",
            "25",
            "--out",
            str(tmp_path),
            "--base-url",
            simulator.url,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "nothing was sent" in err
    for field in ("prompt", "images[0]", "guidance_scale"):
        assert field in err
    assert simulator.stats()["submits"] == 0


def test_failed_prediction_exits_1_with_reason(
    simulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    code = main(
        [
            "generate",
            "--prompt",
            "x [simulate:fail=5003]",
            "--image",
            str(image),
            "--out",
            str(tmp_path / "out"),
            "--base-url",
            simulator.url,
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out
    assert "5003" in out


def test_installed_command_runs_the_simulator_without_a_key(tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes())
    env = {
        k: v for k, v in os.environ.items() if k not in ("WAVESPEED_API_KEY", "WAVESPEED_BASE_URL")
    }
    exe = Path(sys.executable).with_name("kontext-widgets")
    result = subprocess.run(
        [
            str(exe),
            "generate",
            "--prompt",
            "hello",
            "--image",
            str(image),
            "--seed",
            "3",
            "--out",
            *[str(tmp_path / "out")],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "SIMULATED" in result.stdout
    assert len(list((tmp_path / "out").glob("*.png"))) == 1
