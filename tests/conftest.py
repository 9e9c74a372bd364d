"""Shared fixtures: a real simulator on 127.0.0.1 and small images."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kontext_widgets.simulator import SimulatorConfig, SimulatorServer

MakeSimulator = Callable[..., SimulatorServer]


@pytest.fixture
def make_simulator() -> Iterator[MakeSimulator]:
    """Start simulators with the given config; each is stopped after the test."""
    started: list[SimulatorServer] = []

    def make(**config: Any) -> SimulatorServer:
        config.setdefault("latency_s", 0.2)
        config.setdefault("output_long_side", 256)
        config.setdefault("allow_remote_fetch", False)  # hermetic: no DNS, no internet
        server = SimulatorServer(SimulatorConfig(**config))
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def simulator(make_simulator: MakeSimulator) -> SimulatorServer:
    return make_simulator()


@pytest.fixture(scope="session", autouse=True)
def _no_user_cache() -> Iterator[None]:
    """Simulators keep tasks in the user cache by default; tests never touch it.

    "off": each simulator (also in kernels and Jupyter servers the tests start, which
    inherit the variable) uses its own temporary directory. Tests of persistence pass
    ``state_dir`` or set the variable to a tmp_path.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KONTEXT_WIDGETS_SIMULATOR_DIR", "off")
        yield


@pytest.fixture(autouse=True)
def _no_real_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a developer's real key or base URL."""
    monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
    monkeypatch.delenv("WAVESPEED_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test records into a store of its own, never the checkout's default store."""
    monkeypatch.setenv("KONTEXT_WIDGETS_STORE", str(tmp_path / "default-store"))


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def start_simulator(*args: str) -> tuple[subprocess.Popen[str], str]:
    """The simulator as its own process on a free port (a test stops it); returns it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kontext_widgets.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line[line.index("http://") :].strip()


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_simulator/stats") as answer:
        return dict(json.load(answer))
