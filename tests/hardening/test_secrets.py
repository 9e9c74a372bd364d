"""The API key never shows up anywhere, and what people type is escaped wherever it becomes HTML.

Every test uses one distinctive fake key against a simulator that requires exactly that key
(so the key really is used), then looks for it in: the client's repr/str, every exception and
traceback from every error path, DEBUG logs, the store's files, sweep exports (HTML, contact
sheet, PNG text chunks), a widget's state, and a notebook executed through nbclient with the
key in the kernel's environment. A hostile service that echoes the Authorization header back
must not get it into an exception either.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import socket
import traceback
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from aiohttp import web
from nbclient import NotebookClient
from PIL import Image

import kontext_widgets as kw
from kontext_widgets import (
    Client,
    KontextError,
    KontextRequest,
    Prediction,
    RetryPolicy,
    Status,
    Timeouts,
)
from kontext_widgets.contract import BALANCE_PATH, RESULT_PATH, SUBMIT_PATH, UPLOAD_BINARY_PATH
from kontext_widgets.display import StripItem, html_row, strip_html
from kontext_widgets.engine.cells import CellOutcome
from kontext_widgets.images import thumbnail_data_uri
from kontext_widgets.prediction import OutputImage
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.sweeps import SweepResult, plan_sweep

from ..conftest import MakeSimulator, png_bytes
from .test_hostile import tiny_server

SECRET = "kwtest_Zq8vX3_the_key_that_must_never_leak_7f41c2"
FAST = RetryPolicy(attempts=2, base_s=0.005, cap_s=0.01, max_retry_after_s=0.01)
PERSON = kw.samples.path("person")
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>\" onmouseover=\"alert(3)' x='"


def assert_no_key(*texts: object) -> None:
    for text in texts:
        data = text if isinstance(text, bytes) else str(text).encode("utf-8", "replace")
        assert SECRET.encode() not in data
        # Nor a recognisable piece of it (e.g. cut by a length limit).
        assert SECRET[8:30].encode() not in data


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def everything_about(exc: BaseException) -> str:
    """All an exception can show: message, repr, traceback, attributes, causes."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    parts += [repr(v) for v in vars(exc).values()]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            parts.append("".join(traceback.format_exception(linked)))
    return "\n".join(parts)


# --------------------------------------------------------------------------- the client


async def test_the_client_never_shows_the_key(make_simulator: MakeSimulator) -> None:
    server = make_simulator(api_key=SECRET)
    client = Client(api_key=SECRET, base_url=server.url)
    try:
        assert await client.balance() == pytest.approx(100.0)  # the key works
        assert client.has_key
        assert_no_key(repr(client), str(client), client.describe(), vars(client), dir(client))
        assert_no_key(repr(client._endpoint), client.scope, client.base_url)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(client._endpoint)
    finally:
        await client.close()


async def test_the_key_from_the_environment_is_used_and_never_shown(
    make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_simulator(api_key=SECRET)
    monkeypatch.setenv("WAVESPEED_API_KEY", SECRET)
    monkeypatch.setenv("WAVESPEED_BASE_URL", server.url)
    async with Client() as client:
        p = await client.run(prompt="x", images=[PERSON], seed=1)
        assert_no_key(repr(client), client.describe(), repr(p), p.request)
    assert server.stats()["answers"].get("401") is None


ErrorPath = Callable[[Client, SimulatorServer], Awaitable[Any]]


async def _bad_request(c: Client, s: SimulatorServer) -> Any:
    return await c.run(prompt="x [simulate:nonsense]", images=[PERSON])


async def _not_found(c: Client, s: SimulatorServer) -> Any:
    return await c.get("0123456789abcdef0123456789abcdef")


async def _rate_limited(c: Client, s: SimulatorServer) -> Any:
    s.configure(rate_limit_rate=1.0)
    return await c.run(prompt="x", images=["https://example.com/a.png"])


async def _server_errors_on_polls(c: Client, s: SimulatorServer) -> Any:
    created = await c.submit(KontextRequest.build(prompt="x", images=[PERSON]))
    s.configure(error_rate=1.0)
    return await c.wait(created.id)


async def _dropped_submit(c: Client, s: SimulatorServer) -> Any:
    s.configure(drop_rate=1.0)
    return await c.run(prompt="x", images=["https://example.com/a.png"], seed=3)


async def _dropped_polls(c: Client, s: SimulatorServer) -> Any:
    created = await c.submit(KontextRequest.build(prompt="x", images=[PERSON]))
    s.configure(drop_rate=1.0)
    return await c.wait(created.id)


async def _task_failed(c: Client, s: SimulatorServer) -> Any:
    return await c.run(prompt="x [simulate:fail=5003]", images=[PERSON])


async def _wait_timeout(c: Client, s: SimulatorServer) -> Any:
    created = await c.submit(KontextRequest.build(prompt="x [simulate:latency=5]", images=[PERSON]))
    return await c.wait(created.id, timeout_s=0.05)


async def _no_balance(c: Client, s: SimulatorServer) -> Any:
    s.configure(balance_usd=0.0)
    return await c.run(prompt="x", images=[PERSON])


async def _invalid(c: Client, s: SimulatorServer) -> Any:
    return await c.run(prompt="", images=[], seed=-7, api_key=SECRET)


def _hostile(directive: str) -> ErrorPath:
    async def run(c: Client, s: SimulatorServer) -> Any:
        return await c.run(prompt=f"x [simulate:{directive}]", images=[PERSON])

    return run


ERROR_PATHS: dict[str, ErrorPath] = {
    "400 bad parameter": _bad_request,
    "403 no balance": _no_balance,
    "404 unknown id": _not_found,
    "429 persisting": _rate_limited,
    "5xx on polls": _server_errors_on_polls,
    "submit cut": _dropped_submit,
    "polls cut": _dropped_polls,
    "task failed": _task_failed,
    "wait timed out": _wait_timeout,
    "invalid request": _invalid,
    "not an image": _hostile("not_image"),
    "decompression bomb": _hostile("bomb"),
    "redirect to ftp": _hostile("redirect=ftp"),
    "endless body": _hostile("huge=64"),
    "download cut": _hostile("cut"),
    "download stalled": _hostile("stall"),
}


@pytest.mark.parametrize("path", sorted(ERROR_PATHS))
async def test_no_error_path_shows_the_key(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    server = make_simulator(api_key=SECRET, latency_s=0.05)
    options: dict[str, Any] = {
        "retry": FAST,
        "timeouts": Timeouts(read_s=0.2),
        "max_download_bytes": 4 * 1024 * 1024,
    }
    async with Client(api_key=SECRET, base_url=server.url, **options) as client:
        with pytest.raises(KontextError) as info:
            await ERROR_PATHS[path](client, server)
    assert_no_key(everything_about(info.value), caplog.text)
    assert server.stats()["answers"].get("401") is None  # the key was sent, and right


async def test_a_wrong_key_and_an_unreachable_service_do_not_show_the_key(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_simulator(api_key="the-right-key")
    errors: list[BaseException] = []
    for url in (server.url, f"http://127.0.0.1:{closed_port()}"):
        async with Client(api_key=SECRET, base_url=url, retry=FAST) as client:
            try:
                await client.run(prompt="x", images=["https://example.com/a.png"])
            except KontextError as exc:
                errors.append(exc)
    assert [type(e).__name__ for e in errors] == ["AuthenticationError", "ServerError"]
    assert_no_key(*(everything_about(e) for e in errors), caplog.text)


def _echo(status: int, shape: Callable[[str], Any]) -> Callable[[web.Request], Awaitable[Any]]:
    """A handler that puts the request's Authorization header into its answer."""

    async def handler(request: web.Request) -> web.Response:
        heard = request.headers.get("Authorization", "")
        await request.read()
        return web.json_response(shape(heard), status=status)

    return handler


RESULT_ROUTE = RESULT_PATH.format(id="{id}")
ECHOES: dict[str, tuple[str, str, int, Callable[[str], Any], str]] = {
    "in a 400 message": ("POST", SUBMIT_PATH, 400, lambda h: {"message": f"bad {h}"}, "run"),
    "as a task id": ("POST", SUBMIT_PATH, 200, lambda h: {"data": {"id": h}}, "run"),
    "in a 500 body": ("POST", SUBMIT_PATH, 500, lambda h: {"message": f"saw {h}"}, "run"),
    "as a status": ("GET", RESULT_ROUTE, 200, lambda h: {"data": {"id": "a1", "status": h}}, "get"),
    "as a balance": ("GET", BALANCE_PATH, 200, lambda h: {"data": {"balance": h}}, "balance"),
    "in a 403 message": ("GET", BALANCE_PATH, 403, lambda h: {"message": h * 3}, "balance"),
    "in an upload URL": (
        "POST",
        UPLOAD_BINARY_PATH,
        200,
        lambda h: {"data": {"download_url": f"ftp://x/{h}"}},
        "upload",
    ),
}


async def _call(client: Client, call: str) -> Any:
    if call == "run":
        return await client.run(prompt="x", images=["https://example.com/a.png"])
    if call == "get":
        return await client.get("a1")
    if call == "upload":
        return await client.upload(png_bytes())
    return await client.balance()


@pytest.mark.parametrize("case", sorted(ECHOES))
async def test_a_service_echoing_the_key_cannot_get_it_into_an_error(
    caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG)
    method, path, status, shape, call = ECHOES[case]
    async with (
        tiny_server({(method, path): _echo(status, shape)}) as url,
        Client(api_key=SECRET, base_url=url, retry=FAST) as client,
    ):
        with pytest.raises(KontextError) as info:
            await _call(client, call)
    shown = everything_about(info.value)
    if case not in ("in a 500 body", "in an upload URL"):  # those bodies are never shown
        assert "Bearer ***" in shown  # it was echoed, and it was redacted
    assert_no_key(shown, caplog.text)


async def test_a_failed_task_echoing_the_key_keeps_it_out_of_the_prediction() -> None:
    failed = _echo(200, lambda h: {"data": {"id": "a1", "status": "failed", "error": f"as {h}"}})
    async with (
        tiny_server({("GET", RESULT_ROUTE): failed}) as url,
        Client(api_key=SECRET, base_url=url, retry=FAST) as client,
    ):
        p = await client.wait("a1", timeout_s=5)
    assert p.status is Status.FAILED
    assert p.error == "as Bearer ***"
    assert_no_key(repr(p), everything_about(kw.TaskFailedError(p.id, p.code, p.error)))


# --------------------------------------------------------------------------- store and exports


def _all_bytes(directory: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(directory.rglob("*")) if p.is_file()]


@pytest.mark.slow
async def test_the_store_and_every_export_are_free_of_the_key(
    make_simulator: MakeSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_simulator(api_key=SECRET, latency_s=0.0, output_long_side=64)
    store_dir, out = tmp_path / "store", tmp_path / "out"
    async with Client(api_key=SECRET, base_url=server.url, retry=FAST) as client:
        result = await kw.sweep(
            prompt=["night", "day [simulate:fail=1403]", "dusk [simulate:nsfw]"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=store_dir,
            progress=False,
        )
        # A second sweep reads everything back from the store.
        again = await kw.sweep(
            prompt=["night"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=store_dir,
            progress=False,
        )
    assert len(result.done) == 4
    assert len(result.failed) == 2
    assert again.summary().startswith("2 of 2 cells done")
    out.mkdir()
    written = [
        result.html(out / "sweep.html"),
        result.contact_sheet(out / "sheet.png"),
        *result.export_images(out / "images"),
    ]
    texts = [
        repr(result),
        result.summary(),
        json.dumps(result.records(), default=str),
        result.grid_html(),
        caplog.text,
    ]
    for path in written:
        if path.suffix == ".png":
            with Image.open(path) as image:
                texts.append(json.dumps(image.text))  # every PNG text chunk, decoded
    files = _all_bytes(store_dir) + _all_bytes(out)
    assert any(p.name == "store.sqlite3" for p, _ in files)
    assert len([p for p, _ in files if p.suffix == ".png"]) >= 4 + 1 + 4
    for path, data in files:
        assert SECRET.encode() not in data, path
    assert_no_key(*texts)


# --------------------------------------------------------------------------- the widget


async def test_a_widget_using_the_key_keeps_it_out_of_its_state(
    make_simulator: MakeSimulator,
) -> None:
    server = make_simulator(api_key=SECRET, latency_s=0.0, output_long_side=64)
    w = kw.KontextWidget(
        prompt="make it night", images=[PERSON], seeds=[1, 2], api_key=SECRET, base_url=server.url
    )
    try:
        done = await w.generate()
        failed = await w.generate(prompt="x [simulate:fail=5003]", seeds=[3])
        assert [p.status for p in done] == [Status.COMPLETED, Status.COMPLETED]
        assert failed[0].status is Status.FAILED
        w.use_as_input(done[0])
        state = json.dumps(w.get_state(), default=str)
        assert len(state) > 1000
        code = w.code_for(done[0])
        assert_no_key(state, repr(w), w.status, w.error, code, [repr(p) for p in w.results])
    finally:
        await w.aclose()
    assert server.stats()["answers"].get("401") is None


NOTEBOOK_CELLS = [
    # The key comes from the environment only; the simulator requires it.
    "import os, logging, kontext_widgets as kw\n"
    "from kontext_widgets.simulator import SimulatorConfig, SimulatorServer\n"
    "sim = SimulatorServer(SimulatorConfig(api_key=os.environ['WAVESPEED_API_KEY'],\n"
    "    latency_s=0.05, output_long_side=64, allow_remote_fetch=False))\n"
    "os.environ['WAVESPEED_BASE_URL'] = sim.start()\n"
    "logging.basicConfig(level=logging.DEBUG, force=True)",
    "client = kw.Client()\nprint(repr(client), client.describe(), vars(client))\nclient",
    "p = await client.run(prompt='make it night', images=[kw.samples.path('person')], seed=1)\n"
    "print(p)\np",
    "kw.show([p])",
    "w = kw.KontextWidget(prompt='make it night', images=[kw.samples.path('person')],\n"
    "                     seeds=[1, 2])\nw",
    "predictions = await w.generate()\nprint(w.status, predictions)",
    "print(w.code_for(predictions[0]))",
    "await client.run(prompt='x [simulate:fail=5003]', images=[kw.samples.path('person')])",
    "await kw.Client(base_url=sim.url, retry=kw.RetryPolicy(attempts=1)).get('nope')",
    "print(sim.stats()['answers'])\nprint('key length', len(os.environ['WAVESPEED_API_KEY']))",
]


@pytest.mark.slow
def test_a_notebook_using_the_key_from_the_environment_saves_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", SECRET)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        allow_errors=True,
        store_widget_state=True,
    ).execute()
    saved = nbformat.writes(nb)
    (tmp_path / "saved.ipynb").write_text(saved, encoding="utf-8")
    # It really ran with the key: completed predictions, two expected errors, no 401.
    outputs = [out for cell in nb.cells for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert [e.ename for e in errors] == ["TaskFailedError", "PredictionNotFoundError"]
    assert "completed" in saved
    assert "'401'" not in saved
    assert f"key length {len(SECRET)}" in saved  # the kernel had the key
    assert "application/vnd.jupyter.widget-state+json" in nb.metadata.get("widgets", {})
    assert_no_key(saved)


# --------------------------------------------------------------------------- HTML escaping


class _Tags(HTMLParser):
    """Every start tag and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(page: str) -> None:
    """No markup from the payload became live: no script, no handler, no javascript: URL."""
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert parser.tags, "no HTML at all"
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "object", "embed", "base"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            assert name not in ("x", "onmouseover")
            if name in ("src", "href") and value and not value.startswith("#"):
                assert value.split(":", 1)[0].lower() in ("data", "http", "https"), value
    assert "alert(1)" in page  # the text is there, escaped, not dropped


def _sweep_result(tmp_path: Path, error: str) -> SweepResult:
    store = kw.Store(tmp_path / "store")
    plan = plan_sweep(prompt=[MARKUP, "plain"], images=["https://example.com/a.png"], seed=[1])
    sha = store.put_image(png_bytes())
    outcomes = (
        CellOutcome(0, dict(plan.cells[0].coords), "done", "p0", (sha,)),
        CellOutcome(1, dict(plan.cells[1].coords), "failed", "p1", error=error),
    )
    return SweepResult(plan, outcomes, store, simulated=True)


def test_sweep_grid_and_html_export_escape_prompts_and_reasons(tmp_path: Path) -> None:
    result = _sweep_result(tmp_path, error=MARKUP)
    assert_inert(result.grid_html())
    page = result.html(tmp_path / "sweep.html").read_text(encoding="utf-8")
    assert_inert(page)
    assert page.count("&lt;script&gt;") >= 2  # the prompt legend and the failure reason


async def test_file_names_with_markup_are_escaped_in_sweep_legends(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    names = ["<img src=x onerror=alert(1)>.png", "\"'><svg onload=alert(1)>.png"]
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(png_bytes())
        paths.append(path)
    async with Client(base_url=simulator.url) as client:
        result = await kw.sweep(
            prompt="x",
            images=[[p] for p in paths],
            client=client,
            store=tmp_path / "store",
            progress=False,
        )
    assert len(result.done) == 2
    assert_inert(result.grid_html())
    assert_inert(result.html(tmp_path / "s.html").read_text(encoding="utf-8"))


def test_gallery_rows_escape_prompts_errors_titles_and_urls() -> None:
    request = KontextRequest.build(prompt=MARKUP, images=["https://example.com/a.png"], seed=1)
    done = Prediction(
        id="p1",
        status=Status.COMPLETED,
        request=request,
        images=(OutputImage(f"https://cdn.example/o.png?{MARKUP}", png_bytes()),),
    )
    failed = Prediction(id="p2", status=Status.FAILED, error=MARKUP, code=1403, request=request)
    assert_inert(html_row([done, failed], title=MARKUP))


def test_history_strips_escape_labels_notes_titles_and_urls() -> None:
    items = [
        StripItem(thumbnail_data_uri(png_bytes()), MARKUP, MARKUP),
        StripItem(f"https://example.com/a.png?{MARKUP}", "step 2", ""),
    ]
    assert_inert(strip_html(items, title=MARKUP))


def test_a_hostile_data_uri_in_a_strip_stays_inert() -> None:
    item = StripItem('data:image/png" onerror="alert(1)', "x")
    assert_inert(strip_html([item], title="t"))


async def test_the_widget_gallery_escapes_a_markup_prompt(simulator: SimulatorServer) -> None:
    w = kw.KontextWidget(
        prompt=MARKUP, images=[PERSON], seeds=[1], client=Client(base_url=simulator.url)
    )
    try:
        await w.generate()
        rows = w.get_state()["rows"]
        assert rows
        for row in rows:
            assert_inert(row["html"])
    finally:
        await w.aclose()
        await w.client.close()


def test_thumbnails_of_the_contact_sheet_are_pixels_not_markup(tmp_path: Path) -> None:
    result = _sweep_result(tmp_path, error=MARKUP)
    sheet = result.contact_sheet(tmp_path / "sheet.png")
    with Image.open(io.BytesIO(sheet.read_bytes())) as image:
        assert image.format == "PNG"
        assert "<script>" not in json.dumps(image.text)


async def test_the_key_goes_to_the_base_url_only_never_to_upload_or_output_hosts() -> None:
    """Ticket uploads PUT to another host and outputs live on a third: neither sees the key."""
    heard: dict[str, list[str]] = {"service": [], "elsewhere": []}

    async def elsewhere(request: web.Request) -> web.Response:
        heard["elsewhere"].append(request.headers.get("Authorization", ""))
        await request.read()
        return web.Response(body=png_bytes(), content_type="image/png")

    async with tiny_server({("PUT", "/put"): elsewhere, ("GET", "/out.png"): elsewhere}) as other:

        async def ticket(request: web.Request) -> web.Response:
            heard["service"].append(request.headers.get("Authorization", ""))
            upload = {"method": "PUT", "url": other + "/put", "headers": {"X-Kind": "image"}}
            data = {"upload": upload, "download_url": other + "/in.png"}
            return web.json_response({"code": 200, "data": data})

        async def submit(request: web.Request) -> web.Response:
            heard["service"].append(request.headers.get("Authorization", ""))
            data = {"id": "t1", "status": "completed", "outputs": [other + "/out.png"]}
            return web.json_response({"code": 200, "data": data})

        routes = {("POST", "/api/v3/media/uploads"): ticket, ("POST", SUBMIT_PATH): submit}
        async with (
            tiny_server(routes) as service,
            Client(api_key=SECRET, base_url=service, upload_method="ticket", retry=FAST) as client,
        ):
            p = await client.run(prompt="x", images=[png_bytes()])
    assert p.status is Status.COMPLETED
    assert heard["service"] == [f"Bearer {SECRET}"] * 2
    assert heard["elsewhere"] == ["", ""]  # the PUT and the output GET
