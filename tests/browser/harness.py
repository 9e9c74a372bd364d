"""Helpers of the browser tests: a Jupyter server in a subprocess, notebooks, and a page driver.

Nothing here is a fixture (those live in conftest.py); everything is plain code that the fixtures
and tests call, so it can be read top to bottom.

Facts this relies on (see DESIGN.md, "Testing"):

- ``--expose-app-in-browser`` puts the application on ``window.jupyterapp`` in both JupyterLab
  and Notebook 7; the kernel is ready when the current widget's
  ``sessionContext.session.kernel`` is ``connected`` and ``idle``.
- ``notebook:run-all-cells`` runs everything in both front ends.
- widget outputs live under ``.jp-OutputArea-output``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Error, Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

#: Front ends under test: the ``jupyter`` subcommand and how a notebook's URL is spelled.
APPS = ("lab", "notebook")

#: Chromium flags: headless in a container, no calls home, nothing left over between runs.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs otherwise
)

# Console errors that are not ours, each with the reason it is allowed.
KNOWN_CONSOLE_ERRORS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "notebook",
        re.compile(r"Cannot read properties of undefined \(reading 'schema'\)"),
        "Notebook 7.6.5 raises it on load, even for an empty notebook without widgets",
    ),
)

_KERNEL_IDLE_JS = """() => {
    const app = window.jupyterapp;
    const widget = app && app.shell && app.shell.currentWidget;
    const ctx = widget && widget.sessionContext;
    const kernel = ctx && ctx.session && ctx.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""

_KERNEL_STATE_JS = """() => {
    const app = window.jupyterapp;
    if (!app) return 'no window.jupyterapp';
    const widget = app.shell && app.shell.currentWidget;
    if (!widget) return 'no current widget';
    const ctx = widget.sessionContext;
    if (!ctx) return 'current widget has no sessionContext: ' + widget.id;
    const kernel = ctx.session && ctx.session.kernel;
    if (!kernel) return 'no kernel yet';
    return 'kernel ' + kernel.connectionStatus + ' / ' + kernel.status;
}"""

_CELL_ERRORS_JS = r"""() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const cells = widget && widget.content && widget.content.model && widget.content.model.cells;
    const found = [];
    if (!cells) return found;
    for (let i = 0; i < cells.length; i++) {
        const outputs = cells.get(i).outputs;
        if (!outputs) continue;
        for (let j = 0; j < outputs.length; j++) {
            const o = outputs.get(j).toJSON();
            if (o.output_type !== 'error') continue;
            const traceback = (o.traceback || []).join('\n');
            found.push(`cell ${i + 1}: ${o.ename}: ${o.evalue}\n${traceback}`);
        }
    }
    return found;
}"""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_ACTIVE_CELL_JS = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"

_RUN_ALL_JS = """async () => {
    await window.jupyterapp.commands.execute('notebook:run-all-cells');
    return true;
}"""


# --------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class JupyterServer:
    """One ``jupyter lab`` or ``jupyter notebook`` process serving ``root``."""

    app: str
    base_url: str
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            return f"{self.base_url}/lab/tree/{name}?token={self.token}&reset"
        return f"{self.base_url}/notebooks/{name}?token={self.token}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        """Stop every session's kernel (each test starts its own; they are not reused)."""
        for session in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.URLError, OSError):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=20.0)
        for kernel in self.api("GET", "/api/kernels"):
            with contextlib.suppress(urllib.error.URLError, OSError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20.0)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    def stop(self) -> None:
        """Terminate, then kill; the server runs in its own process group with its kernels."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # Kernels the server could not stop (it was killed) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def jupyter_env(base: Path) -> dict[str, str]:
    """The environment of a server: its own config, data and runtime dirs, no API key.

    ``sys.prefix``'s ``share/jupyter`` (kernel spec, anywidget's and ipywidgets' lab extensions)
    and ``etc/jupyter`` (server extensions) are still found: Jupyter always adds the
    environment's paths to the user dirs set here.
    """
    config_dir, data_dir, runtime_dir = base / "config", base / "data", base / "runtime"
    for d in (config_dir / "labconfig", data_dir, runtime_dir):
        d.mkdir(parents=True, exist_ok=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "WAVESPEED_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(runtime_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(data_dir / "workspaces"),
        JUPYTER_PLATFORM_DIRS="0",
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
        # The kernels write into the notebooks' directory; keep byte code out of it.
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def start_server(app: str, base: Path, root: Path, timeout: float = 90.0) -> JupyterServer:
    """Start ``jupyter <app>`` on a free loopback port and wait until it answers."""
    if app not in APPS:
        raise ValueError(f"app must be one of {APPS}, got {app!r}")
    base.mkdir(parents=True, exist_ok=True)
    env = jupyter_env(base)
    token = secrets.token_hex(24)
    port = free_port()
    module = "jupyterlab" if app == "lab" else "notebook"
    cmd = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--expose-app-in-browser",
        # No "are you sure" on shutdown, no terminals (a test never opens one).
        "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "server.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = JupyterServer(app, f"http://127.0.0.1:{port}", token, root, log, proc)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"jupyter {app} exited with code {proc.returncode} before answering;"
                f" command: {' '.join(cmd)}\n--- {log} ---\n{server.log_tail()}"
            )
        try:
            server.api("GET", "/api/status", timeout=2.0)
            break
        except (urllib.error.URLError, OSError, ValueError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"jupyter {app} did not answer on {server.base_url} within {timeout:.0f} s"
                    f"\n--- {log} ---\n{server.log_tail()}"
                ) from None
            time.sleep(0.2)
    return server


# ------------------------------------------------------------------------------- notebooks


def write_notebook(path: Path, *cells: str) -> Path:
    """A notebook of code cells (no outputs) with a Python 3 kernel spec (no kernel dialog)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------------------ the page


@dataclass
class BrowserErrors:
    """Console errors and uncaught page errors seen by one page."""

    app: str
    seen: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        location = message.location or {}
        where = location.get("url", "")
        self._add(f"console.error: {message.text}" + (f" (at {where})" if where else ""))

    def on_pageerror(self, error: Error) -> None:
        self._add(f"pageerror: {error.name}: {error.message}\n{error.stack or ''}".rstrip())

    def _add(self, text: str) -> None:
        for app, pattern, _reason in KNOWN_CONSOLE_ERRORS:
            if app in (self.app, "*") and pattern.search(text):
                self.ignored.append(text)
                return
        self.seen.append(text)


class NotebookPage:
    """One notebook opened in a browser tab of a Jupyter server."""

    def __init__(self, page: Page, server: JupyterServer, name: str) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.errors = BrowserErrors(server.app)
        page.on("console", self.errors.on_console)
        page.on("pageerror", self.errors.on_pageerror)

    # -- navigation and kernel --------------------------------------------------------------

    def open(self, timeout_ms: float = 90_000) -> NotebookPage:
        self.page.goto(self.server.notebook_url(self.name), wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout_ms)
        return self

    def kernel_state(self) -> str:
        try:
            return str(self.page.evaluate(_KERNEL_STATE_JS))
        except Exception as exc:  # the page may be navigating
            return f"unknown ({exc})"

    def wait_kernel_idle(self, timeout_ms: float = 60_000) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            self.page.wait_for_function(_KERNEL_IDLE_JS, timeout=timeout_ms, polling=100)
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{self.server.app}: the kernel of {self.name} was not idle within"
                f" {timeout_ms / 1000:.0f} s ({self.kernel_state()})"
                f"\n--- server log ---\n{self.server.log_tail(2000)}"
            ) from None

    def run_all(self) -> None:
        self.page.evaluate(_RUN_ALL_JS)

    def active_cell(self) -> int:
        """The index of the notebook's active cell (arrow keys that leak out move it)."""
        return int(self.page.evaluate(_ACTIVE_CELL_JS))

    def saved_outputs(self) -> list[int]:
        """How many outputs each cell has in the notebook's file on disk (what a save wrote)."""
        saved = nbformat.read(self.server.root / self.name, as_version=4)
        return [len(cell.get("outputs", [])) for cell in saved.cells]

    # -- outputs ----------------------------------------------------------------------------

    def outputs(self) -> Locator:
        return self.page.locator(".jp-OutputArea-output")

    def widget(self, css: str = ".kontext-widget", timeout_ms: float = 60_000) -> Locator:
        """The (first) widget root matching ``css`` in an output, once it is visible."""
        locator = self.page.locator(f".jp-OutputArea-output {css}").first
        self.wait_for(
            lambda: locator.is_visible(), f"a widget {css!r} in an output", timeout_ms=timeout_ms
        )
        return locator

    def cell_errors(self) -> list[str]:
        """Error outputs (exception and traceback) of the notebook's cells, from its model.

        (In the DOM an error looks like any stderr output, so the model is asked instead.)
        """
        try:
            errors: list[str] = self.page.evaluate(_CELL_ERRORS_JS)
        except Exception:  # the page is navigating or gone: nothing to say about cells
            return []
        return [_ANSI.sub("", e).strip() for e in errors]

    def wait_for(
        self,
        condition: Callable[[], Any],
        what: str,
        timeout_ms: float = 30_000,
        interval_s: float = 0.1,
    ) -> Any:
        """Poll ``condition`` until truthy; fail naming ``what`` and any cell tracebacks."""
        deadline = time.monotonic() + timeout_ms / 1000
        last_exc: Exception | None = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except AssertionError:
                raise
            except Exception as exc:  # e.g. a detached element while the DOM re-renders
                last_exc = exc
            if time.monotonic() > deadline:
                break
            tracebacks = self.cell_errors()
            if tracebacks:
                raise AssertionError(
                    f"{self.server.app}: a cell failed while waiting for {what}:\n"
                    + "\n\n".join(tracebacks)
                )
            self.page.wait_for_timeout(interval_s * 1000)
        detail = f" (last error: {last_exc})" if last_exc else ""
        raise AssertionError(
            f"{self.server.app}: timed out after {timeout_ms / 1000:.0f} s waiting for {what}"
            f"{detail}; cell errors: {self.cell_errors() or 'none'}"
        )

    def wait_for_file(self, path: Path, timeout_ms: float = 60_000) -> dict[str, Any]:
        """A JSON file the notebook writes when its setup cell is done."""
        self.wait_for(path.is_file, f"{path.name} written by the notebook", timeout_ms=timeout_ms)
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    # -- evidence ---------------------------------------------------------------------------

    def screenshot(self, label: str, locator: Locator | None = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{safe_name(label)}.png"
        if locator is None:
            self.page.screenshot(path=str(path))
            return path
        # Jupyter scrolls the notebook inside a panel as tall as the window: an element taller
        # than that would come out cut (unpainted). Grow the window for the shot, then restore.
        viewport = self.page.viewport_size
        box = locator.bounding_box()
        if viewport and box and box["height"] + 200 > viewport["height"]:
            self.page.set_viewport_size(
                {"width": viewport["width"], "height": int(box["height"]) + 400}
            )
            try:
                locator.scroll_into_view_if_needed()
                self.page.wait_for_timeout(200)
                locator.screenshot(path=str(path))
            finally:
                self.page.set_viewport_size(viewport)
        else:
            locator.screenshot(path=str(path))
        return path

    def assert_no_browser_errors(self) -> None:
        if self.errors.seen:
            raise AssertionError(
                f"{self.server.app}: {len(self.errors.seen)} browser error(s):\n"
                + "\n".join(f"  - {e}" for e in self.errors.seen)
            )


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150]


def http_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


# ------------------------------------------------------------------- lifecycle helpers

_SAVE_JS = """async () => {
    await window.jupyterapp.commands.execute('docmanager:save');
    return true;
}"""
_RESTART_JS = """async () => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    await kernel.restart();  // no dialog: the kernel connection's own restart
    return true;
}"""
_RUN_CELL_JS = """async (index) => {
    const app = window.jupyterapp;
    app.shell.currentWidget.content.activeCellIndex = index;
    await app.commands.execute('notebook:run-cell');
    return true;
}"""
_OUTPUT_DATA_JS = """(index) => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const outputs = cells.get(index).outputs;
    const found = [];
    for (let j = 0; j < outputs.length; j++) found.push(outputs.get(j).toJSON());
    return found;
}"""


def save_notebook(nb: NotebookPage) -> None:
    """Save the notebook as the user's Ctrl+S does (with the front end's default settings)."""
    nb.page.evaluate(_SAVE_JS)


def restart_kernel(nb: NotebookPage) -> None:
    """Restart the notebook's kernel (what Kernel > Restart does, without its dialog)."""
    nb.page.evaluate(_RESTART_JS)


def run_cell(nb: NotebookPage, index: int) -> None:
    """Run one cell (0-based) of the open notebook."""
    nb.page.evaluate(_RUN_CELL_JS, index)


def cell_outputs(nb: NotebookPage, index: int) -> list[dict[str, Any]]:
    """The outputs of one cell as the front end's notebook model holds them (nbformat JSON)."""
    found: list[dict[str, Any]] = nb.page.evaluate(_OUTPUT_DATA_JS, index)
    return found


def block_the_network(page: Page, allowed_host: str = "127.0.0.1") -> list[str]:
    """Abort every request to another host (a CDN, the internet); the list of those aborted."""
    from urllib.parse import urlparse

    aborted: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname == allowed_host:
            route.continue_()
        else:
            aborted.append(url)
            route.abort()

    page.route("**/*", handle)
    return aborted
