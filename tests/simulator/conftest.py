"""Fixtures of the simulator tests: simulators in this loop, a session, a second server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from kontext_widgets.simulator import SimulatorConfig, serve
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    FAST,
    Assets,
    MakeSim,
    png_bytes,
)

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
