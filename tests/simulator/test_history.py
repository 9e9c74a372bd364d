"""History (list, delete), webhooks, counters and the control routes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import aiohttp
import pytest

from kontext_widgets import contract
from kontext_widgets.simulator import SimulatorConfig
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    SUBMIT,
    Assets,
    fetch_bytes,
    get_json,
    png_bytes,
    post_json,
    run_to_end,
    submit,
    upload,
)

# history, webhooks, stats, control ------------------------------------------------


async def test_list_and_delete_predictions(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    older = await run_to_end(session, sim.url, [image])
    newer = await run_to_end(session, sim.url, [image])
    listing_url = sim.url + "/api/v3/predictions"
    status, page = await post_json(session, listing_url, {"page": 1, "page_size": 1})
    assert status == 200
    assert page["data"]["total"] == 2
    assert [p["id"] for p in page["data"]["items"]] == [newer["id"]]
    assert (await post_json(session, listing_url, {"page_size": 101}))[0] == 400
    status, gone = await post_json(
        session, listing_url + "/delete", {"ids": [older["id"], "unknown"]}
    )
    assert status == 200
    assert gone["data"] == {"deleted_count": 1}  # the documented shape: a count, no list
    assert (await get_json(session, older["urls"]["get"]))[0] == 404
    async with session.get(older["outputs"][0]) as answer:
        assert answer.status == 404


async def test_webhook_receives_the_signed_prediction(
    sim: RunningSimulator, session: aiohttp.ClientSession, assets: Assets
) -> None:
    image = await upload(session, sim.url, png_bytes())
    status, answer = await post_json(
        session,
        sim.url + SUBMIT,
        {"prompt": "p", "images": [image]},
        params={"webhook": assets.url + "/hook"},
    )
    assert status == 200
    headers, body = await asyncio.wait_for(assets.hooks.get(), 10)
    posted = json.loads(body)
    assert posted["id"] == answer["data"]["id"]
    assert posted["status"] == "completed"
    _, secret = await get_json(session, sim.url + "/api/v3/webhook/secret")
    key = secret["data"]["secret"].removeprefix("whsec_").encode()
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v3," + hmac.new(key, signed, hashlib.sha256).hexdigest()
    assert headers["webhook-signature"] == expected


async def test_stats_count_everything(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(sim.url + "/_simulator/stats") as reply:
        assert await reply.json() == {
            "submits": 0,
            "polls": 0,
            "uploads": 0,
            "puts": 0,
            "tasks_created": 0,
            "answers": {},
            "dropped": 0,
            "faults": {},
            "tasks": {
                "created": 0,
                "processing": 0,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "timeout": 0,
                "deleted": 0,
            },
            "webhooks": {"sent": 0, "failed": 0},
            "balance_usd": 100.0,
        }
    image = await upload(session, sim.url, png_bytes())  # 1 upload, 200
    answer = await submit(session, sim.url, [image])  # 1 submit, 200
    await post_json(session, sim.url + SUBMIT, {"prompt": "p"})  # 1 submit, 400
    await get_json(session, sim.url + contract.RESULT_PATH.format(id="nope"))  # 1 poll, 404
    polls = 1
    while True:
        _, polled = await get_json(session, answer["data"]["urls"]["get"])  # 1 poll, 200
        polls += 1
        if polled["data"]["status"] == "completed":
            break
        await asyncio.sleep(0.02)
    await fetch_bytes(session, polled["data"]["outputs"][0])  # a media GET: not a poll
    async with session.get(sim.url + "/_simulator/stats") as reply:  # never counted
        stats = await reply.json()
    assert stats["submits"] == 2
    assert stats["uploads"] == 1
    assert stats["tasks_created"] == 1
    assert stats["polls"] == polls
    # 200: the upload, the submit, every poll but the 404 one, the output
    assert stats["answers"] == {"200": 2 + (polls - 1) + 1, "400": 1, "404": 1}
    assert stats["tasks"]["completed"] == 1
    assert stats["balance_usd"] == pytest.approx(100.0 - contract.PRICE_PER_IMAGE_USD)
    assert stats == sim.stats()


async def test_config_route_changes_and_checks_settings(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    url = sim.url + "/_simulator/config"
    status, config = await post_json(session, url, {"error_rate": 1.0, "api_key": "k"})
    assert status == 200
    assert config["error_rate"] == 1.0
    assert config["api_key"] == "<set>"
    async with session.get(sim.url + contract.BALANCE_PATH) as answer:
        assert answer.status >= 500
    status, error = await post_json(session, url, {"error_rate": 2})
    assert status == 400
    assert "error_rate" in error["error"]
    status, error = await post_json(session, url, {"colour": "red"})
    assert status == 400
    assert "colour" in error["error"]
    status, config = await post_json(session, url, {"error_rate": 0, "api_key": None})
    assert status == 200
    assert (await get_json(session, sim.url + contract.BALANCE_PATH))[0] == 200


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("latency_s", -1),
        ("fail_rate", 1.5),
        ("error_rate", float("nan")),
        ("drop_rate", "0.5"),
        ("concurrency", 0),
        ("sync_timeout_s", 0),
        ("balance_usd", -0.01),
        ("output_long_side", 10),
        ("api_key", ""),
        ("allow_remote_fetch", "yes"),
    ],
)
def test_config_values_are_checked(setting: str, value: Any) -> None:
    with pytest.raises(ValueError, match=setting):
        SimulatorConfig(**{setting: value})
