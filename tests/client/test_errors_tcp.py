"""The client against the simulator over real TCP on 127.0.0.1: every row of the error table."""

from __future__ import annotations

from typing import Any

import pytest

from kontext_widgets import (
    AccountError,
    AuthenticationError,
    Client,
    InvalidRequestError,
    ParameterRejectedError,
    PredictionNotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Status,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from kontext_widgets.prediction import Prediction

from ..conftest import MakeSimulator, png_bytes
from .helpers import FAST_RETRY, SECRET, client_for, closed_port
from .helpers import request as _request

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
