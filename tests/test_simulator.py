"""The offline simulator, over real TCP on 127.0.0.1 with plain aiohttp calls (no mocks)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from PIL import Image, ImageChops, ImageStat

import kontext_widgets
from kontext_widgets import contract
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer, create_app, serve
from kontext_widgets.simulator.render import render
from kontext_widgets.simulator.server import RunningSimulator

SUBMIT = contract.SUBMIT_PATH
ENVELOPE_DATA_KEYS = {
    "id",
    "model",
    "outputs",
    "urls",
    "has_nsfw_contents",
    "status",
    "created_at",
    "error",
    "timings",
}
FAST: dict[str, Any] = {"latency_s": 0.05, "output_long_side": 256}

Json = dict[str, Any]
MakeSim = Callable[..., Awaitable[RunningSimulator]]


# helpers ---------------------------------------------------------------------


def png_bytes(colour: str = "teal", size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    picture = Image.new("RGB", size, colour)
    # Some structure, so crops and placements show in the pixels.
    picture.paste(Image.new("RGB", (size[0] // 3, size[1] // 3), "yellow"), (10, 10))
    picture.save(buf, "PNG")
    return buf.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connecting is refused


async def post_json(
    session: aiohttp.ClientSession, url: str, body: object, **kwargs: Any
) -> tuple[int, Json]:
    async with session.post(url, json=body, **kwargs) as answer:
        return answer.status, await answer.json()


async def get_json(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Json]:
    async with session.get(url, **kwargs) as answer:
        return answer.status, await answer.json()


async def upload(session: aiohttp.ClientSession, base: str, data: bytes, **kwargs: Any) -> str:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="input.png", content_type="image/png")
    async with session.post(base + contract.UPLOAD_BINARY_PATH, data=form, **kwargs) as answer:
        assert answer.status == 200, await answer.text()
        url: str = (await answer.json())["data"]["download_url"]
    return url


async def submit(
    session: aiohttp.ClientSession, base: str, images: list[str], **fields: Any
) -> Json:
    body = {"prompt": "add a red hat", "images": images, **fields}
    status, answer = await post_json(session, base + SUBMIT, body)
    assert status == 200, answer
    return answer


async def wait_finished(
    session: aiohttp.ClientSession, get_url: str, timeout: float = 10.0
) -> Json:
    deadline = time.monotonic() + timeout
    while True:
        status, answer = await get_json(session, get_url)
        assert status == 200, answer
        if answer["data"]["status"] in ("completed", "failed"):
            return answer["data"]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"still {answer['data']['status']}"
        await asyncio.sleep(0.02)


async def run_to_end(
    session: aiohttp.ClientSession, base: str, images: list[str], **fields: Any
) -> Json:
    answer = await submit(session, base, images, **fields)
    return await wait_finished(session, answer["data"]["urls"]["get"])


async def fetch_bytes(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as answer:
        assert answer.status == 200, url
        return await answer.read()


# fixtures --------------------------------------------------------------------


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest_asyncio.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    started: list[RunningSimulator] = []

    async def make(**settings: Any) -> RunningSimulator:
        sim = await serve(SimulatorConfig(**{**FAST, **settings}))
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.close()


@pytest_asyncio.fixture
async def sim(make_sim: MakeSim) -> RunningSimulator:
    return await make_sim()


class Assets:
    """A second local server: images to fetch, junk, and a webhook receiver."""

    def __init__(self) -> None:
        self.url = ""
        self.hooks: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()


@pytest_asyncio.fixture
async def assets() -> AsyncIterator[Assets]:
    found = Assets()

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=png_bytes("purple"), content_type="image/png")

    async def junk(request: web.Request) -> web.Response:
        return web.Response(text="<html>not an image</html>", content_type="text/html")

    async def hook(request: web.Request) -> web.Response:
        await found.hooks.put((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/image.png", image)
    app.router.add_get("/junk.png", junk)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


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

VALID: Json = {"prompt": "add a hat", "images": ["http://127.0.0.1:9/a.png"]}


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


async def test_sync_mode_time_out_hands_over_to_polling(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(latency_s=0.8, sync_timeout_s=0.2)
    image = await upload(session, sim.url, png_bytes())
    started = time.monotonic()
    status, answer = await post_json(
        session, sim.url + SUBMIT, {"prompt": "p", "images": [image], "enable_sync_mode": True}
    )
    assert 0.15 <= time.monotonic() - started < 0.7
    assert status == 200
    assert answer["code"] == 5004
    assert answer["data"]["status"] == "processing"
    assert answer["data"]["error"].startswith("Sync mode timed out after 0.2 seconds")
    done = await wait_finished(session, answer["data"]["urls"]["get"])
    assert done["status"] == "completed"
    assert done["outputs"]
    assert sim.stats()["tasks_created"] == 1


# uploads -----------------------------------------------------------------------


async def test_binary_upload_roundtrip_and_refusals(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    data = png_bytes()
    url = await upload(session, sim.url, data)
    assert url.startswith(sim.url + "/")
    async with session.get(url) as answer:
        assert answer.status == 200
        assert answer.content_type == "image/png"
        assert await answer.read() == data

    form = aiohttp.FormData()
    form.add_field("file", b"plain text", filename="a.png", content_type="image/png")
    async with session.post(sim.url + contract.UPLOAD_BINARY_PATH, data=form) as answer:
        assert answer.status == 400
        assert (await answer.json())["code"] == 400

    form = aiohttp.FormData()
    form.add_field("other", data, filename="a.png", content_type="image/png")
    async with session.post(sim.url + contract.UPLOAD_BINARY_PATH, data=form) as answer:
        assert answer.status == 400

    big = data + b"\0" * (contract.MAX_UPLOAD_BYTES + 1 - len(data))
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(big), filename="big.png", content_type="image/png")
    async with session.post(sim.url + contract.UPLOAD_BINARY_PATH, data=form) as answer:
        assert answer.status == 413
        assert (await answer.json())["code"] == 413
    assert sim.stats()["uploads"] == 4


async def test_ticket_upload_flow(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    data = png_bytes("navy")
    ticket_url = sim.url + contract.UPLOAD_TICKET_PATH
    body = {"filename": "cat.png", "size": len(data), "content_type": "image/png"}
    status, answer = await post_json(session, ticket_url, body)
    assert status == 200
    assert answer["code"] == 200
    target, download = answer["data"]["upload"], answer["data"]["download_url"]
    assert target["method"] == "PUT"
    assert target["url"].startswith(sim.url + "/")
    assert target["headers"] == {"Content-Type": "image/png"}
    async with session.get(download) as early:
        assert early.status == 404  # nothing there before the PUT
    async with session.put(target["url"], data=data, headers=target["headers"]) as put:
        assert put.status == 200
    assert await fetch_bytes(session, download) == data
    async with session.put(target["url"], data=data, headers=target["headers"]) as again:
        assert again.status == 404  # a ticket is used once
    # The upload works as a task input.
    done = await run_to_end(session, sim.url, [download])
    assert done["status"] == "completed"


async def test_ticket_upload_refusals(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    ticket_url = sim.url + contract.UPLOAD_TICKET_PATH
    too_big = {
        "filename": "a.png",
        "size": contract.MAX_UPLOAD_BYTES + 1,
        "content_type": "image/png",
    }
    assert (await post_json(session, ticket_url, too_big))[0] == 413
    not_image = {"filename": "a.txt", "size": 10, "content_type": "text/plain"}
    assert (await post_json(session, ticket_url, not_image))[0] == 400
    assert (await post_json(session, ticket_url, {"filename": "a.png"}))[0] == 400

    ok = {"filename": "a.png", "size": 10, "content_type": "image/png"}
    _, answer = await post_json(session, ticket_url, ok)
    async with session.put(answer["data"]["upload"]["url"], data=b"0123456789") as put:
        assert put.status == 400  # ten bytes, but not an image
    _, answer = await post_json(session, ticket_url, ok)
    async with session.put(answer["data"]["upload"]["url"], data=png_bytes()) as put:
        assert put.status == 413  # more than the ten bytes announced
    stats = sim.stats()
    assert stats["uploads"] == 5
    assert stats["puts"] == 2


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
    assert sim.stats()["tasks"] == {"created": 1, "processing": 1, "completed": 0, "failed": 0}
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


# input media -------------------------------------------------------------------


async def test_unreachable_url_fails_with_1402(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/gone.png"
    done = await run_to_end(session, sim.url, [url])
    assert done["status"] == "failed"
    assert done["code"] == 1402
    assert url in done["error"]


async def test_remote_images_fetched_and_junk_is_1402(
    sim: RunningSimulator, session: aiohttp.ClientSession, assets: Assets
) -> None:
    done = await run_to_end(session, sim.url, [assets.url + "/image.png"])
    assert done["status"] == "completed"
    done = await run_to_end(session, sim.url, [assets.url + "/junk.png"])
    assert done["status"] == "failed"
    assert done["code"] == 1402
    done = await run_to_end(session, sim.url, [assets.url + "/missing.png"])
    assert done["status"] == "failed"
    assert "404" in done["error"]


async def test_remote_fetch_off_allows_only_loopback_and_own_media(
    make_sim: MakeSim, session: aiohttp.ClientSession, assets: Assets
) -> None:
    sim = await make_sim(allow_remote_fetch=False)
    own = await upload(session, sim.url, png_bytes())
    assert (await run_to_end(session, sim.url, [own]))["status"] == "completed"
    assert (await run_to_end(session, sim.url, [assets.url + "/image.png"]))[
        "status"
    ] == "completed"
    done = await run_to_end(session, sim.url, ["https://example.com/cat.png"])
    assert done["status"] == "failed"
    assert done["code"] == 1402
    assert "allow_remote_fetch" in done["error"]


async def test_an_output_can_be_the_next_input(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    first = await run_to_end(session, sim.url, [image])
    second = await run_to_end(session, sim.url, [first["outputs"][0], image], prompt="again")
    assert second["status"] == "completed"


# images ------------------------------------------------------------------------


def _render(**changes: Any) -> bytes:
    arguments: Json = {
        "prompt": "add a red hat",
        "seed": 1,
        "guidance_scale": 3.5,
        "aspect_ratio": "1:1",
        "long_side": 256,
        **changes,
    }
    images = arguments.pop("images", [png_bytes()])
    return render(images, **arguments)


def test_render_is_deterministic_and_every_parameter_shows() -> None:
    base = _render()
    assert base == _render()
    assert base != _render(seed=2)
    assert base != _render(guidance_scale=4.0)
    assert base != _render(aspect_ratio="16:9")
    assert base != _render(images=[png_bytes("maroon")])
    assert base != _render(images=[png_bytes(), png_bytes("orange")])


def _middle(png: bytes) -> Image.Image:
    """The picture without the label, caption and prompt bands."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = picture.size
    return picture.crop((0, height // 4, width, height * 3 // 4))


def _difference(a: bytes, b: bytes) -> float:
    diff = ImageChops.difference(_middle(a), _middle(b))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_seed_and_guidance_change_the_picture_not_just_the_caption() -> None:
    assert _difference(_render(seed=1), _render(seed=2)) > 10
    assert _difference(_render(guidance_scale=2.0), _render(guidance_scale=12.0)) > 5
    spread = [
        sum(ImageStat.Stat(_middle(_render(guidance_scale=g))).stddev) for g in (1.0, 3.5, 20.0)
    ]
    assert spread == sorted(spread)  # more guidance, more contrast
    assert spread[2] > spread[0] * 1.5


def test_render_draws_the_prompt_and_the_label() -> None:
    with_prompt = Image.open(io.BytesIO(_render(prompt="add a red hat")))
    without = Image.open(io.BytesIO(_render(prompt=" ")))
    width, height = with_prompt.size
    bottom = (0, height * 3 // 4, width, height)
    assert with_prompt.crop(bottom).tobytes() != without.crop(bottom).tobytes()

    # The label band at the top: red, with a lot of white lettering in it.
    band = with_prompt.convert("RGB").crop((0, 0, width, height // 8))
    raw = band.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    white = sum(1 for r, g, b in pixels if min(r, g, b) > 230)
    reddish = sum(1 for r, g, b in pixels if r > 120 and g < 60 and b < 60)
    assert white > len(pixels) * 0.05
    assert reddish > len(pixels) * 0.3


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1:1", (1024, 1024)), ("16:9", (1024, 576)), ("9:16", (576, 1024)), (None, (1024, 688))],
)
def test_render_sizes(ratio: str | None, size: tuple[int, int]) -> None:
    picture = Image.open(io.BytesIO(_render(aspect_ratio=ratio, long_side=1024)))
    assert picture.size == size


def test_render_is_fast_enough() -> None:
    data = png_bytes(size=(1600, 1200))
    render([data], prompt="p", seed=0, guidance_scale=3.5, aspect_ratio="1:1")  # warm up
    started = time.perf_counter()
    for seed in range(3):
        render([data], prompt="p", seed=seed, guidance_scale=3.5, aspect_ratio="1:1")
    assert (time.perf_counter() - started) / 3 < 0.5  # generous: shared CI machines


async def test_same_request_same_output_bytes_across_simulators(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    async def output(sim: RunningSimulator, seed: int) -> bytes:
        image = await upload(session, sim.url, png_bytes())
        done = await run_to_end(session, sim.url, [image], seed=seed, guidance_scale=5.0)
        return await fetch_bytes(session, done["outputs"][0])

    first, second = await make_sim(), await make_sim()
    assert await output(first, 42) == await output(second, 42)
    assert await output(first, 42) != await output(first, 43)


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
    assert gone["data"]["deleted"] == [older["id"]]
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
            "tasks": {"created": 0, "processing": 0, "completed": 0, "failed": 0},
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
