"""KontextWidget's images and outputs: the input list, use as input, full-size answers,
copy as code, what a saved notebook holds, and closing."""

from __future__ import annotations

import ast
import base64
import inspect
import io
import json
import subprocess
import sys
from typing import Any

import nbformat
import pytest
from PIL import Image

import kontext_widgets as kw
from kontext_widgets import Client, InvalidRequestError, KontextWidget
from kontext_widgets.display import html_row
from kontext_widgets.history import HistoryStep
from kontext_widgets.simulator import SimulatorServer

from ..conftest import MakeSimulator, png_bytes
from .helpers import (
    DATA_URI,
    LANDSCAPE,
    PERSON,
    SECRET,
    SHOES,
    WidgetFactory,
    answers,
    edit,
    from_front_end,
    until,
)

# --------------------------------------------------------------------------- images


async def test_add_remove_and_move_images(make_widget: WidgetFactory) -> None:
    w = make_widget()
    from_front_end(w, {"type": "add_url", "url": "https://example.com/one.png"})
    from_front_end(w, {"type": "add_files", "names": ["two.png"]}, [png_bytes(color="green")])
    from_front_end(w, {"type": "add_url", "url": "ftp://example.com/three.png"})
    assert "http" in w.error
    assert [(i["name"], i["kind"]) for i in w.images] == [("one.png", "url"), ("two.png", "file")]
    assert w.images[1]["src"].startswith("data:image/jpeg;base64,")

    from_front_end(w, {"type": "add_files", "names": ["notes.txt"]}, [b"just text"])
    assert "notes.txt" in w.error
    assert "not a readable image" in w.error
    assert len(w.images) == 2

    two = w.images[1]["id"]
    from_front_end(w, {"type": "move_image", "id": two, "to": 0})
    assert [i["name"] for i in w.images] == ["two.png", "one.png"]
    from_front_end(w, {"type": "remove_image", "id": two})
    assert [i["name"] for i in w.images] == ["one.png"]
    from_front_end(w, {"type": "remove_image", "id": "img99"})
    assert "img99" in w.error
    assert len(w.images) == 1

    # Same name twice: told apart, since names label the per-image buttons.
    from_front_end(w, {"type": "add_files", "names": ["one.png"]}, [png_bytes()])
    assert [i["name"] for i in w.images] == ["one.png", "one.png (2)"]


async def test_at_most_five_images(make_widget: WidgetFactory) -> None:
    w = make_widget(images=[PERSON, SHOES, LANDSCAPE, "https://example.com/4.png"])
    three = [png_bytes(color=c) for c in ("red", "green", "blue")]
    from_front_end(w, {"type": "add_files", "names": ["a.png", "b.png", "c.png"]}, three)
    assert [i["name"] for i in w.images][-1] == "a.png"  # the one that fit
    assert len(w.images) == 5
    assert "b.png" in w.error
    assert "c.png" in w.error
    assert "at most 5 images" in w.error
    from_front_end(w, {"type": "add_url", "url": "https://example.com/6.png"})
    assert "at most 5 images: remove one first" in w.error
    assert len(w.images) == 5
    with pytest.raises(InvalidRequestError, match="at most 5"):
        w.add_image(PERSON)


async def test_same_size_inputs_and_outputs(make_widget: WidgetFactory) -> None:
    same = [png_bytes((64, 48), "red"), png_bytes((64, 48), "blue")]
    w = make_widget(prompt="blend", images=same, seeds=[1, 2, 3])
    predictions = await w.generate()
    assert len({p.images[0].to_pil().size for p in predictions}) == 1  # same-size outputs
    assert w.rows[-1]["html"].count('<img src="data:image/jpeg') == 3


# --------------------------------------------------------------------------- outputs


async def test_use_as_input_adds_the_output_and_history(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    w = make_widget(prompt="a red hat", images=[PERSON], seeds=[1, 2])
    await w.generate()
    key = w.rows[-1]["outputs"][1]["key"]
    from_front_end(w, {"type": "use_as_input", "key": key})
    assert w.error == ""
    assert [(i["name"].split(" · ")[0], i["kind"]) for i in w.images] == [
        ("person.png", "file"),
        ("seed 2", "output"),
    ]
    assert w.images[1]["src"].startswith("data:image/jpeg;base64,")
    [entry] = w.get_state("history")["history"]
    assert entry["key"] == key
    assert (entry["prompt"], entry["seed"], entry["parents"]) == ("a red hat", 2, ["person.png"])
    assert entry["thumb"].startswith("data:image/jpeg;base64,")
    [step] = w.history
    assert isinstance(step, HistoryStep)
    assert (step.key, step.label) == (key, "step 1 · seed 2")

    uploads = simulator.stats()["uploads"]
    edit(w, prompt="now make it blue", seed_list="3")
    [next_one] = await w.generate(images=[w.output(key).data])
    assert simulator.stats()["uploads"] == uploads + 1  # the output went up as a new input
    step2 = w.use_as_input(next_one, replace=True)
    assert step2.parents == ("<" + str(len(w.output(key).data)) + " bytes>",)
    assert [i["kind"] for i in w.images] == ["output"]
    [again] = await w.generate(prompt="and a scarf")
    step3 = w.use_as_input(again)
    assert step3.parents == (step2.key,)
    assert [s.label.split(" · ")[0] for s in w.history] == ["step 1", "step 2", "step 3"]

    from_front_end(w, {"type": "use_as_input", "key": "nope:0"})
    assert "nope:0" in w.error


async def test_use_as_input_is_refused_when_full(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="x", images=[PERSON] * 5, seeds=1)
    [p] = await w.generate()
    from_front_end(w, {"type": "use_as_input", "key": f"{p.id}:0"})
    assert "at most 5 images" in w.error
    assert len(w.images) == 5
    assert w.history == []


async def test_fetch_full_and_fetch_input_answer_with_bytes(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    async with Client(base_url=simulator.url) as client:
        url = await client.upload(png_bytes())
    w = make_widget(prompt="x", images=[PERSON, url], seeds=4)
    [p] = await w.generate()
    from_front_end(w, {"type": "fetch_full", "key": f"{p.id}:0", "request_id": "r1"})
    [(answer, buffers)] = answers(w, "full")
    assert answer["request_id"] == "r1"
    assert answer["mime"] == "image/png"
    assert answer["name"].endswith("-seed4.png")
    assert buffers == [p.images[0].data]

    from_front_end(w, {"type": "fetch_full", "key": "nope:0", "request_id": "r2"})
    assert "nope:0" in answers(w, "full")[-1][0]["error"]
    from_front_end(w, {"type": "fetch_input", "index": 0, "request_id": "r3"})
    answer, buffers = answers(w, "full")[-1]
    assert (answer["request_id"], answer["name"]) == ("r3", "person.png")
    assert buffers == [PERSON.read_bytes()]
    from_front_end(w, {"type": "fetch_input", "index": 1, "request_id": "r4"})
    answer, buffers = answers(w, "full")[-1]
    assert answer["url"] == url
    assert buffers == []
    from_front_end(w, {"type": "fetch_input", "index": 7, "request_id": "r5"})
    assert "index 7" in answers(w, "full")[-1][0]["error"]


async def test_copy_code_is_runnable_python_without_the_key(
    make_widget: WidgetFactory, make_simulator: MakeSimulator
) -> None:
    locked = make_simulator(api_key=SECRET)
    w = make_widget(
        prompt='say "hi"\nand <b>bye</b>',
        images=[PERSON],
        seeds=[2],
        aspect_ratio="3:4",
        api_key=SECRET,
        base_url=locked.url,
    )
    from_front_end(w, {"type": "add_files", "names": ["holiday\nphoto.png"]}, [png_bytes()])
    [p] = await w.generate()
    from_front_end(w, {"type": "copy_code", "key": f"{p.id}:0", "request_id": "c1"})
    [(answer, buffers)] = answers(w, "code")
    code = answer["code"]
    assert answer["request_id"] == "c1"
    assert buffers == []
    assert SECRET not in code
    assert "await client.run(" in code
    assert "seed=2" in code
    assert "aspect_ratio='3:4'" in code
    assert repr(str(PERSON)) in code  # a path the user gave stays runnable
    assert "'holiday photo.png',  # a file from your computer" in code
    # Valid as a notebook cell (top-level await), and it runs: against the offline simulator.
    compile(code, "<copy>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    runnable = code.replace("'holiday photo.png'", repr(str(SHOES)))
    namespace: dict[str, Any] = {}
    result = eval(
        compile(runnable, "<copy>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace
    )
    if inspect.iscoroutine(result):
        await result
    again = namespace["prediction"]
    assert again.status.value == "completed"
    assert again.request.seed == 2

    from_front_end(w, {"type": "copy_code", "key": "nope:0", "request_id": "c2"})
    assert "nope:0" in answers(w, "code")[-1][0]["error"]


# --------------------------------------------------------------------------- what is saved


async def test_the_gallery_escapes_what_people_type(make_widget: WidgetFactory) -> None:
    script = "<script>alert(1)</script>"
    w = make_widget(prompt=script, images=[PERSON], seeds=[1, 2])
    from_front_end(w, {"type": "add_files", "names": [f'{script}".png']}, [png_bytes()])
    await w.generate()
    html = w.rows[-1]["html"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert script in w.rows[-1]["title"]  # plain text: the front end sets it as text
    state = json.dumps(w.get_state())
    assert "<script>alert" not in state.replace(json.dumps(script)[1:-1], "")


async def test_thumbnails_are_small_and_full_size_stays_in_python(
    make_widget: WidgetFactory, make_simulator: MakeSimulator
) -> None:
    big = make_simulator(output_long_side=1024)
    large_input = png_bytes((1600, 1200))
    w = make_widget(prompt="x", images=[large_input, PERSON], seeds=[1, 2], server=big)
    await w.generate()
    w.use_as_input(w.results[0])
    state = json.dumps(w.get_state())
    uris = DATA_URI.findall(state)
    assert len(uris) >= 2 + 2 + 1 + 1  # inputs, outputs, the output as input, history
    for kind, payload in uris:
        data = base64.b64decode(payload)
        assert len(data) < 40_000
        if kind == "jpeg":
            assert max(Image.open(io.BytesIO(data)).size) <= 256
    assert "iVBORw0KGgo" not in state  # no PNG (what full-size inputs and outputs are) at all


async def test_traits_and_messages_never_hold_the_key(
    make_widget: WidgetFactory, make_simulator: MakeSimulator
) -> None:
    locked = make_simulator(api_key=SECRET)
    w = make_widget(prompt="x", images=[PERSON], seeds=[1], api_key=SECRET, base_url=locked.url)
    await until(lambda: w.simulated)  # the balance was fetched (with the key) in the background
    assert w.balance is None  # the simulator's answers say it is one: no balance to show
    [p] = await w.generate()
    from_front_end(w, {"type": "copy_code", "key": f"{p.id}:0", "request_id": "c"})
    from_front_end(w, {"type": "fetch_full", "key": f"{p.id}:0", "request_id": "f"})
    w.use_as_input(p)
    assert SECRET not in json.dumps(w.get_state())
    assert SECRET not in json.dumps([content for content, _ in w.sent])
    assert SECRET not in repr(w) + repr(w.client) + w.status + w.error

    wrong = make_widget(prompt="x", images=[PERSON], api_key="wrong-key", base_url=locked.url)
    await until(lambda: bool(wrong.error))
    assert "401" in wrong.error
    assert "wrong-key" not in wrong.error


async def test_a_16_seed_comparison_saves_small(
    make_widget: WidgetFactory, make_simulator: MakeSimulator
) -> None:
    big = make_simulator(output_long_side=1024)
    w = make_widget(
        prompt="compare sixteen seeds",
        images=[PERSON, SHOES],
        aspect_ratio="1:1",
        server=big,
        concurrency=8,
    )
    edit(w, seed=100, seed_locked=True, compare=16)
    predictions = await w.generate()
    assert len(predictions) == 16
    assert all(p.images for p in predictions)
    assert max(p.images[0].to_pil().size[0] for p in predictions) == 1024

    # The notebook as saved: the widget's state in the metadata, its view in the cell output,
    # and a `kw.show(w.results)` row in the next cell.
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                w.model_id: {
                    "model_name": w._model_name,
                    "model_module": w._model_module,
                    "model_module_version": w._model_module_version,
                    "state": w.get_state(),
                }
            },
        }
    }
    view = nbformat.v4.new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {
                "model_id": w.model_id,
                "version_major": 2,
                "version_minor": 0,
            },
            "text/plain": repr(w),
        },
    )
    shown = nbformat.v4.new_output("display_data", data={"text/html": html_row(w.results)})
    nb.cells = [
        nbformat.v4.new_code_cell("w", outputs=[view]),
        nbformat.v4.new_code_cell("kw.show(w.results)", outputs=[shown]),
    ]
    saved = nbformat.writes(nb)
    size = len(saved.encode())
    print(f"\nsaved notebook after a 16-seed comparison of 1024 px outputs: {size:,} bytes")
    assert size < 2_000_000
    assert SECRET not in saved
    assert "iVBORw0KGgo" not in saved


# --------------------------------------------------------------------------- lifecycle


async def test_close_closes_the_client_the_widget_made(simulator: SimulatorServer) -> None:
    w = KontextWidget(prompt="x", images=[PERSON], seeds=1, base_url=simulator.url)
    await w.generate()
    session = w.client._http
    assert session is not None
    assert not session.closed
    await w.aclose()
    assert session.closed
    assert w.comm is None

    mine = Client(base_url=simulator.url)
    shared = KontextWidget(prompt="x", images=[PERSON], seeds=1, client=mine)
    await shared.generate()
    await shared.aclose()
    assert mine._http is not None
    assert not mine._http.closed
    await mine.close()


def test_the_package_exports_the_widget() -> None:
    assert kw.KontextWidget is KontextWidget
    assert "KontextWidget" in kw.__all__
    assert "export" in str(KontextWidget._esm)  # the bundle's contents, read by anywidget


def test_a_missing_front_end_bundle_is_a_clear_error() -> None:
    """The package imports without the bundle; the widget then says how to build it."""
    script = (
        "from pathlib import Path\n"
        "import kontext_widgets._frontend as frontend\n"
        "frontend.ESM = Path('/nonexistent/widget.js')\n"
        "import kontext_widgets as kw\n"
        "assert kw.Client and kw.KontextRequest\n"
        "try:\n"
        "    kw.KontextWidget\n"
        "except frontend.FrontendBundleMissingError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert "npm --prefix js run build" in done.stdout
    assert "/nonexistent/widget.js" in done.stdout
