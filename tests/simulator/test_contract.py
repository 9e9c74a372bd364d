"""The documented behaviours the simulator follows: every status, retention, the
images-per-minute limit, the list's page and filters, delete's count, webhook input."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import aiohttp
import pytest

from kontext_widgets import contract
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    SUBMIT,
    VALID,
    Assets,
    MakeSim,
    fetch_bytes,
    get_json,
    png_bytes,
    post_json,
    run_to_end,
    submit,
    upload,
)

LIST = "/api/v3/predictions"


# every status ---------------------------------------------------------------------


@pytest.mark.parametrize("end", ["cancelled", "timeout", "deleted"])
async def test_a_directive_ends_the_task_with_any_documented_status(
    sim: RunningSimulator, session: aiohttp.ClientSession, end: str
) -> None:
    image = await upload(session, sim.url, png_bytes())
    answer = await submit(session, sim.url, [image], prompt=f"p [simulate:status={end}]")
    url = answer["data"]["urls"]["get"]
    while True:
        status, polled = await get_json(session, url)
        assert status == 200
        if polled["data"]["status"] not in ("created", "processing"):
            break
        await asyncio.sleep(0.02)
    data = polled["data"]
    assert data["status"] == end
    assert data["outputs"] == []
    assert data["has_nsfw_contents"] == []
    assert end in data["error"] or "timed out" in data["error"]
    assert sim.stats()["tasks"][end] == 1
    async with session.get(f"{sim.url}/media/outputs/{data['id']}/output.png") as output:
        assert output.status == 404


async def test_a_sync_submit_answers_the_ended_status(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    image = await upload(session, sim.url, png_bytes())
    answer = await submit(
        session, sim.url, [image], prompt="p [simulate:status=cancelled]", enable_sync_mode=True
    )
    assert answer["data"]["status"] == "cancelled"


async def test_unknown_end_status_is_400(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    status, answer = await post_json(
        session, sim.url + SUBMIT, {**VALID, "prompt": "p [simulate:status=paused]"}
    )
    assert status == 400
    assert "status='paused'" in answer["message"]
    assert "cancelled, timeout, deleted" in answer["message"]


async def test_the_control_route_ends_a_running_or_finished_task(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(latency_s=30.0)
    image = await upload(session, sim.url, png_bytes())
    running = (await submit(session, sim.url, [image]))["data"]
    end = f"{sim.url}/_simulator/tasks/{running['id']}/end"
    status, ended = await post_json(session, end, {"status": "cancelled"})
    assert (status, ended) == (200, {"id": running["id"], "status": "cancelled"})
    _, polled = await get_json(session, running["urls"]["get"])
    assert polled["data"]["status"] == "cancelled"

    sim.configure(latency_s=0.05)
    done = await run_to_end(session, sim.url, [image])
    assert await fetch_bytes(session, done["outputs"][0])
    status, _ = await post_json(
        session, f"{sim.url}/_simulator/tasks/{done['id']}/end", {"status": "deleted"}
    )
    assert status == 200
    _, polled = await get_json(session, done["urls"]["get"])
    assert (polled["data"]["status"], polled["data"]["outputs"]) == ("deleted", [])
    async with session.get(done["outputs"][0]) as output:
        assert output.status == 404

    status, error = await post_json(session, end, {"status": "paused"})
    assert status == 400
    assert "expected one of cancelled, timeout, deleted" in error["error"]
    missing = f"{sim.url}/_simulator/tasks/{'0' * 32}/end"
    assert (await post_json(session, missing, {"status": "timeout"}))[0] == 404


# retention --------------------------------------------------------------------------


async def test_predictions_outputs_and_uploads_expire(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(retention_s=0.6)
    image = await upload(session, sim.url, png_bytes())
    done = await run_to_end(session, sim.url, [image])
    assert (await get_json(session, done["urls"]["get"]))[0] == 200
    await asyncio.sleep(0.7)
    status, answer = await get_json(session, done["urls"]["get"])
    assert status == 404
    assert done["id"] in answer["message"]
    for url in (done["outputs"][0], image):
        async with session.get(url) as gone:
            assert gone.status == 404, url
    _, listing = await post_json(session, sim.url + LIST, {})
    assert listing["data"]["total"] == 0
    # Gone from disk too, not only from the answers.
    assert not list((sim.storage_dir / "outputs").iterdir())
    assert not list((sim.storage_dir / "uploads").iterdir())
    # An expired upload is no longer an input.
    failed = await run_to_end(session, sim.url, [image])
    assert (failed["status"], failed["code"]) == ("failed", 1402)


def test_retention_is_checked() -> None:
    from kontext_widgets.simulator import SimulatorConfig

    assert SimulatorConfig().retention_s == 7 * 24 * 3600
    with pytest.raises(ValueError, match="retention_s"):
        SimulatorConfig(retention_s=0)
    with pytest.raises(ValueError, match="images_per_minute"):
        SimulatorConfig(images_per_minute=0)


# images per minute -----------------------------------------------------------------


async def test_the_images_per_minute_limit_answers_429(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim(images_per_minute=2)
    for _ in range(2):
        assert (await post_json(session, sim.url + SUBMIT, VALID))[0] == 200
    async with session.post(sim.url + SUBMIT, json=VALID) as answer:
        assert answer.status == 429
        body = await answer.json()
        wait = int(answer.headers["Retry-After"])
    assert body["code"] == 429
    assert "2 images a minute" in body["message"]
    assert 55 <= wait <= 60
    stats = sim.stats()
    assert stats["tasks_created"] == 2
    assert stats["balance_usd"] == pytest.approx(100 - 2 * contract.PRICE_PER_IMAGE_USD)
    sim.configure(images_per_minute=None)
    assert (await post_json(session, sim.url + SUBMIT, VALID))[0] == 200


async def test_the_limit_is_off_by_default(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    statuses = [(await post_json(session, sim.url + SUBMIT, VALID))[0] for _ in range(5)]
    assert statuses == [200] * 5


# the list and delete ----------------------------------------------------------------


async def test_the_list_pages_100_by_default_and_filters(
    make_sim: MakeSim, session: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    image = await upload(session, sim.url, png_bytes())
    failed = await run_to_end(session, sim.url, [image], prompt="p [simulate:fail=5003]")
    time.sleep(0.01)
    middle = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    done = [await run_to_end(session, sim.url, [image]) for _ in range(2)]

    async def ids(**body: object) -> list[str]:
        status, answer = await post_json(session, sim.url + LIST, body)
        assert status == 200, answer
        assert set(answer["data"]) >= {"page", "total", "items"}
        return [p["id"] for p in answer["data"]["items"]]

    _, everything = await post_json(session, sim.url + LIST, {})
    assert (everything["data"]["page"], everything["data"]["page_size"]) == (1, 100)
    assert everything["data"]["total"] == 3
    assert await ids() == [done[1]["id"], done[0]["id"], failed["id"]]
    assert await ids(status="failed") == [failed["id"]]
    assert await ids(status="completed", page_size=1, page=2) == [done[0]["id"]]
    assert await ids(model=contract.MODEL, status="completed") == [d["id"] for d in done[::-1]]
    assert await ids(model="wavespeed-ai/flux-kontext-max/multi") == []
    after = middle.isoformat().replace("+00:00", "Z")
    assert await ids(created_after=after) == [done[1]["id"], done[0]["id"]]
    assert await ids(created_before=after) == [failed["id"]]
    assert await ids(created_before=middle.replace(tzinfo=None).isoformat()) == [failed["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page": 0}, "page"),
        ({"status": "sleeping"}, "status"),
        ({"model": 3}, "model"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": 1700000000}, "created_before"),
    ],
)
async def test_bad_list_filters_are_400_naming_them(
    sim: RunningSimulator, session: aiohttp.ClientSession, body: dict[str, object], field: str
) -> None:
    status, answer = await post_json(session, sim.url + LIST, body)
    assert status == 400
    assert answer["message"].startswith(f"{field}: ")
    assert "expected" in answer["message"]


async def test_delete_answers_the_count(
    sim: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    ids = [(await submit(session, sim.url, VALID["images"]))["data"]["id"] for _ in range(3)]
    status, answer = await post_json(
        session, sim.url + LIST + "/delete", {"ids": [*ids[:2], ids[0], "unknown"]}
    )
    assert (status, answer["data"]) == (200, {"deleted_count": 2})
    _, listing = await post_json(session, sim.url + LIST, {})
    assert [p["id"] for p in listing["data"]["items"]] == [ids[2]]
    assert (await post_json(session, sim.url + LIST + "/delete", {"ids": "x"}))[0] == 400


# webhooks ---------------------------------------------------------------------------


async def test_webhook_bodies_carry_the_input(
    sim: RunningSimulator, session: aiohttp.ClientSession, assets: Assets
) -> None:
    image = await upload(session, sim.url, png_bytes())
    sent = {"prompt": "p", "images": [image], "seed": -1, "guidance_scale": 2.5, "extra": 1}
    status, _ = await post_json(
        session, sim.url + SUBMIT, {**sent, "webhook_url": assets.url + "/hook"}
    )
    assert status == 200
    _, body = await asyncio.wait_for(assets.hooks.get(), 10)
    posted = json.loads(body)
    assert posted["status"] == "completed"
    # As accepted: unknown keys dropped (as the service does), the seed as sent.
    assert posted["input"] == {k: v for k, v in sent.items() if k != "extra"}


def test_files_stay_inside_the_media_directory(tmp_path: Path) -> None:
    from kontext_widgets.simulator.storage import MediaStore

    store = MediaStore(str(tmp_path))
    token = store.save_upload(b"x", "../../a.png", "image/png")
    assert store.upload(token) is not None
    assert store.upload("../../etc/passwd") is None
    assert store.upload(token, max_age_s=0.0) is None  # older than no time at all
    store.close()
    assert (tmp_path / "media" / "uploads" / token).is_file()  # a given directory is kept
