"""The client against the simulator over real TCP on 127.0.0.1: runs, sync mode, uploads,
time-outs, concurrency and the key."""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from kontext_widgets import (
    AuthenticationError,
    Client,
    PredictionTimeoutError,
    ProtocolError,
    Status,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    Timeouts,
)
from kontext_widgets.prediction import Prediction

from ..conftest import MakeSimulator, png_bytes
from .helpers import FAST_RETRY, SECRET, client_for
from .helpers import request as _request


async def test_run_completes_and_downloads(simulator: Any, tmp_path: Path) -> None:
    async with client_for(simulator) as client:
        image = tmp_path / "in.png"
        image.write_bytes(png_bytes())
        p = await client.run(prompt="make it blue", images=[image], seed=5, aspect_ratio="16:9")
    assert p.status is Status.COMPLETED
    assert len(p.outputs) == 1
    assert len(p.images) == 1
    out = p.images[0].to_pil()
    assert out.width > out.height  # 16:9
    assert p.request is not None
    assert p.request.seed == 5
    assert p.simulated  # the simulator says so in its answers
    assert simulator.stats()["submits"] == 1


async def test_seeds_give_different_images_and_reruns_match(simulator: Any) -> None:
    async with client_for(simulator) as client:
        a, b, a2 = await asyncio.gather(
            *(client.run(prompt="x", images=[png_bytes()], seed=s) for s in (1, 2, 1))
        )
    assert a.images[0].sha256 != b.images[0].sha256
    assert a.images[0].sha256 == a2.images[0].sha256
    assert simulator.stats()["uploads"] == 1  # one upload per content, reused


async def test_no_key_starts_the_simulator_and_says_so() -> None:
    async with Client() as client:
        assert client.simulated
        assert "SIMULATED" in client.describe()
        p = await client.run(prompt="hello", images=[png_bytes()], seed=3)
    assert p.simulated
    assert p.status is Status.COMPLETED


def test_no_key_never_goes_to_the_real_service() -> None:
    with pytest.raises(AuthenticationError, match="WAVESPEED_API_KEY"):
        Client(base_url="https://api.wavespeed.ai")


# -- sync mode -------------------------------------------------------------------------------


async def test_sync_mode_needs_no_polling(simulator: Any) -> None:
    async with client_for(simulator) as client:
        p = await client.run(prompt="x", images=[png_bytes()], enable_sync_mode=True)
    assert p.status is Status.COMPLETED
    assert p.images
    assert simulator.stats()["polls"] == 0


async def test_sync_timeout_hands_over_to_polling(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_s=0.8, sync_timeout_s=0.2)
    seen: list[str] = []
    async with client_for(server) as client:
        p = await client.run(
            prompt="x",
            images=[png_bytes()],
            enable_sync_mode=True,
            on_update=lambda q: seen.append(q.status.value),
        )
    assert p.status is Status.COMPLETED
    assert seen[0] == "processing"
    assert seen[-1] == "completed"
    stats = server.stats()
    assert stats["submits"] == 1
    assert stats["polls"] >= 1


# -- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["binary", "ticket"])
async def test_both_upload_flows(simulator: Any, method: str, tmp_path: Path) -> None:
    path = tmp_path / "local.png"
    path.write_bytes(png_bytes(color="green"))
    async with client_for(simulator, upload_method=method) as client:
        url = await client.upload(path)
        assert url.startswith(simulator.url)
        assert await client.upload(path) == url  # cached by content
        p = await client.run(prompt="x", images=[path, png_bytes(color="blue")])
    assert p.status is Status.COMPLETED
    assert simulator.stats()["uploads"] == 2


async def test_concurrent_runs_upload_shared_content_once(simulator: Any) -> None:
    data = png_bytes(color="purple")
    async with client_for(simulator, max_concurrency=4) as client:
        await asyncio.gather(*(client.run(prompt="x", images=[data], seed=s) for s in range(4)))
    assert simulator.stats()["uploads"] == 1


# -- time-outs, cancellation, concurrency ------------------------------------------------------


async def test_wait_timeout_names_the_id_and_the_task_can_be_resumed(simulator: Any) -> None:
    async with client_for(simulator) as client:
        created = await client.submit(_request(prompt="x [simulate:latency=0.6]"))
        with pytest.raises(PredictionTimeoutError) as info:
            await client.wait(created.id, timeout_s=0.1)
        assert info.value.prediction_id == created.id
        done = await client.wait(created.id)
    assert done.status is Status.COMPLETED
    assert simulator.stats()["submits"] == 1


async def test_cancel_stops_polling_at_once(simulator: Any) -> None:
    async with client_for(simulator) as client:
        task = asyncio.ensure_future(
            client.run(prompt="x [simulate:latency=30]", images=[png_bytes()])
        )
        while simulator.stats()["polls"] < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        polls = simulator.stats()["polls"]
        await asyncio.sleep(1.0)
    assert simulator.stats()["polls"] == polls


async def test_concurrency_limit_is_respected(simulator: Any) -> None:
    running: set[str] = set()
    peak = 0

    def track(p: Prediction) -> None:
        nonlocal peak
        if p.finished:
            running.discard(p.id)
        else:
            running.add(p.id)
            peak = max(peak, len(running))

    async with client_for(simulator, max_concurrency=2) as client:
        await asyncio.gather(
            *(client.run(prompt="x", images=[png_bytes()], on_update=track) for _ in range(6))
        )
    assert peak == 2


async def test_per_call_timeout_applies(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_s=2.0)
    timeouts = Timeouts(sync_submit_s=0.3)
    async with client_for(server, timeouts=timeouts) as client:
        with pytest.raises(SubmitOutcomeUnknownError, match="timed out"):
            await client.run(prompt="x", images=[png_bytes()], enable_sync_mode=True)
    assert server.stats()["submits"] == 1


async def test_download_size_cap(simulator: Any) -> None:
    async with client_for(simulator, max_download_bytes=100) as client:
        with pytest.raises(ProtocolError, match="limit"):
            await client.run(prompt="x", images=[png_bytes()])


async def test_non_http_output_url_is_refused(simulator: Any) -> None:
    async with client_for(simulator) as client:
        with pytest.raises(ProtocolError, match="not an http"):
            await client.download("file:///etc/passwd")


# -- the key ---------------------------------------------------------------------------------


async def test_key_never_in_repr_errors_or_logs(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_simulator(api_key="another-key", rate_limit_rate=0.0)
    client = Client(api_key=SECRET, base_url=server.url, retry=FAST_RETRY)
    texts = [repr(client), str(client.__dict__), client.describe()]
    async with client:
        for prompt in ("x", "x [simulate:nonsense]"):
            try:
                await client.run(prompt=prompt, images=[png_bytes()])
            except Exception as exc:
                texts.append("".join(traceback.format_exception(exc)))
        server.configure(api_key=SECRET)
        try:
            await client.run(prompt="x [simulate:fail=5003]", images=[png_bytes()])
        except TaskFailedError as exc:
            texts.append("".join(traceback.format_exception(exc)))
            texts.append(repr(exc.prediction))
    texts.append(caplog.text)
    assert len(texts) > 5
    for text in texts:
        assert SECRET not in text
