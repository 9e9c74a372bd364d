"""The simulator's prediction API over real TCP: the envelope, validation, auth, 404, sync mode."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time

import aiohttp
import pytest
from PIL import Image

from kontext_widgets import contract
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    ENVELOPE_DATA_KEYS,
    SUBMIT,
    VALID,
    Json,
    MakeSim,
    fetch_bytes,
    get_json,
    png_bytes,
    post_json,
    run_to_end,
    submit,
    upload,
    wait_finished,
)

# the happy path and the envelope ----------------------------------------------


async def test_submit_poll_complete_and_envelope(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(latency_s=0.3)
    image = await upload(session, sim.url, png_bytes())
    answer = await submit(session, sim.url, [image], seed=7, aspect_ratio="16:9")
    assert set(answer) == {"code", "message", "data"}
    assert (answer["code"], answer["message"]) == (200, "success")
    data = answer["data"]
    assert set(data) == ENVELOPE_DATA_KEYS
    assert data["model"] == contract.MODEL
    assert data["status"] == "created"
    assert data["outputs"] == []
    assert data["has_nsfw_contents"] == []
    assert data["urls"]["get"] == f"{sim.url}/api/v3/predictions/{data['id']}/result"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["created_at"])

    await asyncio.sleep(0.1)
    _, middle = await get_json(session, data["urls"]["get"])
    assert middle["data"]["status"] == "processing"
    assert middle["data"]["outputs"] == []

    done = await wait_finished(session, data["urls"]["get"])
    assert set(done) == ENVELOPE_DATA_KEYS  # no data.code unless failed
    assert done["status"] == "completed"
    assert done["error"] == ""
    assert done["has_nsfw_contents"] == [False]
    assert done["timings"]["inference"] >= 250
    (output,) = done["outputs"]
    assert output.startswith(sim.url + "/")
    picture = Image.open(io.BytesIO(await fetch_bytes(session, output)))
    assert picture.format == "PNG"
    assert picture.size == (256, 144)
    assert picture.text["Software"] == "kontext-widgets simulator"  # type: ignore[attr-defined]
    parameters = json.loads(picture.text["parameters"])  # type: ignore[attr-defined]
    assert parameters["seed"] == 7
    assert parameters["aspect_ratio"] == "16:9"
    assert parameters["prompt"] == "add a red hat"
    assert parameters["simulated"] is True

    # The other result route answers the same prediction.
    status, same = await get_json(session, f"{sim.url}/api/v3/predictions/{data['id']}")
    assert status == 200
    assert same["data"] == done


async def test_urls_follow_the_host_header(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    port = sim.url.rsplit(":", 1)[1]
    status, answer = await post_json(
        session,
        sim.url + SUBMIT,
        {"prompt": "p", "images": [image]},
        headers={"Host": f"localhost:{port}"},
    )
    assert status == 200
    assert answer["data"]["urls"]["get"].startswith(f"http://localhost:{port}/api/v3/predictions/")


async def test_random_seed_is_resolved_and_recorded(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    done = await run_to_end(session, sim.url, [image], seed=-1)
    picture = Image.open(io.BytesIO(await fetch_bytes(session, done["outputs"][0])))
    seed = json.loads(picture.text["parameters"])["seed"]  # type: ignore[attr-defined]
    assert 0 <= seed <= contract.SEED_MAX


async def test_every_answer_says_simulated(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    image = await upload(session, sim.url, png_bytes())
    done = await run_to_end(session, sim.url, [image])
    for url in (
        sim.url + contract.BALANCE_PATH,
        sim.url + contract.RESULT_PATH.format(id="missing"),
        done["outputs"][0],
        image,
    ):
        async with session.get(url) as answer:
            assert "SIMULATED" in answer.headers["X-Kontext-Simulator"], url
    sim.configure(rate_limit_rate=1.0)
    async with session.get(sim.url + contract.BALANCE_PATH) as answer:
        assert answer.status == 429
        assert "SIMULATED" in answer.headers["X-Kontext-Simulator"]


# validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"prompt": None}, "prompt", 1400),
        ({"images": None}, "images", 1400),
        ({"prompt": ""}, "prompt", 1401),
        ({"prompt": "   "}, "prompt", 1401),
        ({"prompt": 5}, "prompt", 1401),
        ({"images": "http://127.0.0.1:9/a.png"}, "images", 1401),
        ({"images": []}, "images", 1401),
        ({"images": ["http://127.0.0.1:9/a.png"] * 6}, "images", 1401),
        ({"images": ["ftp://example.com/a.png"]}, "images[0]", 1401),
        ({"images": ["http://127.0.0.1:9/a.png", 3]}, "images[1]", 1401),
        ({"seed": "1"}, "seed", 1401),
        ({"seed": -2}, "seed", 1401),
        ({"seed": 2_147_483_648}, "seed", 1401),
        ({"seed": True}, "seed", 1401),
        ({"seed": 1.5}, "seed", 1401),
        ({"guidance_scale": 0.5}, "guidance_scale", 1401),
        ({"guidance_scale": 20.5}, "guidance_scale", 1401),
        ({"guidance_scale": "3.5"}, "guidance_scale", 1401),
        ({"aspect_ratio": "5:4"}, "aspect_ratio", 1401),
        ({"aspect_ratio": None}, "aspect_ratio", 1401),
        ({"enable_sync_mode": "yes"}, "enable_sync_mode", 1401),
    ],
)
async def test_bad_field_is_http_400_naming_it(
    sim: RunningSimulator,
    session: aiohttp.ClientSession,
    change: Json,
    field: str,
    code: int,
) -> None:
    body = {**VALID, **change}
    if code == 1400:
        body = {k: v for k, v in body.items() if k != field}
    status, answer = await post_json(session, sim.url + SUBMIT, body)
    assert status == 400
    assert answer["code"] == code
    assert answer["data"] is None
    message = answer["message"]
    assert message.startswith(f"{field}: ")
    assert "expected" in message  # says what is allowed
    if code == 1401:
        assert "is not allowed" in message  # names the value
    assert sim.stats()["tasks_created"] == 0


async def test_every_problem_is_named_and_missing_wins_the_code(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    status, answer = await post_json(session, sim.url + SUBMIT, {"prompt": "", "seed": "x"})
    assert status == 400
    assert answer["code"] == 1400
    for name in ("images: missing", "prompt: ''", "seed: 'x'"):
        assert name in answer["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
async def test_body_that_is_not_an_object_is_400(
    sim: RunningSimulator, session: aiohttp.ClientSession, raw: bytes
) -> None:
    async with session.post(
        sim.url + SUBMIT, data=raw, headers={"Content-Type": "application/json"}
    ) as answer:
        assert answer.status == 400
        body = await answer.json()
    assert body["code"] == 1401
    assert body["message"].startswith("body: ")


async def test_unknown_fields_dropped_by_default_rejected_when_strict(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    lax = await make_sim()
    status, _ = await post_json(session, lax.url + SUBMIT, {**VALID, "num_images": 4})
    assert status == 200
    strict = await make_sim(reject_unknown_fields=True)
    status, answer = await post_json(session, strict.url + SUBMIT, {**VALID, "num_images": 4})
    assert status == 400
    assert answer["code"] == 1401
    assert answer["message"].startswith("num_images: ")
    assert strict.stats()["tasks_created"] == 0


# auth, balance, 404 ------------------------------------------------------------


async def test_api_key_required_when_set(make_sim: MakeSim, session: aiohttp.ClientSession) -> None:
    key = "sk-test-0123456789"
    sim = await make_sim(api_key=key)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}):
        for method, path in (("POST", SUBMIT), ("GET", contract.BALANCE_PATH)):
            async with session.request(
                method, sim.url + path, json=VALID, headers=headers
            ) as answer:
                assert answer.status == 401
                body = await answer.json()
                assert body["code"] == 401
                assert body["message"]
                assert key not in await answer.text()
    good = {"Authorization": f"Bearer {key}"}
    status, balance = await get_json(session, sim.url + contract.BALANCE_PATH, headers=good)
    assert status == 200
    assert balance["data"]["balance"] == 100.0
    status, _ = await post_json(session, sim.url + SUBMIT, VALID, headers=good)
    assert status == 200
    stats = sim.stats()
    assert stats["tasks_created"] == 1
    assert stats["answers"]["401"] == 6
    async with session.get(sim.url + "/_simulator/config") as answer:
        assert key not in await answer.text()


async def test_no_balance_is_403_and_creates_nothing(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(balance_usd=0.05)
    status, _ = await post_json(session, sim.url + SUBMIT, VALID)
    assert status == 200
    status, answer = await post_json(session, sim.url + SUBMIT, VALID)
    assert status == 403
    assert answer["code"] == 403
    assert "balance" in answer["message"].lower()
    status, answer = await get_json(session, sim.url + contract.BALANCE_PATH)
    assert status == 200
    assert answer == {
        "code": 200,
        "message": "success",
        "data": {"balance": pytest.approx(0.01)},
    }
    assert sim.stats()["tasks_created"] == 1


@pytest.mark.parametrize("path", [contract.RESULT_PATH, contract.PREDICTION_PATH])
async def test_unknown_prediction_is_404(
    sim: RunningSimulator, session: aiohttp.ClientSession, path: str
) -> None:
    status, answer = await get_json(session, sim.url + path.format(id="no-such-id"))
    assert status == 404
    assert answer["code"] == 404
    assert "no-such-id" in answer["message"]


async def test_unknown_route_is_json_404(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    status, answer = await get_json(session, sim.url + "/api/v3/nothing/here")
    assert status == 404
    assert answer["code"] == 404


# sync mode ---------------------------------------------------------------------


async def test_sync_mode_answers_the_finished_prediction(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    started = time.monotonic()
    answer = await submit(session, sim.url, [image], enable_sync_mode=True)
    assert answer["code"] == 200
    assert answer["data"]["status"] == "completed"
    assert len(answer["data"]["outputs"]) == 1
    assert time.monotonic() - started >= 0.04
    assert sim.stats()["polls"] == 0


@pytest.mark.parametrize("top_level", [False, True])
async def test_sync_mode_time_out_hands_over_to_polling(
    make_sim: MakeSim, session: aiohttp.ClientSession, top_level: bool
) -> None:
    # Default: the official SDK's shape (code 5004 in data); the switch: at the top level.
    sim = await make_sim(latency_s=0.8, sync_timeout_s=0.2, sync_timeout_code_top_level=top_level)
    image = await upload(session, sim.url, png_bytes())
    started = time.monotonic()
    status, answer = await post_json(
        session, sim.url + SUBMIT, {"prompt": "p", "images": [image], "enable_sync_mode": True}
    )
    assert 0.15 <= time.monotonic() - started < 0.7
    assert status == 200
    if top_level:
        assert answer["code"] == 5004
        assert "code" not in answer["data"]
    else:
        assert (answer["code"], answer["message"]) == (200, "success")
        assert answer["data"]["code"] == 5004
    assert answer["data"]["status"] == "processing"
    assert answer["data"]["error"].startswith("Sync mode timed out after 0.2 seconds")
    done = await wait_finished(session, answer["data"]["urls"]["get"])
    assert done["status"] == "completed"
    assert done["outputs"]
    assert sim.stats()["tasks_created"] == 1
