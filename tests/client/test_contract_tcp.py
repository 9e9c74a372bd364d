"""Issue 12 over real TCP: polling etiquette, every status, markers, redaction, bounded answers.

Tiny aiohttp apps stand in where a test needs an answer the simulator never gives (a key echoed
back, over-size answers); tests/client/test_simulator_statuses_tcp.py runs the statuses against
the simulator.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import kontext_widgets as kw
from kontext_widgets import (
    Client,
    InvalidRequestError,
    KontextRequest,
    PollPolicy,
    ProtocolError,
    RetryPolicy,
    Status,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from kontext_widgets.contract import MODEL, RESULT_PATH, SUBMIT_PATH
from kontext_widgets.store import Store

from ..conftest import MakeSimulator, png_bytes
from ..hardening.test_hostile import tiny_server

FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02, max_retry_after_s=0.05)
RESULT_ROUTE = RESULT_PATH.format(id="{id}")
ALIAS = "kontext-sim.test"
HOSTS = Path("/etc/hosts")
MARK = "# kontext-widgets test alias"


def gaps(client: Client) -> list[float]:
    times = client.poll_times or {}
    return [b - a for polls in times.values() for a, b in itertools.pairwise(polls)]


@pytest.fixture
def remote_name() -> Iterator[str | None]:
    """``kontext-sim.test`` as an /etc/hosts alias of 127.0.0.1 (removed after the test).

    Yields None where /etc/hosts cannot be written: the test then forces the remote
    schedule on 127.0.0.1 instead (the name rule itself is tested in test_polling.py).
    """
    try:
        original = HOSTS.read_text()
        HOSTS.write_text(original.rstrip("\n") + f"\n127.0.0.1 {ALIAS} {MARK}\n")
    except OSError:
        yield None
        return
    try:
        yield ALIAS
    finally:
        kept = [line for line in HOSTS.read_text().splitlines() if MARK not in line]
        HOSTS.write_text("\n".join(kept) + "\n")


def remote_client(server: Any, name: str | None, **options: Any) -> Client:
    if name is None:
        options["poll"] = PollPolicy.remote()
        return Client(base_url=server.url, **options)
    port = server.url.rsplit(":", 1)[1]
    return Client(base_url=f"http://{name}:{port}", **options)


# --------------------------------------------------------------------------- polling etiquette


async def test_a_remote_name_is_never_polled_twice_within_2_s_and_starts_warm_from_the_store(
    make_simulator: MakeSimulator, remote_name: str | None, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.3)
    store = Store(tmp_path)
    cold = remote_client(server, remote_name, max_concurrency=3, durations=store)
    assert cold.poll.polite
    cold.poll_times = {}
    async with cold:
        done = await asyncio.gather(
            *(cold.run(prompt="x", images=[png_bytes()], seed=s) for s in range(3))
        )
    assert all(p.status is Status.COMPLETED for p in done)
    assert all(g >= 2.0 for g in gaps(cold)), gaps(cold)
    assert sum(len(t) for t in cold.poll_times.values()) == server.stats()["polls"]
    remembered = store.task_seconds(cold._waiter.scope, MODEL)
    assert remembered is not None
    assert 0.2 < remembered < 2.5

    # A new client (a new kernel) with the same store: its first poll lands after the finish.
    warm = remote_client(server, remote_name, max_concurrency=3, durations=store)
    warm.poll_times = {}
    async with warm:
        await asyncio.gather(
            *(warm.run(prompt="x", images=[png_bytes()], seed=s) for s in range(3, 6))
        )
    assert [len(t) for t in warm.poll_times.values()] == [1, 1, 1]
    store.close()


async def test_a_retried_poll_keeps_the_remote_floor(remote_name: str | None) -> None:
    answers = iter([429, 200])
    seen: list[float] = []

    async def result(request: web.Request) -> web.Response:
        seen.append(asyncio.get_running_loop().time())
        status = next(answers, 200)
        if status == 429:
            return web.json_response({"message": "slow down"}, status=429)
        return web.json_response({"data": {"id": "r1", "status": "processing"}})

    async with tiny_server({("GET", RESULT_ROUTE): result}) as url:
        client = Client(base_url=url, poll=PollPolicy.remote(), retry=FAST)
        async with client:
            await client.get("r1")
    assert len(seen) == 2
    assert seen[1] - seen[0] >= 2.0


# --------------------------------------------------------------------------- statuses


def _service(final: dict[str, Any], *, submit: dict[str, Any] | None = None) -> dict[Any, Any]:
    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(submit or {"data": {"id": "t1", "status": "created"}})

    async def get(request: web.Request) -> web.Response:
        return web.json_response(final)

    return {("POST", SUBMIT_PATH): post, ("GET", RESULT_ROUTE): get}


@pytest.mark.parametrize("status", ["cancelled", "timeout", "deleted"])
async def test_ending_statuses_over_tcp(status: str) -> None:
    routes = _service({"data": {"id": "t1", "status": status, "error": "stopped"}})
    async with tiny_server(routes) as url, Client(base_url=url, retry=FAST) as client:
        with pytest.raises(TaskFailedError, match=rf"prediction t1 failed .*'{status}': stopped"):
            await client.run(prompt="x", images=["https://example.com/a.png"])


async def test_a_sync_timeout_in_data_code_is_polled_over_tcp() -> None:
    handover = {
        "code": 200,
        "data": {"id": "t1", "status": "processing", "code": 5004, "error": "Sync mode timed out"},
    }
    done = {"data": {"id": "t1", "status": "failed", "code": 5003, "error": "busy"}}
    async with (
        tiny_server(_service(done, submit=handover)) as url,
        Client(base_url=url, retry=FAST) as client,
    ):
        with pytest.raises(TaskFailedError) as info:  # reached by polling, not at the submit
            await client.run(
                prompt="x", images=["https://example.com/a.png"], enable_sync_mode=True
            )
    assert info.value.code == 5003


async def test_the_simulators_own_sync_timeout_hands_over(make_simulator: MakeSimulator) -> None:
    server = make_simulator(latency_s=0.6, sync_timeout_s=0.1)
    async with Client(base_url=server.url, retry=FAST) as client:
        p = await client.run(prompt="x", images=[png_bytes()], enable_sync_mode=True)
    assert p.status is Status.COMPLETED
    assert server.stats()["polls"] >= 1


# --------------------------------------------------------------------------- markers


async def test_markers_are_refused_before_a_service_that_is_not_the_simulator() -> None:
    heard: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        heard.append(f"{request.method} {request.path}")
        return web.json_response({"code": 200, "data": {"balance": 5.0}})

    routes = {(m, "/{tail:.*}"): anything for m in ("GET", "POST")}
    async with tiny_server(routes) as url, Client(api_key="sk", base_url=url) as client:
        with pytest.raises(InvalidRequestError, match=r"marker '\[simulate:moderate\]'"):
            await client.run(prompt="cat [simulate:moderate]", images=[png_bytes()])
    assert heard == ["GET /api/v3/balance"]  # the free probe only: no upload, no submit


async def test_markers_reach_a_simulator_that_needs_a_key(make_simulator: MakeSimulator) -> None:
    server = make_simulator(api_key="sim-key")
    async with Client(api_key="sim-key", base_url=server.url, retry=FAST) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(prompt="x [simulate:fail=5003]", images=[png_bytes()])
    assert info.value.code == 5003
    assert server.stats()["submits"] == 1


# --------------------------------------------------------------------------- redaction


async def test_a_short_key_inside_task_ids_does_not_corrupt_them_over_tcp() -> None:
    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"data": {"id": "task0xk1", "status": "created"}})

    async def get(request: web.Request) -> web.Response:
        output = f"http://{request.host}/o/task0xk1.png"
        data = {"id": request.match_info["id"], "status": "completed", "outputs": [output]}
        return web.json_response({"data": data})

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=png_bytes(), content_type="image/png")

    routes = {("POST", SUBMIT_PATH): post, ("GET", RESULT_ROUTE): get, ("GET", "/o/{n}"): image}
    async with tiny_server(routes) as url, Client(api_key="k", base_url=url) as client:
        p = await client.run(prompt="x", images=["https://example.com/a.png"])
    assert p.id == "task0xk1"
    assert p.images[0].to_pil().size == (64, 48)


KEY = "kw/escaped_key_that_must_never_leak_0123"


@pytest.mark.parametrize("escape", ["slash", "unicode"])
async def test_a_json_escaped_echo_never_reaches_errors_logs_outcomes_or_the_store(
    escape: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if escape == "slash":
        echoed = json.dumps(KEY).replace("/", "\\/")[1:-1]
    else:
        echoed = "".join(f"\\u{ord(c):04x}" for c in KEY)
    body = (
        '{"code": 200, "data": {"id": "t1", "status": "failed", "code": 1403, '
        f'"error": "refused Bearer {echoed}"}}}}'
    ).encode()
    assert KEY.encode() not in body

    async def failed(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    routes = _service({})
    routes[("GET", RESULT_ROUTE)] = failed
    async with tiny_server(routes) as url, Client(api_key=KEY, base_url=url, retry=FAST) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(prompt="x", images=["https://example.com/a.png"])
        result = await kw.sweep(
            prompt=["a", "b"],
            images=["https://example.com/a.png"],
            seed=1,
            client=client,
            store=tmp_path,
            progress=False,
        )
        stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert any(p.name.endswith("-wal") for p in tmp_path.rglob("*"))
    assert "refused Bearer ***" in str(info.value)
    outcome_text = " ".join(o.error for o in result.outcomes) + result.summary()
    assert "Bearer ***" in outcome_text
    for text in (str(info.value), repr(info.value.prediction), caplog.text, outcome_text):
        assert KEY not in text
    assert KEY.encode() not in stored


# --------------------------------------------------------------------------- bounded answers


async def test_an_over_cap_submit_answer_is_an_unknown_outcome() -> None:
    calls = 0

    async def huge(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await request.read()
        return web.Response(body=b" " * (9 * 1024 * 1024), content_type="application/json")

    async with tiny_server({("POST", SUBMIT_PATH): huge}) as url, Client(base_url=url) as client:
        request = KontextRequest.build(prompt="x", images=["https://example.com/a.png"], seed=2)
        with pytest.raises(SubmitOutcomeUnknownError, match="limit") as info:
            await client.submit(request)
    assert info.value.payload["seed"] == 2
    assert calls == 1


async def test_too_many_outputs_are_refused_before_any_download() -> None:
    downloads = 0

    async def image(request: web.Request) -> web.Response:
        nonlocal downloads
        downloads += 1
        return web.Response(body=png_bytes(), content_type="image/png")

    async def get(request: web.Request) -> web.Response:
        outputs = [f"http://{request.host}/o/{i}.png" for i in range(100)]
        return web.json_response({"data": {"id": "t1", "status": "completed", "outputs": outputs}})

    routes = _service({})
    routes[("GET", RESULT_ROUTE)] = get
    routes[("GET", "/o/{n}")] = image
    async with tiny_server(routes) as url, Client(base_url=url) as client:
        with pytest.raises(ProtocolError, match="lists 100 outputs; this model returns one"):
            await client.run(prompt="x", images=["https://example.com/a.png"])
    assert downloads == 0


@pytest.mark.parametrize("limit", [1, 2])
async def test_downloads_go_through_the_concurrency_limit(limit: int) -> None:
    running = peak = 0

    async def image(request: web.Request) -> web.Response:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return web.Response(body=png_bytes(), content_type="image/png")

    async def get(request: web.Request) -> web.Response:
        outputs = [f"http://{request.host}/o/{i}.png" for i in range(4)]
        return web.json_response({"data": {"id": "t1", "status": "completed", "outputs": outputs}})

    routes = _service({})
    routes[("GET", RESULT_ROUTE)] = get
    routes[("GET", "/o/{n}")] = image
    async with tiny_server(routes) as url, Client(base_url=url, max_concurrency=limit) as client:
        p = await client.run(prompt="x", images=["https://example.com/a.png"])
    assert len(p.images) == 4
    assert peak == limit


async def test_a_huge_retry_after_is_shortened_to_the_stated_maximum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    answers = iter([429, 200])

    async def balance(request: web.Request) -> web.Response:
        if next(answers, 200) == 429:
            return web.json_response({}, status=429, headers={"Retry-After": "100000"})
        return web.json_response({"data": {"balance": 2.5}})

    retry = RetryPolicy(attempts=2, max_retry_after_s=0.2)
    async with (
        tiny_server({("GET", "/api/v3/balance"): balance}) as url,
        Client(base_url=url, retry=retry) as client,
    ):
        assert await client.balance() == 2.5
    assert "HTTP 429; retrying in 0.2 s" in caplog.text


async def test_a_persisting_server_error_on_polls_says_it_gave_up(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(latency_s=0.3)
    async with Client(base_url=server.url, retry=FAST) as client:
        created = await client.submit(KontextRequest.build(prompt="x", images=[png_bytes()]))
        server.configure(error_rate=1.0)
        with pytest.raises(kw.ServerError, match=r"\(HTTP 50\d, gave up after 3 tries\)"):
            await client.wait(created.id)
