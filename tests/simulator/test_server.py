"""Running the simulator: the threaded server, loopback only, the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

import kontext_widgets
from kontext_widgets import contract
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer, create_app, serve

from .helpers import (
    FAST,
    png_bytes,
)

# running it --------------------------------------------------------------------


def test_threaded_server_lifecycle() -> None:
    server = SimulatorServer(SimulatorConfig(**FAST))
    with pytest.raises(RuntimeError):
        _ = server.url
    url = server.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert server.url == url
    assert server.start() == url  # starting twice is harmless
    with urllib.request.urlopen(url + contract.BALANCE_PATH, timeout=5) as answer:
        assert json.load(answer)["data"]["balance"] == 100.0
    server.configure(error_rate=1.0)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url + contract.BALANCE_PATH, timeout=5)
    assert caught.value.code in (500, 502, 503, 504)
    caught.value.close()
    stats = server.stats()
    assert stats["answers"]["200"] == 1
    assert sum(stats["faults"].values()) == 1
    with pytest.raises(ValueError, match="fail_rate"):
        server.configure(fail_rate=3)
    server.stop()
    server.stop()  # twice is fine
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url + contract.BALANCE_PATH, timeout=2)


def test_threaded_server_keeps_files_on_disk_and_removes_them() -> None:
    with SimulatorServer(SimulatorConfig(**FAST)) as server:
        ticket = urllib.request.Request(
            server.url + contract.UPLOAD_TICKET_PATH,
            data=json.dumps(
                {"filename": "a.png", "size": 9999, "content_type": "image/png"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(ticket, timeout=5) as answer:
            target = json.load(answer)["data"]["upload"]
        put = urllib.request.Request(
            target["url"], data=png_bytes(), headers=target["headers"], method="PUT"
        )
        with urllib.request.urlopen(put, timeout=5) as answer:
            assert answer.status == 200
        storage = server.storage_dir
        assert len(list((storage / "uploads").iterdir())) == 1
    assert not storage.exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimulatorServer(host=host)


async def test_serve_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        await serve(SimulatorConfig(), host="0.0.0.0")


def test_create_app_is_a_plain_aiohttp_app() -> None:
    app = create_app(SimulatorConfig())
    assert isinstance(app, web.Application)
    paths = {route.resource.canonical for route in app.router.routes() if route.resource}
    for path in (
        contract.SUBMIT_PATH,
        contract.RESULT_PATH,
        contract.PREDICTION_PATH,
        contract.UPLOAD_BINARY_PATH,
        contract.UPLOAD_TICKET_PATH,
        contract.BALANCE_PATH,
        "/api/v3/predictions",
        "/api/v3/predictions/delete",
        "/_simulator/stats",
        "/_simulator/config",
    ):
        assert path in paths


def _cli(*args: str) -> subprocess.Popen[str]:
    root = Path(kontext_widgets.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-m", "kontext_widgets.simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_url_serves_and_stops(stop_signal: signal.Signals) -> None:
    key = "sk-cli-secret-4242"
    process = _cli("--port", "0", "--latency", "0.05", "--api-key", key, "--concurrency", "2")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        assert "SIMULATED" in line
        assert key not in line
        request = urllib.request.Request(
            match.group(0) + contract.BALANCE_PATH, headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.load(answer)["data"]["balance"] == 100.0
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(match.group(0) + contract.BALANCE_PATH, timeout=5)
        assert caught.value.code == 401
        caught.value.close()
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert out == ""
        assert key not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_cli_refuses_a_public_host() -> None:
    process = _cli("--host", "0.0.0.0")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert out == ""
    assert "loopback" in err


def test_cli_options_of_persistence_retention_and_limits(tmp_path: Path) -> None:
    from kontext_widgets.simulator.__main__ import build_parser, config_from

    parse = build_parser().parse_args
    config = config_from(
        parse(
            [
                "--state-dir",
                str(tmp_path),
                "--retention",
                "2.5",
                "--images-per-minute",
                "2",
                "--sync-timeout-top-level-code",
            ]
        )
    )
    assert config.state_dir == str(tmp_path)
    assert config.retention_s == 2.5
    assert config.images_per_minute == 2
    assert config.sync_timeout_code_top_level is True
    assert config_from(parse(["--ephemeral"])).state_dir is None
    defaults = config_from(parse([]))
    assert (defaults.images_per_minute, defaults.retention_s) == (None, 7 * 24 * 3600)
    assert defaults.sync_timeout_code_top_level is False
    with pytest.raises(ValueError, match="exclude each other"):
        config_from(parse(["--ephemeral", "--state-dir", str(tmp_path)]))
    with pytest.raises(ValueError, match="images_per_minute"):
        config_from(parse(["--images-per-minute", "0"]))
