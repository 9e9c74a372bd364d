"""Hostile or broken answers: each is refused or timed out with a clear message, nothing partial
reaches the store.

Two kinds of hostile server, both real TCP on 127.0.0.1: the simulator with its hostile-output
directives (``[simulate:not_image]``, ``bomb``, ``huge``, ``stall``, ``cut``, ``redirect=...``,
see ``kontext_widgets/simulator/directives.py``), and tiny aiohttp apps written here for what a
simulator never does (lie about Content-Length, gzip bombs, stall or cut a JSON answer).
"""

from __future__ import annotations

import asyncio
import re
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import kontext_widgets as kw
from kontext_widgets import (
    Client,
    KontextRequest,
    ProtocolError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    Status,
    SubmitOutcomeUnknownError,
    Timeouts,
)
from kontext_widgets.client import MAX_OUTPUT_PIXELS
from kontext_widgets.client.redirects import next_hop as _redirect_target
from kontext_widgets.contract import RESULT_PATH, SUBMIT_PATH
from kontext_widgets.engine.cells import task_key
from kontext_widgets.simulator import SimulatorServer

from ..conftest import MakeSimulator, png_bytes

FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02, max_retry_after_s=0.02)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def tiny_server(routes: dict[tuple[str, str], Handler]) -> AsyncIterator[str]:
    """An aiohttp app on 127.0.0.1 answering ``routes``; yields its base URL."""
    app = web.Application()
    for (method, path), handler in routes.items():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def client_for(server: SimulatorServer | str, **options: Any) -> Client:
    options.setdefault("retry", FAST)
    url = server if isinstance(server, str) else server.url
    return Client(base_url=url, **options)


async def run_hostile(server: SimulatorServer, directive: str, **options: Any) -> Exception:
    """Run one prediction whose output is served as ``directive`` asks; return what it raised."""
    async with client_for(server, **options) as client:
        with pytest.raises(Exception) as info:  # noqa: PT011 - the type is asserted by callers
            await client.run(prompt=f"x [simulate:{directive}]", images=[png_bytes()], seed=1)
    return info.value


# --------------------------------------------------------------------------- output URLs


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/o.png",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "http:///no-host.png",
        "//127.0.0.1/o.png",
        "",
    ],
)
async def test_output_url_that_is_not_http_is_refused_before_any_io(
    simulator: SimulatorServer, url: str
) -> None:
    before = simulator.stats()["answers"]
    async with client_for(simulator) as client:
        with pytest.raises(ProtocolError, match=r"not an http\(s\) URL; refusing"):
            await client.download(url)
    assert simulator.stats()["answers"] == before


@pytest.mark.parametrize("kind", ["ftp", "file", "data", "javascript", "nohost"])
async def test_redirect_to_another_scheme_or_no_host_is_refused(
    simulator: SimulatorServer, kind: str
) -> None:
    err = await run_hostile(simulator, f"redirect={kind}")
    assert isinstance(err, ProtocolError)
    assert "redirected to" in str(err)
    assert "refusing to follow it" in str(err)
    assert simulator.stats()["faults"]["output_redirect"] == 1  # refused at once, not retried


async def test_redirect_loop_gives_up_clearly(simulator: SimulatorServer) -> None:
    err = await run_hostile(simulator, "redirect=loop")
    assert isinstance(err, ProtocolError)
    assert "more than 5 redirects" in str(err)
    assert simulator.stats()["faults"]["output_redirect"] == 6


async def test_a_good_redirect_is_followed(simulator: SimulatorServer) -> None:
    async with client_for(simulator) as client:
        p = await client.run(prompt="x [simulate:redirect=ok]", images=[png_bytes()], seed=1)
    assert p.status is Status.COMPLETED
    assert p.images[0].to_pil().size[0] > 0


def test_redirect_from_https_to_http_is_a_refused_downgrade() -> None:
    # The simulator speaks plain http only, so the downgrade is checked on the hop rule itself.
    start = "https://cdn.example/o.png"
    assert _redirect_target(start, start, "/p.png") == "https://cdn.example/p.png"
    assert _redirect_target(start, start, "//cdn2.example/p") == "https://cdn2.example/p"
    with pytest.raises(ProtocolError, match="not an http"):
        _redirect_target(start, start, "https:///p.png")
    with pytest.raises(ProtocolError, match="from https to plain http"):
        _redirect_target(start, start, "http://cdn.example/o.png")
    with pytest.raises(ProtocolError, match="without a Location"):
        _redirect_target(start, start, None)


async def test_redirects_never_carry_the_key(make_simulator: MakeSimulator) -> None:
    """The service's own routes never follow a redirect, so the key cannot be led elsewhere."""
    seen: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"code": 200, "data": {"balance": 1.0}})

    async with tiny_server({("GET", "/steal"): elsewhere}) as thief:

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=307, headers={"Location": thief + "/steal"})

        async with (
            tiny_server({("GET", "/api/v3/balance"): redirect}) as service,
            Client(api_key="k-redirect-secret", base_url=service, retry=FAST) as client,
        ):
            with pytest.raises(kw.ServiceError):
                await client.balance()
    assert seen == []


# --------------------------------------------------------------------------- bodies


async def test_a_body_that_is_not_an_image_is_refused(simulator: SimulatorServer) -> None:
    err = await run_hostile(simulator, "not_image")
    assert isinstance(err, ProtocolError)
    assert "did not return a readable image" in str(err)
    assert "<!doctype html>" in str(err)  # what came instead, shortened


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    async def liar(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.content_length = 10**12
        await response.prepare(request)
        await response.write(b"\x89PNG\r\n\x1a\n")
        await asyncio.sleep(30)  # never sends the rest: only the header can be judged
        return response

    async with tiny_server({("GET", "/o.png"): liar}) as url, client_for(url) as client:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match=r"is 1000000000000 bytes; the limit is 67108864"):
            await client.download(url + "/o.png")
    assert time.monotonic() - started < 5


async def test_a_chunked_body_without_length_is_cut_at_the_cap(simulator: SimulatorServer) -> None:
    tracemalloc.start()
    try:
        started = time.monotonic()
        err = await run_hostile(simulator, "huge=512", max_download_bytes=4 * 1024 * 1024)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err, ProtocolError)
    assert "over the 4194304-byte limit; stopped reading" in str(err)
    assert "max_download_bytes" in str(err)
    assert elapsed < 10  # stopped early, never read 512 MB
    assert peak < 40 * 1024 * 1024


async def test_the_default_cap_holds_against_an_endless_body(simulator: SimulatorServer) -> None:
    err = await run_hostile(simulator, "huge=4096")
    assert isinstance(err, ProtocolError)
    assert "over the 67108864-byte limit" in str(err)


async def test_a_gzip_bomb_is_counted_decompressed() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(256)) + packer.flush()
    assert len(bomb) < 512 * 1024  # 256 MB of zeros in about 256 kB

    async def gzip_bomb(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    tracemalloc.start()
    try:
        async with (
            tiny_server({("GET", "/o.png"): gzip_bomb}) as url,
            client_for(url, max_download_bytes=1 << 20) as client,
        ):
            with pytest.raises(ProtocolError, match="over the 1048576-byte limit"):
                await client.download(url + "/o.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024


@pytest.mark.parametrize(
    ("directive", "options", "expected"),
    [
        # 8000x8000: under Pillow's own thresholds, so only our header check refuses it.
        ("bomb", {}, r"8000×8000 pixels \(64 megapixels; the limit is 50\)"),
        # ~100 MP is where Pillow only warns: the warning must become a refusal.
        ("bomb=100", {"max_output_pixels": 10**12}, "decompression bomb"),
        # Over twice Pillow's limit it raises DecompressionBombError itself.
        ("bomb=225", {"max_output_pixels": 10**12}, "decompression bomb"),
        ("bomb=225", {}, "decompression bomb"),
    ],
)
async def test_decompression_bombs_are_refused_from_the_header(
    simulator: SimulatorServer, directive: str, options: dict[str, Any], expected: str
) -> None:
    tracemalloc.start()
    try:
        err = await run_hostile(simulator, directive, **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err, ProtocolError), err
    assert type(err) is ProtocolError  # not a Pillow exception or warning
    assert pytest.approx(MAX_OUTPUT_PIXELS) == 50_000_000
    assert re.search(expected, str(err)), str(err)
    # Never decoded: decoding 64-225 MP would allocate 64-225 MB (the simulator, in this
    # process too, only reads a file of ~30 KB).
    assert peak < 48 * 1024 * 1024


# --------------------------------------------------------------------------- stalls


async def test_a_download_stalled_mid_body_times_out_on_the_read_timeout(
    simulator: SimulatorServer,
) -> None:
    started = time.monotonic()
    err = await run_hostile(
        simulator, "stall", timeouts=Timeouts(read_s=0.3, download_s=30), retry=FAST
    )
    elapsed = time.monotonic() - started
    assert isinstance(err, RequestTimeoutError), err
    assert "timed out" in str(err)
    assert "no data for 0.3 s mid-answer" in str(err)
    assert "gave up after 3 tries" in str(err)
    assert simulator.stats()["faults"]["output_stall"] == 3
    assert elapsed < 5


async def test_a_download_stalled_mid_body_times_out_on_the_total_timeout(
    simulator: SimulatorServer,
) -> None:
    err = await run_hostile(
        simulator,
        "stall",
        timeouts=Timeouts(read_s=60, download_s=0.4),
        retry=RetryPolicy(attempts=1),
    )
    assert isinstance(err, RequestTimeoutError), err
    assert "no answer within 0.4 s" in str(err)


def _stalling(prefix: bytes) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(prefix) + 100
        await response.prepare(request)
        await response.write(prefix)
        await asyncio.sleep(30)
        return response

    return handler


async def test_a_poll_stalled_mid_body_times_out_clearly() -> None:
    routes = {("GET", RESULT_PATH.format(id="{id}")): _stalling(b'{"code": 200, "da')}
    async with (
        tiny_server(routes) as url,
        client_for(url, timeouts=Timeouts(read_s=0.2)) as client,
    ):
        with pytest.raises(RequestTimeoutError, match=r"GET http://127\.0\.0\.1:\d+ timed out"):
            await client.get("abc123")


async def test_a_submit_stalled_mid_body_is_an_unknown_outcome_never_resent() -> None:
    calls = 0

    async def submit(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return await _stalling(b'{"code": 200, "data": {"id": "a')(request)

    async with (
        tiny_server({("POST", SUBMIT_PATH): submit}) as url,
        client_for(url, timeouts=Timeouts(read_s=0.2)) as client,
    ):
        request = KontextRequest.build(prompt="x", images=["https://example.com/a.png"], seed=4)
        with pytest.raises(SubmitOutcomeUnknownError, match="timed out") as info:
            await client.submit(request)
    assert info.value.payload["seed"] == 4
    assert calls == 1


# --------------------------------------------------------------------------- cut connections


async def test_a_connection_cut_during_submit_is_never_resent(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(drop_rate=1.0)
    async with client_for(server) as client:
        with pytest.raises(SubmitOutcomeUnknownError, match="connection closed by the server"):
            await client.run(prompt="x", images=["https://example.com/a.png"])
    stats = server.stats()
    assert stats["submits"] == 1
    assert stats["tasks_created"] == 1  # it did exist: exactly why it must not be resent


async def test_a_connection_cut_mid_answer_during_submit_is_never_resent() -> None:
    calls = 0

    async def submit(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        response = web.StreamResponse()
        response.content_length = 500
        await response.prepare(request)
        await response.write(b'{"code": 200, "data": {"id": "half')
        assert request.transport is not None
        request.transport.abort()
        return response

    async with tiny_server({("POST", SUBMIT_PATH): submit}) as url, client_for(url) as client:
        request = KontextRequest.build(prompt="x", images=["https://example.com/a.png"])
        with pytest.raises(SubmitOutcomeUnknownError, match="not resent"):
            await client.submit(request)
    assert calls == 1


async def test_connections_cut_during_polls_are_retried_then_reported(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(latency_s=0.3)
    async with client_for(server) as client:
        created = await client.submit(KontextRequest.build(prompt="x", images=[png_bytes()]))
        server.configure(drop_rate=1.0)
        with pytest.raises(ServerError) as info:
            await client.wait(created.id)
        message = str(info.value)
        assert "connection closed by the server without an answer" in message
        assert "gave up after 3 tries" in message
        # 3 tries; aiohttp itself may resend a GET once on a kept-alive connection found closed.
        assert 3 <= server.stats()["dropped"] <= 6
        server.configure(drop_rate=0.0)
        done = await client.wait(created.id)  # the task was never lost: resume by id
    assert done.status is Status.COMPLETED


async def test_a_poll_cut_now_and_then_still_completes(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_s=0.3, random_seed=3)
    retry = RetryPolicy(attempts=8, base_s=0.01, cap_s=0.02)
    async with client_for(server, retry=retry) as client:
        created = await client.submit(KontextRequest.build(prompt="x", images=[png_bytes()]))
        server.configure(drop_rate=0.5)
        done = await client.wait(created.id)
    assert done.status is Status.COMPLETED
    assert server.stats()["dropped"] >= 1


async def test_a_download_cut_mid_body_is_retried_then_succeeds(
    simulator: SimulatorServer,
) -> None:
    async with client_for(simulator) as client:
        p = await client.run(prompt="x [simulate:cut=2]", images=[png_bytes()], seed=1)
    assert p.status is Status.COMPLETED
    assert simulator.stats()["faults"]["output_cut"] == 3  # two cut, the third whole
    assert p.images[0].to_pil().size[0] > 0


async def test_a_download_cut_every_time_gives_up_clearly(simulator: SimulatorServer) -> None:
    err = await run_hostile(simulator, "cut")
    assert isinstance(err, ServerError), err
    assert "cut off mid-body" in str(err) or "closed by the server" in str(err)
    assert "gave up after 3 tries" in str(err)


# --------------------------------------------------------------------------- malformed JSON


def _answer(body: bytes, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    return handler


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>502 Bad Gateway</html>", r"is not JSON; it starts with '<html>502"),
        (b"[" * 200_000, "is not JSON"),  # deeper than the recursion limit
        (b"1" * 10_000, "is not JSON"),  # an int too long to convert
        (b"null", "expected a JSON object with 'data', got null"),
        (b'{"code": 200, "data": []}', "no 'data' object"),
        (b'{"data": {"id": "../../etc", "status": "completed"}}', "no valid 'id'"),
        (b'{"data": {"id": "a", "status": "' + b"z" * 1_000_000 + b'"}}', "unknown status"),
        (b'{"data": {"id": "a", "status": "completed", "outputs": "x"}}', "malformed outputs"),
    ],
)
async def test_malformed_poll_answers_are_protocol_errors(body: bytes, expected: str) -> None:
    routes = {("GET", RESULT_PATH.format(id="{id}")): _answer(body)}
    async with tiny_server(routes) as url, client_for(url) as client:
        with pytest.raises(ProtocolError) as info:
            await client.get("abc123")
    assert re.search(expected, str(info.value)), str(info.value)
    assert str(info.value).startswith("poll of abc123")
    assert len(str(info.value)) < 600  # a huge answer never makes a huge message


async def test_a_malformed_submit_answer_is_an_unknown_outcome() -> None:
    routes = {("POST", SUBMIT_PATH): _answer(b"[" * 200_000)}
    async with tiny_server(routes) as url, client_for(url) as client:
        request = KontextRequest.build(prompt="x", images=["https://example.com/a.png"])
        with pytest.raises(SubmitOutcomeUnknownError, match="unreadable answer: submit"):
            await client.submit(request)


async def test_a_balance_that_is_not_a_sane_number_is_refused() -> None:
    routes = {("GET", "/api/v3/balance"): _answer(b'{"code":200,"data":{"balance":1e999}}')}
    async with tiny_server(routes) as url, client_for(url) as client:
        with pytest.raises(ProtocolError, match="no number"):
            await client.balance()


# --------------------------------------------------------------------------- the store


@pytest.mark.slow
async def test_nothing_partial_reaches_the_store(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0, output_long_side=64)
    hostile = ["not_image", "bomb", "huge=64", "cut", "stall", "redirect=ftp", "redirect=loop"]
    prompts = ["fine"] + [f"x [simulate:{d}]" for d in hostile]
    options: dict[str, Any] = {
        "max_download_bytes": 2 * 1024 * 1024,
        "timeouts": Timeouts(read_s=0.3),
        "retry": RetryPolicy(attempts=2, base_s=0.01, cap_s=0.02),
    }
    async with client_for(server, **options) as client:
        result = await kw.sweep(
            prompt=prompts,
            images=[png_bytes()],
            seed=1,
            client=client,
            store=tmp_path,
            progress=False,
        )
        keys = [task_key(cell, client) for cell in result.plan.cells]
    by_prompt = {o.coords["prompt"]: o for o in result.outcomes}
    assert by_prompt["fine"].state == "done"
    for prompt in prompts[1:]:
        outcome = by_prompt[prompt]
        assert outcome.state == "failed", prompt
        assert outcome.error, prompt
        assert not outcome.outputs
    # Exactly one image on disk (the good one), no temporary files, no half records.
    files = [p for p in (tmp_path / "images").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{by_prompt['fine'].outputs[0]}.png"]
    records = result.store.tasks(keys)
    assert records[keys[0]].state == "completed"
    for key in keys[1:]:
        assert records[key].state != "completed"
        assert records[key].outputs == ()
    assert len(result.export_images(tmp_path / "export")) == 1
