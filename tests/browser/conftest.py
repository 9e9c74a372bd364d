"""Fixtures of the browser tests: Jupyter servers, Chromium, and one notebook tab per test.

- ``jupyter``: one ``jupyter lab`` and one ``jupyter notebook`` (Notebook 7) per run, one after
  the other, each with a random token on a free loopback port, its own temporary
  config/data/runtime dirs, and ``WAVESPEED_*`` removed from its environment (so every kernel
  uses the offline simulator). Tests using it run in both.
- ``browser_context``: one Chromium (Debian's, through Playwright's ``executable_path``) with a
  fresh profile.
- ``open_notebook``: writes a notebook and opens it in a new tab; console errors and uncaught
  page errors fail the test; a screenshot of the tab goes to ``test-artifacts/browser/``
  whatever the outcome; the test's kernels are shut down afterwards.

The scope is the package (this directory), so everything here is stopped right after the last
browser test, before the rest of the suite runs its asyncio tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from .harness import (
    APPS,
    ARTIFACTS,
    CHROMIUM_ARGS,
    JupyterServer,
    NotebookPage,
    safe_name,
    start_server,
    write_notebook,
)

CHROMIUM = os.environ.get("KW_CHROMIUM", "/usr/bin/chromium")
HERE = Path(__file__).resolve().parent

OpenNotebook = Callable[..., NotebookPage]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this directory is a browser test (``-m "not browser"`` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item (``open_notebook`` checks that the test passed)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# ------------------------------------------------------------------------------- servers


@pytest.fixture(scope="package")
def notebooks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The servers' root dir: tests write their notebooks here (unique names per test)."""
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="package", params=APPS)
def jupyter(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, notebooks_dir: Path
) -> Iterator[JupyterServer]:
    """The server a test runs in: each test using it runs in JupyterLab and in Notebook 7.

    pytest groups the tests by this package-scoped parameter, so each server starts once and is
    stopped before the other one starts (one server's memory at a time).
    """
    app: str = request.param
    server = start_server(app, tmp_path_factory.mktemp(f"jupyter-{app}"), notebooks_dir)
    try:
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, ARTIFACTS / f"jupyter-{app}.log")


# ------------------------------------------------------------------------------- browser


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """Debian's Chromium; its absence fails (never skips) the browser tests."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need it. Install it with"
            " `apt-get install -y --no-install-recommends chromium fonts-dejavu-core` (scripts/test"
            " does this when run as root), set KW_CHROMIUM to another Chromium binary, or leave"
            ' these tests out with -m "not browser".',
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="package")
def browser_context(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1600, "height": 1000},
            device_scale_factor=1,
            accept_downloads=False,
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


# ------------------------------------------------------------------------------ per test


@pytest.fixture
def open_notebook(
    request: pytest.FixtureRequest,
    jupyter: JupyterServer,
    browser_context: BrowserContext,
    notebooks_dir: Path,
) -> Iterator[OpenNotebook]:
    """``open_notebook(*cells)`` writes a notebook of those cells and opens it in a new tab.

    The notebook's name is unique to the test; ``{NAME}`` in a cell is replaced by the name's
    stem (cells use it to name files they write for the test). Afterwards: a screenshot, the
    browser-error check (only if the test itself passed, so its own failure is what is shown),
    the tab closed and the kernels shut down.
    """
    opened: list[NotebookPage] = []
    stem = safe_name(request.node.name)

    def open_(*cells: str, timeout_ms: float = 90_000) -> NotebookPage:
        name = f"{stem}-{len(opened)}" if opened else stem
        write_notebook(notebooks_dir / f"{name}.ipynb", *(c.replace("{NAME}", name) for c in cells))
        page = browser_context.new_page()
        nb = NotebookPage(page, jupyter, f"{name}.ipynb")
        opened.append(nb)
        nb.open(timeout_ms=timeout_ms)
        return nb

    yield open_

    try:
        for nb in opened:
            try:
                nb.screenshot(f"{nb.name.removesuffix('.ipynb')}-page")
            except Exception as exc:  # a crashed tab must not hide the test's own failure
                print(f"screenshot of {nb.name} failed: {exc}")
        call = getattr(request.node, "rep_call", None)
        if call is not None and call.passed:
            for nb in opened:
                nb.assert_no_browser_errors()
    finally:
        for nb in opened:
            if nb.errors.ignored:
                print(f"{nb.name}: known browser errors ignored: {nb.errors.ignored}")
            try:
                nb.page.close()
            except Exception as exc:
                print(f"closing the tab of {nb.name} failed: {exc}")
        jupyter.shutdown_kernels()
