"""Queueing, injected faults and prompt directives."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from kontext_widgets import contract
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    SUBMIT,
    VALID,
    MakeSim,
    get_json,
    png_bytes,
    post_json,
    run_to_end,
    submit,
    upload,
    wait_finished,
)

# queueing ----------------------------------------------------------------------


async def test_tasks_beyond_concurrency_wait_in_created(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(concurrency=1, latency_s=0.4)
    image = await upload(session, sim.url, png_bytes())
    first = (await submit(session, sim.url, [image]))["data"]["urls"]["get"]
    second = (await submit(session, sim.url, [image]))["data"]["urls"]["get"]
    await asyncio.sleep(0.1)
    assert (await get_json(session, first))[1]["data"]["status"] == "processing"
    assert (await get_json(session, second))[1]["data"]["status"] == "created"
    assert sim.stats()["tasks"] == {
        "created": 1,
        "processing": 1,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "timeout": 0,
        "deleted": 0,
    }
    await wait_finished(session, first)
    assert (await get_json(session, second))[1]["data"]["status"] in ("processing", "completed")
    assert (await wait_finished(session, second))["status"] == "completed"


async def test_raising_concurrency_at_run_time_starts_queued_tasks(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(concurrency=1, latency_s=0.5)
    image = await upload(session, sim.url, png_bytes())
    urls = [(await submit(session, sim.url, [image]))["data"]["urls"]["get"] for _ in range(3)]
    await asyncio.sleep(0.05)
    assert sim.stats()["tasks"]["created"] == 2
    status, config = await post_json(session, sim.url + "/_simulator/config", {"concurrency": 3})
    assert status == 200
    assert config["concurrency"] == 3
    await asyncio.sleep(0.05)
    assert sim.stats()["tasks"]["processing"] == 3
    for url in urls:
        await wait_finished(session, url)


# injected faults ---------------------------------------------------------------


async def test_rate_limit_is_429_before_anything(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(rate_limit_rate=1.0, retry_after_s=2)
    retry_after = []
    for _ in range(12):
        async with session.post(sim.url + SUBMIT, json=VALID) as answer:
            assert answer.status == 429
            assert (await answer.json())["code"] == 429
            retry_after.append(answer.headers.get("Retry-After"))
    assert set(retry_after) == {"2", None}  # sometimes sent, never promised
    stats = sim.stats()
    assert stats["submits"] == 12
    assert stats["tasks_created"] == 0
    assert stats["answers"] == {"429": 12}
    assert stats["faults"] == {"429": 12}


async def test_5xx_at_submit_creates_a_task_only_for_502_and_504(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    # Long latency and sync mode: a gateway error must still answer at once.
    sim = await make_sim(error_rate=1.0, latency_s=30.0)
    created_by_status: dict[int, set[int]] = {}
    for _ in range(24):
        before = sim.stats()["tasks_created"]
        started = time.monotonic()
        body = {**VALID, "enable_sync_mode": True}
        async with session.post(sim.url + SUBMIT, json=body) as answer:
            status = answer.status
            assert (await answer.json())["code"] == status
        assert time.monotonic() - started < 2
        created_by_status.setdefault(status, set()).add(sim.stats()["tasks_created"] - before)
    assert created_by_status == {500: {0}, 502: {1}, 503: {0}, 504: {1}}
    sim.configure(error_rate=0.0)
    status, listing = await post_json(session, sim.url + "/api/v3/predictions", {"page_size": 100})
    assert status == 200
    assert listing["data"]["total"] == sim.stats()["tasks_created"] > 0


async def test_5xx_on_polls(make_sim: MakeSim, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(error_rate=1.0)
    async with session.get(sim.url + contract.BALANCE_PATH) as answer:
        assert answer.status in (500, 502, 503, 504)


async def test_dropped_submit_still_created_the_task(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(drop_rate=1.0)
    with pytest.raises(aiohttp.ClientError):
        async with session.post(sim.url + SUBMIT, json=VALID) as answer:
            await answer.read()
    stats = sim.stats()
    assert stats["submits"] == 1
    assert stats["tasks_created"] == 1
    assert stats["dropped"] == 1
    assert stats["answers"] == {}
    with pytest.raises(aiohttp.ClientError):
        async with session.get(sim.url + contract.BALANCE_PATH) as answer:
            await answer.read()
    sim.configure(drop_rate=0.0)
    status, listing = await post_json(session, sim.url + "/api/v3/predictions", {})
    assert status == 200
    assert listing["data"]["total"] == 1


async def test_fail_rate_fails_tasks_with_model_codes(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(fail_rate=1.0)
    image = await upload(session, sim.url, png_bytes())
    codes = set()
    for _ in range(6):
        done = await run_to_end(session, sim.url, [image])
        assert done["status"] == "failed"
        assert done["outputs"] == []
        assert done["error"]
        codes.add(done["code"])
    assert codes <= {1403, 1405, 5000, 5003}
    assert len(codes) > 1


async def test_faults_repeat_with_the_same_seed(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    async def sequence(seed: int) -> list[int]:
        sim = await make_sim(error_rate=0.5, rate_limit_rate=0.2, random_seed=seed)
        statuses = []
        for _ in range(20):
            async with session.get(sim.url + contract.BALANCE_PATH) as answer:
                statuses.append(answer.status)
        return statuses

    first = await sequence(11)
    assert first == await sequence(11)
    assert first != await sequence(12)
    assert len(set(first)) > 2


# prompt directives -------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "code"),
    [("[simulate:fail=5003]", 5003), ("[simulate:moderate]", 1200), ("[simulate:fail=1403]", 1403)],
)
async def test_directive_fails_the_task(
    sim: RunningSimulator, session: aiohttp.ClientSession, directive: str, code: int
) -> None:
    image = await upload(session, sim.url, png_bytes())
    done = await run_to_end(session, sim.url, [image], prompt=f"make it blue {directive}")
    assert done["status"] == "failed"
    assert done["code"] == code
    assert done["error"]
    assert done["outputs"] == []
    assert done["has_nsfw_contents"] == []


async def test_latency_and_nsfw_directives(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(latency_s=30.0)
    image = await upload(session, sim.url, png_bytes())
    started = time.monotonic()
    done = await run_to_end(
        session, sim.url, [image], prompt="p [simulate:latency=0.1, nsfw]", enable_sync_mode=True
    )
    assert time.monotonic() - started < 5
    assert done["status"] == "completed"
    assert done["has_nsfw_contents"] == [True]


async def test_unknown_directive_is_400(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    status, answer = await post_json(
        session, sim.url + SUBMIT, {**VALID, "prompt": "x [simulate:explode]"}
    )
    assert status == 400
    assert answer["code"] == 1401
    assert "explode" in answer["message"]
    assert answer["message"].startswith("prompt: ")
