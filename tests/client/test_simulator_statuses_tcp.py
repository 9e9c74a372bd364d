"""The client against the simulator's own answers for what issue 12 added to both sides:
the SDK's extra statuses, the sync time-out inside ``data``, and expired predictions."""

from __future__ import annotations

import asyncio

import pytest

from kontext_widgets import Client, PredictionNotFoundError, RetryPolicy, Status, TaskFailedError
from kontext_widgets.contract import RETENTION_DAYS

from ..conftest import MakeSimulator, png_bytes

FAST = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02)


@pytest.mark.parametrize(
    ("status", "retryable"), [("cancelled", False), ("timeout", True), ("deleted", False)]
)
async def test_sdk_statuses_end_the_wait_naming_status_and_id(
    make_simulator: MakeSimulator, status: str, retryable: bool
) -> None:
    sim = make_simulator(latency_s=0.2)
    async with Client(base_url=sim.url, retry=FAST) as client:
        with pytest.raises(TaskFailedError) as failed:
            await client.run(
                prompt=f"make it night [simulate:status={status}]", images=[png_bytes()]
            )
    assert status in str(failed.value)
    assert failed.value.prediction_id
    assert failed.value.prediction_id in str(failed.value)
    assert failed.value.retryable is retryable


async def test_a_sync_time_out_in_data_code_is_polled_to_the_end(
    make_simulator: MakeSimulator,
) -> None:
    # The simulator answers the SDK's way by default: HTTP 200, data.code 5004.
    sim = make_simulator(latency_s=0.8, sync_timeout_s=0.2)
    async with Client(base_url=sim.url, retry=FAST) as client:
        done = await client.run(prompt="make it night", images=[png_bytes()], enable_sync_mode=True)
    assert done.status is Status.COMPLETED
    assert len(done.images) == 1
    assert sim.stats()["polls"] >= 1  # handed over to polling, not resubmitted
    assert sim.stats()["submits"] == 1


async def test_an_expired_prediction_says_it_may_have_expired(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator(latency_s=0.05, retention_s=0.5)
    async with Client(base_url=sim.url, retry=FAST) as client:
        done = await client.run(prompt="make it night", images=[png_bytes()])
        await asyncio.sleep(0.7)
        with pytest.raises(PredictionNotFoundError) as gone:
            await client.get(done.id)
    text = str(gone.value)
    assert done.id in text
    assert "expired" in text
    assert f"after {RETENTION_DAYS} days" in text
    assert "stay in the store" in text
