"""The harness itself: a trivial inline anywidget renders and syncs in JupyterLab and Notebook 7.

Independent of kontext-widgets' own front end: when this fails, the problem is the harness or
the environment (server, kernel, anywidget's lab extension, Chromium), not the widget.
"""

from __future__ import annotations

import json

import pytest

from .conftest import OpenNotebook
from .harness import JupyterServer

pytestmark = pytest.mark.browser

SMOKE_CELL = '''
import json, pathlib
import anywidget, traitlets

class Smoke(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const button = document.createElement("button");
      button.className = "smoke-widget";
      const show = () => { button.textContent = `count is ${model.get("count")}`; };
      button.addEventListener("click", () => {
        model.set("count", model.get("count") + 1);
        model.save_changes();
      });
      model.on("change:count", show);
      show();
      el.appendChild(button);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)

smoke = Smoke()
# The kernel writes every count it receives, so the test sees the front end -> Python direction.
smoke.observe(
    lambda change: pathlib.Path("{NAME}.count.json").write_text(json.dumps(change["new"])),
    "count",
)
smoke
'''


def test_inline_anywidget_renders_and_syncs(
    open_notebook: OpenNotebook, jupyter: JupyterServer
) -> None:
    nb = open_notebook(SMOKE_CELL)
    nb.run_all()
    button = nb.widget(".smoke-widget")
    assert button.inner_text() == "count is 0"

    button.click()
    nb.wait_for(lambda: button.inner_text() == "count is 1", "the button to show count 1")
    count_file = jupyter.root / f"{nb.name.removesuffix('.ipynb')}.count.json"
    nb.wait_for(count_file.is_file, "the kernel to receive the new count")
    assert json.loads(count_file.read_text()) == 1

    nb.screenshot(f"{nb.name.removesuffix('.ipynb')}-widget", button)
    assert nb.cell_errors() == []
    nb.assert_no_browser_errors()
