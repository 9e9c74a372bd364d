"""Driving KontextWidget's front end the way a user does: by role and accessible name.

The names come from docs/widget-protocol.md ("Accessible names"). Everything is scoped to the
widget's root (``.kontext-widget``), so JupyterLab's own buttons never match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator

from kontext_widgets import fields

from .harness import NotebookPage, http_json

#: The setup cell of every scenario. ``{LATENCY}`` is the simulator's latency in seconds;
#: ``{NAME}`` the notebook's stem (the cell tells the test its URLs through ``{NAME}.info.json``).
SETUP_CELL = """
import functools, http.server, json, pathlib, shutil, tempfile, threading
import kontext_widgets as kw
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer

# An input image served over http on loopback: what "Add URL" is given, and what the
# simulator fetches (it fetches loopback URLs only: allow_remote_fetch=False).
_images = pathlib.Path(tempfile.mkdtemp(prefix="kw-browser-images-"))
shutil.copy(kw.samples.path("person"), _images / "person.png")

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

_httpd = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(_images))
)
threading.Thread(target=_httpd.serve_forever, daemon=True).start()
image_url = f"http://127.0.0.1:{_httpd.server_address[1]}/person.png"

# Each test's kernel keeps its own store: a run of another test (or of the other front end)
# must not serve these settings' images for free.
import os
from kontext_widgets.store import STORE_ENV
os.environ[STORE_ENV] = tempfile.mkdtemp(prefix="kw-browser-store-")

sim = SimulatorServer(
    SimulatorConfig(latency_s={LATENCY}, output_long_side=512, allow_remote_fetch=False)
)
sim.start()
w = kw.KontextWidget(client=kw.Client(base_url=sim.url))
pathlib.Path("{NAME}.info.json").write_text(
    json.dumps({"simulator": sim.url, "image_url": image_url})
)
w
"""

# For each output marker (data-kw-output), climb to the smallest ancestor that holds exactly
# that output's image and label; report what a user sees of it.
_TILES_JS = """(root) => {
    // A run's row: the front end's article around gallery.py's HTML (or that HTML alone).
    let rows = Array.from(root.querySelectorAll('.kw-results .kw-result'));
    if (!rows.length) rows = Array.from(root.querySelectorAll('.kw-gallery'));
    return rows.map((row) => ({
        text: row.innerText,
        tiles: Array.from(row.querySelectorAll('[data-kw-output]')).map((marker) => {
            let tile = marker;
            const done = (el) =>
                el.querySelector('img') && /seed\\s+\\d+/.test(el.textContent || '');
            while (!done(tile) && tile.parentElement && tile !== row) {
                const up = tile.parentElement;
                if (up.querySelectorAll('[data-kw-output]').length > 1) break;
                tile = up;
            }
            const img = tile.tagName === 'IMG' ? tile : tile.querySelector('img');
            const box = (img || tile).getBoundingClientRect();
            return {
                key: marker.getAttribute('data-kw-output'),
                text: (tile.innerText || tile.textContent || '').trim(),
                loaded: !!img && img.complete && img.naturalWidth > 0,
                // the front end adds an output's actions once it is done
                done: !!tile.querySelector('button[aria-label^="Use "][aria-label$=" as input"]'),
                src: img ? (img.getAttribute('src') || '').slice(0, 30) : '',
                width: img ? img.naturalWidth : 0,
                height: img ? img.naturalHeight : 0,
                x: box.left,
                y: box.top,
            };
        }),
    }));
}"""


@dataclass
class Setup:
    simulator: str
    image_url: str

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = http_json(f"{self.simulator}/_simulator/stats")
        return stats


class KontextUI:
    """The widget's controls, found by role and accessible name inside its root."""

    def __init__(self, nb: NotebookPage, root: Locator) -> None:
        self.nb = nb
        self.root = root

    @classmethod
    def start(cls, nb: NotebookPage) -> tuple[KontextUI, Setup]:
        """Run the notebook (made from SETUP_CELL) and wait for the widget."""
        nb.run_all()
        info_file = nb.server.root / f"{nb.name.removesuffix('.ipynb')}.info.json"
        info = nb.wait_for_file(info_file)
        root = nb.widget(".kontext-widget")
        ui = cls(nb, root)
        # The front end is ready for input once its controls are there.
        nb.wait_for(lambda: ui.generate_button.is_visible(), "the Generate button")
        return ui, Setup(info["simulator"], info["image_url"])

    # -- controls -----------------------------------------------------------------------------

    def button(self, name: str | re.Pattern[str]) -> Locator:
        return self.root.get_by_role("button", name=name, exact=isinstance(name, str))

    @property
    def prompt(self) -> Locator:
        return self.root.get_by_role("textbox", name="Prompt", exact=True)

    @property
    def url_box(self) -> Locator:
        return self.root.get_by_role("textbox", name="Image URL", exact=True)

    @property
    def file_input(self) -> Locator:
        return self.root.get_by_label("Image files", exact=True)

    @property
    def generate_button(self) -> Locator:
        # "Generate", or "Generate 3 images" once Python's plan says how many.
        return self.button(re.compile(r"^Generate\b"))

    @property
    def fresh_button(self) -> Locator:
        return self.button(re.compile(r"^Make new images\b"))

    def cost_text(self) -> str:
        return self.root.locator(".kw-cost").inner_text().strip()

    @property
    def cancel_button(self) -> Locator:
        return self.button("Cancel")

    @property
    def remove_buttons(self) -> Locator:
        return self.button(re.compile(r"^Remove "))

    @property
    def seed(self) -> Locator:
        return self.root.get_by_role("spinbutton", name="Seed", exact=True)

    @property
    def lock_seed(self) -> Locator:
        return self.root.get_by_role("checkbox", name="Lock seed", exact=True)

    @property
    def compare(self) -> Locator:
        return self.root.get_by_role("spinbutton", name="Compare seeds", exact=True)

    @property
    def guidance(self) -> Locator:
        # Named by the settings registry, as the front end draws it from `field_specs`.
        label = fields.by_trait("guidance_scale").label
        return self.root.get_by_role("slider", name=label, exact=True)

    @property
    def jobs(self) -> Locator:
        return self.root.get_by_role("list", name="Jobs", exact=True)

    def ratio(self, name: str) -> Locator:
        return self.root.get_by_role("radiogroup", name="Aspect ratio").get_by_role(
            "radio", name=name, exact=True
        )

    # -- what the widget says -----------------------------------------------------------------

    def alert_text(self) -> str:
        return "\n".join(self.root.get_by_role("alert").all_inner_texts()).strip()

    def jobs_text(self) -> str:
        return "\n".join(self.jobs.all_inner_texts()).strip()

    def status_text(self) -> str:
        return "\n".join(self.root.get_by_role("status").all_inner_texts()).strip()

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.root.evaluate(_TILES_JS)
        return rows

    def describe(self) -> str:
        """What the widget shows, for failure messages."""
        try:
            return (
                f"status: {self.status_text()!r}; alert: {self.alert_text()!r};"
                f" rows: {[[t['text'] for t in r['tiles']] for r in self.rows()]}"
            )
        except Exception as exc:
            return f"(widget not readable: {exc})"

    # -- actions ------------------------------------------------------------------------------

    def set_prompt(self, text: str) -> None:
        self.prompt.fill(text)
        self.prompt.press("Tab")  # commit (change event) the way a user leaving the box does

    def set_number(self, box: Locator, value: int) -> None:
        box.fill(str(value))
        box.press("Tab")

    def add_url(self, url: str) -> None:
        self.url_box.fill(url)
        self.button("Add URL").click()

    def add_url_and_wait(self, url: str) -> None:
        before = self.remove_buttons.count()
        self.add_url(url)
        self.wait(lambda: self.remove_buttons.count() == before + 1, f"image {url} in the list")

    def add_file_and_wait(self, path: Path) -> None:
        before = self.remove_buttons.count()
        self.file_input.set_input_files(str(path))
        self.wait(
            lambda: self.remove_buttons.count() == before + 1, f"file {path.name} in the list"
        )

    def wait(self, condition: Any, what: str, timeout_ms: float = 30_000) -> Any:
        try:
            return self.nb.wait_for(condition, what, timeout_ms=timeout_ms)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nwidget: {self.describe()}") from None

    def wait_for_row(
        self, index: int, seeds: list[int], timeout_ms: float = 60_000
    ) -> dict[str, Any]:
        """Row ``index`` with one finished tile per seed, labelled ``seed N``, in that order.

        While a run goes, its row shows placeholder tiles (already labelled); a tile is finished
        when its image is loaded and the front end has added its actions ("Use … as input").
        """

        def ready() -> dict[str, Any] | None:
            rows = self.rows()
            if len(rows) <= index:
                return None
            row = rows[index]
            tiles = row["tiles"]
            if len(tiles) != len(seeds) or not all(t["loaded"] and t["done"] for t in tiles):
                return None
            labels = [_seed_of(t["text"]) for t in tiles]
            return row if labels == seeds else None

        row: dict[str, Any] = self.wait(
            ready, f"row {index + 1} with outputs for seeds {seeds}", timeout_ms=timeout_ms
        )
        return row


def _seed_of(text: str) -> int | None:
    match = re.search(r"seed\s+(\d+)", text)
    return int(match.group(1)) if match else None
