"""The client against the simulator over real TCP on 127.0.0.1: every row of the error table."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from pathlib import Path
from typing import Any

import pytest

from kontext_widgets import (
    AccountError,
    AuthenticationError,
    Client,
    InvalidRequestError,
    ParameterRejectedError,
    PredictionNotFoundError,
    PredictionTimeoutError,
    ProtocolError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Status,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    Timeouts,
)
from kontext_widgets.prediction import Prediction

from .conftest import MakeSimulator, png_bytes

FAST_RETRY = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05, max_retry_after_s=0.05)
SECRET = "ws_test_key_that_must_never_leak_0123456789"


def client_for(server: Any, **options: Any) -> Client:
    options.setdefault("retry", FAST_RETRY)
    return Client(base_url=server.url, **options)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


# -- 401, 403, 400, 404 ---------------------------------------------------------------------


async def test_401_bad_key_says_how_to_set_it(make_simulator: MakeSimulator) -> None:
    server = make_simulator(api_key="right-key")
    async with Client(api_key=SECRET, base_url=server.url, retry=FAST_RETRY) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.run(prompt="x", images=["https://example.com/a.png"])
    assert "WAVESPEED_API_KEY" in str(info.value)
    assert SECRET not in str(info.value)
    assert server.stats()["answers"].get("401") == 1  # not retried


async def test_right_key_is_accepted(make_simulator: MakeSimulator) -> None:
    server = make_simulator(api_key=SECRET)
    async with Client(api_key=SECRET, base_url=server.url) as client:
        assert not client.simulated or client.base_url == server.url
        p = await client.run(prompt="x", images=[png_bytes()])
        assert p.status is Status.COMPLETED
        assert await client.balance() == pytest.approx(100.0 - 0.04)


async def test_403_no_balance_shows_the_message(make_simulator: MakeSimulator) -> None:
    server = make_simulator(balance_usd=0.0)
    async with client_for(server) as client:
        with pytest.raises(AccountError, match=r"(?i)balance") as info:
            await client.run(prompt="x", images=[png_bytes()])
    assert info.value.status == 403
    assert server.stats()["tasks_created"] == 0


async def test_400_at_submit_is_shown_and_never_retried(simulator: Any) -> None:
    async with client_for(simulator) as client:
        # The simulator refuses an unknown [simulate:...] marker with HTTP 400, as the service
        # refuses parameters our own checks cannot know about.
        with pytest.raises(ParameterRejectedError, match="simulate") as info:
            await client.run(prompt="x [simulate:nonsense]", images=["https://example.com/a.png"])
    assert info.value.status == 400
    assert info.value.code == 1401
    assert simulator.stats()["answers"].get("400") == 1


async def test_bad_input_is_refused_before_any_io(simulator: Any) -> None:
    async with client_for(simulator) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.run(prompt="", images=["a.png"] * 6, guidance_scale=25, foo=1)
    assert set(info.value.fields) == {"prompt", "images", "guidance_scale", "foo"}
    stats = simulator.stats()
    assert stats["submits"] == 0
    assert stats["uploads"] == 0


@pytest.mark.parametrize("code", [1400, 1401])
async def test_parameter_error_as_failed_task_is_not_retryable(simulator: Any, code: int) -> None:
    async with client_for(simulator) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(prompt=f"x [simulate:fail={code}]", images=[png_bytes()])
    assert info.value.code == code
    assert not info.value.retryable
    assert simulator.stats()["submits"] == 1


async def test_404_names_the_id(simulator: Any) -> None:
    async with client_for(simulator) as client:
        with pytest.raises(PredictionNotFoundError, match="no-such-id"):
            await client.get("no-such-id")


# -- 429 and 5xx ----------------------------------------------------------------------------


async def test_429_is_retried_then_succeeds(make_simulator: MakeSimulator) -> None:
    server = make_simulator(rate_limit_rate=0.5, random_seed=3)
    retry = RetryPolicy(attempts=30, base_s=0.01, cap_s=0.02, max_retry_after_s=0.02)
    async with client_for(server, retry=retry) as client:
        results = [await client.run(prompt="x", images=[png_bytes()], seed=i) for i in range(4)]
    stats = server.stats()
    assert all(r.status is Status.COMPLETED for r in results)
    assert stats["answers"].get("429", 0) > 0  # the faults really happened
    assert stats["tasks_created"] == 4  # and no task was created twice


async def test_429_that_persists_gives_up_clearly(make_simulator: MakeSimulator) -> None:
    server = make_simulator(rate_limit_rate=1.0)
    async with client_for(server) as client:
        with pytest.raises(RateLimitedError, match="429"):
            await client.run(prompt="x", images=["https://example.com/a.png"])
    assert server.stats()["answers"]["429"] == FAST_RETRY.attempts
    assert server.stats()["tasks_created"] == 0


async def test_retry_after_is_honoured() -> None:
    policy = RetryPolicy(max_retry_after_s=60)
    assert policy.delay(0, "7") == 7
    assert policy.delay(3, "Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past
    assert 0 <= policy.delay(2) <= 2.0  # no header: jittered exponential backoff


async def test_5xx_on_polls_is_retried(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_s=0.3)
    retry = RetryPolicy(attempts=40, base_s=0.01, cap_s=0.02)
    async with client_for(server, retry=retry) as client:
        prediction = await client.submit(_request())
        server.configure(error_rate=0.8, random_seed=11)
        done = await client.wait(prediction.id)
    assert done.status is Status.COMPLETED
    faults = server.stats()["faults"]
    assert sum(faults.get(s, 0) for s in ("500", "502", "503", "504")) > 0


async def test_5xx_that_persists_on_polls_raises_server_error(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(latency_s=0.2)
    async with client_for(server) as client:
        prediction = await client.submit(_request())
        server.configure(error_rate=1.0)
        with pytest.raises(ServerError, match=r"gave up|HTTP 5"):
            await client.wait(prediction.id)


@pytest.mark.parametrize(("fault", "seed"), [("error_rate", None), ("drop_rate", None)])
async def test_submit_without_answer_is_never_resent(
    make_simulator: MakeSimulator, fault: str, seed: None
) -> None:
    server = make_simulator(**{fault: 1.0})
    async with client_for(server) as client:
        with pytest.raises(SubmitOutcomeUnknownError) as info:
            await client.run(prompt="x", images=["https://example.com/a.png"], seed=9)
    err = info.value
    assert err.payload["seed"] == 9
    assert err.sent_at is not None
    assert "not resent" in str(err)
    assert server.stats()["submits"] == 1  # exactly one POST reached the service


async def test_connection_refused_is_retried_then_reported() -> None:
    client = Client(base_url=f"http://127.0.0.1:{closed_port()}", retry=FAST_RETRY)
    async with client:
        with pytest.raises(ServerError, match="cannot connect"):
            await client.run(prompt="x", images=["https://example.com/a.png"])


# -- failed tasks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "retryable"), [(1200, False), (1403, False), (1405, False), (5000, True), (5003, True)]
)
async def test_failed_task_raises_with_code_and_text(
    simulator: Any, code: int, retryable: bool
) -> None:
    async with client_for(simulator) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(prompt=f"x [simulate:fail={code}]", images=[png_bytes()])
    assert info.value.code == code
    assert info.value.retryable is retryable
    assert str(code) in str(info.value)
    assert isinstance(info.value.prediction, Prediction)


async def test_failed_task_can_be_returned_instead(simulator: Any) -> None:
    async with client_for(simulator) as client:
        p = await client.run(
            prompt="x [simulate:fail=5003]", images=[png_bytes()], raise_on_failure=False
        )
    assert p.status is Status.FAILED
    assert p.code == 5003
    assert p.error


async def test_unreachable_image_url_fails_with_1402(simulator: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/missing.png"
    async with client_for(simulator) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(prompt="x", images=[url])
    assert info.value.code == 1402


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


def _request(prompt: str = "x") -> Any:
    from kontext_widgets import KontextRequest

    return KontextRequest.build(prompt=prompt, images=[png_bytes()])
