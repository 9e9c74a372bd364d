"""The API logic against an in-memory transport: fast, no server, no sockets."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kontext_widgets import (
    Client,
    InvalidRequestError,
    KontextRequest,
    PollPolicy,
    ProtocolError,
    Status,
    SubmitOutcomeUnknownError,
    TaskFailedError,
)
from kontext_widgets.client import MAX_OUTPUTS, Call
from kontext_widgets.contract import BALANCE_PATH, MODEL, RESULT_PATH, SUBMIT_PATH

from .memory import MemoryTransport, answer, png, prediction, sequence

SERVICE = "http://service.test"
OUTPUT = "http://cdn.test/o.png"
FAST_POLL = PollPolicy(first_s=0.02, min_interval_s=0.01, max_interval_s=0.05)


def service(pid: str = "p1", *finals: Any, simulated: bool = False) -> MemoryTransport:
    """Submit answers ``created``; polls answer ``processing`` once, then each of ``finals``."""
    done = finals or (prediction(pid, "completed", outputs=[OUTPUT]),)
    return MemoryTransport(
        {
            ("POST", SUBMIT_PATH): lambda c: prediction(pid, "created"),
            ("GET", RESULT_PATH.format(id=pid)): sequence(prediction(pid, "processing"), *done),
            ("GET", "/o.png"): lambda c: answer(png()),
            ("GET", BALANCE_PATH): lambda c: {"code": 200, "data": {"balance": 3.0}},
        },
        simulated=simulated,
    )


def client_over(transport: MemoryTransport, **options: Any) -> Client:
    options.setdefault("poll", FAST_POLL)
    return Client(base_url=SERVICE, transport=transport, **options)


def request(prompt: str = "x") -> KontextRequest:
    return KontextRequest.build(prompt=prompt, images=["https://example.com/a.png"], seed=1)


async def test_run_submits_polls_and_downloads_without_a_server() -> None:
    transport = service()
    async with client_over(transport, api_key="sk-1") as client:
        p = await client.run(request())
    assert p.status is Status.COMPLETED
    assert p.images[0].to_pil().size == (8, 6)
    assert transport.paths() == [
        SUBMIT_PATH,
        RESULT_PATH.format(id="p1"),
        RESULT_PATH.format(id="p1"),
        "/o.png",
    ]
    by_path = {c.url: c for c in transport.calls}
    assert by_path[SERVICE + SUBMIT_PATH].headers["Authorization"] == "Bearer sk-1"
    assert "Authorization" not in by_path[OUTPUT].headers  # never to an output host
    assert by_path[OUTPUT].follow_redirects
    assert "sk-1" not in repr(transport.calls)  # a Call never shows its headers
    assert transport.closed


@pytest.mark.parametrize(
    ("status", "retryable"), [("cancelled", False), ("timeout", True), ("deleted", False)]
)
async def test_every_ending_status_fails_the_wait_naming_status_and_id(
    status: str, retryable: bool
) -> None:
    transport = service("t9", prediction("t9", status))
    async with client_over(transport) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(request())
    assert info.value.prediction_id == "t9"
    assert f"'{status}'" in str(info.value)
    assert "t9" in str(info.value)
    assert info.value.retryable is retryable
    assert info.value.prediction.status is Status.FAILED


async def test_an_unknown_status_still_fails_clearly() -> None:
    transport = service("u1", prediction("u1", "sleeping"))
    async with client_over(transport) as client:
        with pytest.raises(
            ProtocolError, match="poll of u1: prediction u1 has unknown status 'sleeping'"
        ):
            await client.run(request())


@pytest.mark.parametrize("where", ["top", "data"])
async def test_a_sync_timeout_in_data_code_or_at_the_top_hands_over_to_polling(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    timed_out = prediction("s1", "processing", error="Sync mode timed out after 90 seconds")
    if where == "top":
        timed_out["code"] = 5004
    else:
        timed_out["data"]["code"] = 5004
    transport = service("s1")
    transport.routes[("POST", SUBMIT_PATH)] = lambda c: timed_out
    async with client_over(transport) as client:
        built = KontextRequest.build(
            prompt="x", images=["https://example.com/a.png"], enable_sync_mode=True
        )
        p = await client.run(built)
    assert p.status is Status.COMPLETED
    assert "sync mode timed out for s1; polling it instead" in caplog.text
    assert client.duration.value is None  # the hand-over's time is not a task duration


async def test_more_outputs_than_the_cap_are_refused_before_any_download() -> None:
    many = prediction("m1", "completed", outputs=[OUTPUT] * (MAX_OUTPUTS + 1))
    transport = service("m1", many)
    async with client_over(transport) as client:
        with pytest.raises(ProtocolError, match=r"lists 5 outputs; this model returns one"):
            await client.run(request())
    assert "/o.png" not in transport.paths()


async def test_up_to_the_cap_all_outputs_are_downloaded() -> None:
    transport = service("m2", prediction("m2", "completed", outputs=[OUTPUT] * MAX_OUTPUTS))
    async with client_over(transport) as client:
        p = await client.run(request())
    assert len(p.images) == MAX_OUTPUTS


# -- simulator markers ------------------------------------------------------------------------


async def test_markers_are_refused_before_sending_when_the_endpoint_is_not_the_simulator() -> None:
    transport = service()
    async with client_over(transport, api_key="sk-1") as client:
        with pytest.raises(InvalidRequestError, match=r"\[simulate:fail=5003\]") as info:
            await client.run(request("night [simulate:fail=5003]"))
    assert info.value.field == "prompt"
    assert "prompt text" in str(info.value)
    assert transport.paths() == [BALANCE_PATH]  # one free probe, no submit, no upload


async def test_markers_go_to_an_endpoint_that_answers_as_the_simulator() -> None:
    transport = service(simulated=True)
    async with client_over(transport, api_key="sk-1") as client:
        p = await client.run(request("night [simulate:nsfw]"))
    assert p.status is Status.COMPLETED
    assert transport.paths().count(SUBMIT_PATH) == 1


async def test_markers_never_go_to_wavespeed_not_even_a_probe() -> None:
    transport = service()
    client = Client(api_key="sk-1", transport=transport)  # the real base URL
    with pytest.raises(InvalidRequestError, match=r"\[SIMULATE:latency=2\]"):
        await client.submit(request("x [SIMULATE:latency=2]"))
    assert transport.calls == []


# -- redaction only where text is shown ------------------------------------------------------


async def test_a_short_key_inside_a_task_id_does_not_corrupt_the_id() -> None:
    pid = "task0xk17"
    transport = service(pid)
    async with client_over(transport, api_key="k") as client:
        p = await client.run(request())
    assert p.id == pid
    assert RESULT_PATH.format(id=pid) in transport.paths()


@pytest.mark.parametrize(
    "escaped",
    [
        "kw\\/sec\\/ret-0123456789",  # a JSON-escaped slash
        "".join(f"\\u{ord(c):04x}" for c in "kw/sec/ret-0123456789"),  # every character escaped
    ],
)
async def test_a_json_escaped_echo_of_the_key_is_redacted_after_decoding(
    escaped: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "kw/sec/ret-0123456789"
    failed = (
        b'{"code": 200, "data": {"id": "e1", "status": "failed", "code": 5000, '
        b'"error": "saw Bearer ' + escaped.encode() + b'"}}'
    )
    assert key.encode() not in failed  # only decoding reveals it
    transport = service("e1", answer(failed))
    async with client_over(transport, api_key=key) as client:
        with pytest.raises(TaskFailedError) as info:
            await client.run(request())
    assert "saw Bearer ***" in str(info.value)
    assert key not in str(info.value) + repr(info.value.prediction) + caplog.text
    assert info.value.prediction_id == "e1"


async def test_an_unreadable_submit_answer_echoing_the_key_is_unknown_and_redacted() -> None:
    transport = service()
    transport.routes[("POST", SUBMIT_PATH)] = lambda c: {"data": {"id": "Bearer kk-secret"}}
    async with client_over(transport, api_key="kk-secret") as client:
        with pytest.raises(SubmitOutcomeUnknownError) as info:
            await client.submit(request())
    assert "kk-secret" not in str(info.value)
    assert "Bearer ***" in str(info.value)


# -- the learned duration and its memory ------------------------------------------------------


class DictMemory:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float] = {}

    def task_seconds(self, scope: str, model: str) -> float | None:
        return self.values.get((scope, model))

    def remember_task_seconds(self, scope: str, model: str, seconds: float) -> None:
        self.values[(scope, model)] = seconds


async def test_the_learned_duration_is_remembered_and_starts_a_new_client_warm() -> None:
    memory = DictMemory()
    async with client_over(service(), durations=memory) as client:
        await client.run(request())
    learned = memory.values[(SERVICE, MODEL)]
    assert learned > 0
    fresh = client_over(service(), durations=memory)
    assert fresh.duration.value == learned  # warm before its first wait (plans see it too)
    fresh.poll_times = {}
    async with fresh:
        p = await fresh.run(request())
    assert p.status is Status.COMPLETED
    assert fresh.duration.value is not None
    assert len(fresh.poll_times["p1"]) == 2


async def test_a_broken_memory_never_stops_the_work() -> None:
    class Broken:
        def task_seconds(self, scope: str, model: str) -> float | None:
            raise OSError("disk gone")

        def remember_task_seconds(self, scope: str, model: str, seconds: float) -> None:
            raise OSError("disk gone")

    async with client_over(service(), durations=Broken()) as client:
        p = await client.run(request())
    assert p.status is Status.COMPLETED


def test_the_memory_scope_never_holds_credentials_of_the_url() -> None:
    client = Client(base_url="http://user:pw@service.test:81/v", transport=service())
    assert client._waiter.scope == "http://service.test:81/v"


def test_calls_are_plain_data() -> None:
    call = Call("GET", SERVICE, "get", 1.0, headers={"Authorization": "Bearer x"})
    assert "Bearer" not in repr(call)


def test_a_key_cut_by_a_length_limit_leaves_no_piece_in_shown_text() -> None:
    from kontext_widgets.client import Redactor
    from kontext_widgets.client.endpoint import Secret

    key = "kwtest_Zq8vX3_the_key_that_must_never_leak_7f41c2"
    redactor = Redactor(Secret(key))
    cut = f"{'http://x/' + key!r:.40}"  # what an f-string precision does to a long URL
    assert key[:20] in cut
    assert key[8:20] not in redactor.text(cut)
    assert redactor.text(f"...{key[-30:]} tail") == "...*** tail"
    assert Redactor(Secret("k")).text("task0xk1") == "tas***0x***1"  # shown text only
