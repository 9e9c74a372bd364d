"""The simulator's uploads (both flows) and how it gets input images."""

from __future__ import annotations

import io

import aiohttp

from kontext_widgets import contract
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    Assets,
    MakeSim,
    closed_port,
    fetch_bytes,
    png_bytes,
    post_json,
    run_to_end,
    upload,
)

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
