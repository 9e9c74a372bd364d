"""KontextWidget against the simulator over real TCP, driven like the front end drives it.

Messages go in through ipywidgets' own entry point (``_handle_msg`` with the comm message
shape the browser sends), trait edits as ``update`` messages; what the widget shows is read
from its traits. Only the answers to ``fetch_full``/``fetch_input``/``copy_code`` travel as
messages, so those tests record ``send``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PIL import Image

import kontext_widgets as kw
from kontext_widgets import Client, InvalidRequestError
from kontext_widgets.contract import SEED_MAX
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.widget import MAX_ROWS

from ..conftest import MakeSimulator, png_bytes
from .helpers import (
    LANDSCAPE,
    PERSON,
    SHOES,
    WidgetFactory,
    edit,
    from_front_end,
    settled,
    states,
    until,
)

# --------------------------------------------------------------------------- construction


async def test_constructor_sets_traits(make_widget: WidgetFactory) -> None:
    pil = Image.new("RGB", (40, 30), "blue")
    w = make_widget(
        client=Client(),  # no key: the simulator this process starts, known to be one at once
        prompt="put the shoes on her",
        images=["https://example.com/a%20b.png", PERSON, png_bytes(), pil],
        aspect_ratio="first",
        seeds=[1, 2, 3],
        guidance_scale=5,
        enable_sync_mode=True,
        on_busy="queue",
    )
    assert (w.prompt, w.aspect_ratio, w.guidance_scale, w.sync_mode, w.on_busy) == (
        "put the shoes on her",
        "first",
        5.0,
        True,
        "queue",
    )
    assert (w.seed_list, w.seed_locked, w.seed) == ("1, 2, 3", True, 1)
    assert [(i["kind"], i["name"]) for i in w.images] == [
        ("url", "a b.png"),
        ("file", "person.png"),
        ("file", "<" + str(len(png_bytes())) + " bytes>"),
        ("file", "<PIL image>"),
    ]
    assert w.images[0]["src"] == "https://example.com/a%20b.png"
    assert all(i["src"].startswith("data:image/jpeg;base64,") for i in w.images[1:])
    assert len({i["id"] for i in w.images}) == 4
    assert w.simulated
    assert w.price_per_image == kw.PRICE_PER_IMAGE_USD
    assert w.balance is None
    assert (w.busy, w.jobs, w.rows, w.history, w.problems, w.error) == (False, [], [], [], [], "")
    assert w.status.startswith("Ready")


async def test_a_single_seed_and_no_seed(make_widget: WidgetFactory) -> None:
    fixed = make_widget(seeds=7)
    assert (fixed.seed, fixed.seed_locked, fixed.seed_list, fixed.compare) == (7, True, "", 1)
    drawn = make_widget()
    assert not drawn.seed_locked
    assert 0 <= drawn.seed <= SEED_MAX
    listed = make_widget(seeds="4 5")
    assert (listed.seed_list, listed.seed) == ("4, 5", 4)


async def test_unknown_keyword_arguments_are_refused(make_widget: WidgetFactory) -> None:
    with pytest.raises(TypeError) as info:
        make_widget(prompt="x", seed=3, colour="red")
    message = str(info.value)
    assert "'seed' (did you mean 'seeds'?)" in message
    assert "'colour'" in message
    assert "allowed: prompt, images, aspect_ratio, seeds" in message
    w = make_widget(prompt="x", images=[PERSON])
    with pytest.raises(TypeError, match="generate\\(\\) got an unknown keyword argument 'promt'"):
        await w.generate(promt="y")


async def test_bad_constructor_values_are_refused_like_a_request(
    make_widget: WidgetFactory,
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        make_widget(
            guidance_scale=25,
            aspect_ratio="5:4",
            seeds=[1, 1],
            on_busy="later",
            enable_sync_mode="yes",
        )
    problems = {p.field: str(p) for p in info.value.problems}
    assert set(problems) == {
        "guidance_scale",
        "aspect_ratio",
        "seeds",
        "on_busy",
        "enable_sync_mode",
    }
    assert problems["guidance_scale"] == (
        "guidance_scale: 25 is not allowed; expected a number from 1.0 to 20.0"
    )
    assert "16:9" in problems["aspect_ratio"]
    with pytest.raises(InvalidRequestError, match="images: 6 images is not allowed"):
        make_widget(images=[PERSON] * 6)
    with pytest.raises(InvalidRequestError, match=r"images\[1\]: .*cannot read file"):
        make_widget(images=[PERSON, "/no/such/file.png"])
    with pytest.raises(TypeError, match="either client= or api_key="):
        make_widget(client=Client(base_url="http://127.0.0.1:9"), api_key="k")


# --------------------------------------------------------------------------- problems


async def test_bad_input_gives_problems_and_sends_nothing(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    w = make_widget(prompt="ok", images=[PERSON])
    edit(w, prompt="", guidance_scale=25.0)
    from_front_end(w, {"type": "generate"})
    assert {p["field"] for p in w.problems} == {"prompt", "guidance_scale"}
    assert any("from 1.0 to 20.0" in p["message"] for p in w.problems)
    assert (w.busy, w.jobs, w.rows) == (False, [], [])

    with pytest.raises(InvalidRequestError) as info:
        await w.generate(prompt="fine", guidance_scale=3.5, images=[PERSON] * 6)
    assert info.value.fields == ("images",)
    assert w.problems == [
        {
            "field": "images",
            "message": "images: 6 images is not allowed; expected a list of 1 to 5 images",
        }
    ]
    assert len(w.images) == 1
    assert w.prompt == ""

    edit(w, prompt="fine", guidance_scale=3.5, seed_list="1, two")
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["seed_list"]
    assert "'two'" in w.problems[0]["message"]

    edit(w, seed_list="", compare=17)
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["compare"]

    edit(w, compare=1, on_busy="sometimes")
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["on_busy"]

    await asyncio.sleep(0.3)
    stats = simulator.stats()
    assert (stats["submits"], stats["uploads"]) == (0, 0)


async def test_problems_clear_on_the_next_action(make_widget: WidgetFactory) -> None:
    w = make_widget(images=[PERSON])
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["prompt"]
    from_front_end(w, {"type": "add_url", "url": "https://example.com/x.png"})
    assert w.problems == []


# --------------------------------------------------------------------------- generate


async def test_three_seeds_arrive_one_by_one(make_widget: WidgetFactory) -> None:
    w = make_widget(images=[PERSON, SHOES], concurrency=1)
    job_snapshots: list[list[str]] = []
    row_snapshots: list[list[str]] = []
    status_snapshots: list[str] = []
    w.observe(lambda change: status_snapshots.append(change["new"]), names="status")
    w.observe(lambda change: job_snapshots.append(states(change["new"])), names="jobs")
    w.observe(
        lambda change: row_snapshots.append([o["state"] for o in change["new"][-1]["outputs"]]),
        names="rows",
    )
    edit(w, prompt="put the shoes on her", aspect_ratio="16:9", seed_list="1, 2, 3")
    from_front_end(w, {"type": "generate"})
    assert w.busy  # the handler returned at once; the work runs in a task
    assert not any(s == "done" for s in states(w.jobs))
    await settled(w)

    assert w.error == ""
    assert w.problems == []
    assert states(w.jobs) == ["done", "done", "done"]
    assert [job["label"] for job in w.jobs] == ["seed 1", "seed 2", "seed 3"]
    assert all(job["started"] <= job["finished"] for job in w.jobs)
    assert w.status == "3 of 3 done"
    # Results appeared one by one: at some point one was done and two were not.
    assert any(s.count("done") == 1 and len(s) == 3 for s in job_snapshots)
    assert any(s.count("done") == 1 for s in row_snapshots)
    assert ["uploading"] * 3 in job_snapshots  # the inputs were uploaded first
    assert "Uploading 2 images…" in status_snapshots
    assert "Running: 1 of 3 done" in status_snapshots

    [row] = w.rows
    assert [o["label"] for o in row["outputs"]] == ["seed 1", "seed 2", "seed 3"]
    keys = [o["key"] for o in row["outputs"]]
    for prediction, key in zip(w.results, keys, strict=True):
        assert key == f"{prediction.id}:0"
        assert f'data-kw-output="{key}"' in row["html"]
    for label in ("seed 1", "seed 2", "seed 3"):
        assert label in row["html"]
    assert "SIMULATED" in row["html"]
    assert "SIMULATED" in row["title"]
    assert row["html"].count('<img src="data:image/jpeg') == 3
    results = w.results
    assert [p.request.seed for p in results if p.request] == [1, 2, 3]
    assert all(p.request and p.request.aspect_ratio == "16:9" for p in results)
    out = results[0].images[0].to_pil()
    assert out.width > out.height


async def test_an_unlocked_seed_is_drawn_before_the_run_and_shown(
    make_widget: WidgetFactory,
) -> None:
    w = make_widget(prompt="night", images=[PERSON])
    edit(w, seed=5, seed_locked=False, compare=2)
    from_front_end(w, {"type": "generate"})
    drawn = w.seed
    assert w.seed_locked is False
    assert [job["label"] for job in w.jobs] in ([], [f"seed {drawn}", f"seed {drawn + 1}"])
    await settled(w)
    assert [job["label"] for job in w.jobs] == [f"seed {drawn}", f"seed {drawn + 1}"]
    edit(w, seed_locked=True)
    predictions = await w.generate()
    assert [p.request.seed for p in predictions if p.request] == [drawn, drawn + 1]


async def test_first_ratio_follows_the_first_image(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    w = make_widget(prompt="night", images=[LANDSCAPE, PERSON], aspect_ratio="first", seeds=1)
    [p] = await w.generate()
    assert p.request
    assert p.request.aspect_ratio == "4:3"
    [p] = await w.generate(images=[PERSON])
    assert p.request
    assert p.request.aspect_ratio == "3:4"
    # A URL first image: read once when the run starts.
    async with Client(base_url=simulator.url) as client:
        url = await client.upload(png_bytes((1600, 900)))
    [p] = await w.generate(images=[url])
    assert p.request
    assert p.request.aspect_ratio == "16:9"


async def test_a_failed_prediction_fails_only_its_seed(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    w = make_widget(prompt="night", images=[PERSON], concurrency=1)

    def fail_the_rest(change: dict[str, Any]) -> None:
        # The first task is submitted (its fate drawn); the others are submitted after it ends.
        if change["new"] and change["new"][0]["state"] == "running":
            simulator.configure(fail_rate=1.0)

    w.observe(fail_the_rest, names="jobs")
    predictions = await w.generate(seeds=[1, 2, 3])
    assert states(w.jobs) == ["done", "failed", "failed"]
    assert [p.status.value for p in predictions] == ["completed", "failed", "failed"]
    assert all("failed (code" in job["error"] for job in w.jobs[1:])
    assert w.status == "1 of 3 done, 2 failed"
    [row] = w.rows
    assert [o["state"] for o in row["outputs"]] == ["done", "failed", "failed"]
    assert row["html"].count("FAILED:") == 2


async def test_generate_returns_what_the_button_makes(make_widget: WidgetFactory) -> None:
    w = make_widget(images=[PERSON])
    predictions = await w.generate(prompt="a hat", seeds=[3, 4], aspect_ratio="1:1")
    assert (w.prompt, w.seed_list, w.aspect_ratio) == ("a hat", "3, 4", "1:1")
    assert [p.status.value for p in predictions] == ["completed", "completed"]
    assert w.results == predictions
    more = await w.generate(seeds=9)
    assert w.results == predictions + more
    assert len(w.rows) == 2


async def test_rows_keep_the_newest_runs(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="x", images=[PERSON], seeds=1)
    for _ in range(MAX_ROWS + 1):
        await w.generate()
    assert len(w.rows) == MAX_ROWS
    assert w.rows[0]["id"] == "run2"
    assert w.rows[-1]["id"] == f"run{MAX_ROWS + 1}"
    assert len(w.results) == MAX_ROWS + 1


# --------------------------------------------------------------------------- cancel, replace, queue


async def test_cancel_stops_at_once_and_polling_stops(
    make_widget: WidgetFactory, simulator: SimulatorServer
) -> None:
    w = make_widget(prompt="slow [simulate:latency=30]", images=[PERSON], seeds=[1, 2, 3])
    from_front_end(w, {"type": "generate"})
    await until(lambda: "running" in states(w.jobs))
    from_front_end(w, {"type": "cancel"})
    # At once, before the loop has even delivered the cancellation.
    assert states(w.jobs) == ["cancelled"] * 3
    assert w.busy is False
    assert w.status.startswith("Cancelled")
    await asyncio.sleep(0.1)
    polls = simulator.stats()["polls"]
    await asyncio.sleep(1.2)  # the client would poll several times a second if still waiting
    assert simulator.stats()["polls"] == polls
    assert [o["state"] for o in w.rows[-1]["outputs"]] == ["cancelled"] * 3
    assert w.error == ""


async def test_replace_cancels_the_running_generate(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="slow [simulate:latency=30]", images=[PERSON], seeds=[1, 2])
    first = asyncio.ensure_future(w.generate())
    await until(lambda: "running" in states(w.jobs))
    second = await w.generate(prompt="fast", seeds=[5])
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [p.request.seed for p in second if p.request] == [5]
    assert [[o["state"] for o in row["outputs"]] for row in w.rows] == [
        ["cancelled", "cancelled"],
        ["done"],
    ]
    assert w.results == second
    assert not w.busy


async def test_queue_waits_for_the_running_generate(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="a [simulate:latency=0.5]", images=[PERSON], seeds=[1], on_busy="queue")
    snapshots: list[list[dict[str, Any]]] = []
    w.observe(lambda change: snapshots.append(change["new"]), names="jobs")
    from_front_end(w, {"type": "generate"})
    edit(w, prompt="b", seed_list="2, 3")
    from_front_end(w, {"type": "generate"})
    assert "queued" in w.status
    await settled(w)
    assert [[o["state"] for o in row["outputs"]] for row in w.rows] == [["done"], ["done", "done"]]
    first_of_second = next(i for i, s in enumerate(snapshots) if s[0]["key"].startswith("run2/"))
    assert states(snapshots[first_of_second - 1]) == ["done"]  # run 1 had ended
    finished_first = snapshots[first_of_second - 1][0]["finished"]
    assert all(job["started"] is None or job["started"] >= finished_first for job in snapshots[-1])
    assert [p.request.prompt for p in w.results if p.request] == [
        "a [simulate:latency=0.5]",
        "b",
        "b",
    ]


async def test_cancel_also_drops_queued_generates(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="slow [simulate:latency=30]", images=[PERSON], seeds=1, on_busy="queue")
    from_front_end(w, {"type": "generate"})
    from_front_end(w, {"type": "generate"})
    await until(lambda: "running" in states(w.jobs))
    w.cancel()
    await asyncio.sleep(0.2)
    assert len(w.rows) == 1
    assert not w.busy
    assert states(w.jobs) == ["cancelled"]


# --------------------------------------------------------------------------- errors


async def test_errors_in_tasks_are_shown_not_lost(
    make_widget: WidgetFactory, make_simulator: MakeSimulator
) -> None:
    broken = make_simulator(error_rate=1.0)
    w = make_widget(prompt="x", images=[PERSON], seeds=[1, 2], server=broken)
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert "upload" in w.error
    assert "HTTP 5" in w.error
    assert states(w.jobs) == ["failed", "failed"]
    assert all(job["error"] == w.error for job in w.jobs)
    assert w.rows[-1]["html"].count("FAILED:") == 2
    # The scripted path raises the same error.
    with pytest.raises(kw.ServerError):
        await w.generate()

    # Submits that get no answer: each seed fails, none is sent again (it may be billed).
    with pytest.raises(kw.SubmitOutcomeUnknownError):
        await w.generate(images=["https://example.com/a.png"])
    assert "may still have created (and billed)" in w.error
    assert states(w.jobs) == ["failed", "failed"]
    assert broken.stats()["submits"] == 2


async def test_frontend_errors_and_unknown_messages_are_shown(make_widget: WidgetFactory) -> None:
    w = make_widget()
    from_front_end(w, {"type": "frontend_error", "message": "TypeError: x is undefined"})
    assert w.error == "Front end error: TypeError: x is undefined"
    from_front_end(w, {"type": "add_url", "url": "https://example.com/a.png"})
    assert w.error == ""  # cleared by the next action
    from_front_end(w, {"type": "teleport"})
    assert "unknown message" in w.error
    assert "teleport" in w.error
    from_front_end(w, {"type": "add_files", "names": ["a.png", "b.png"]}, [png_bytes()])
    assert "one name per file" in w.error
    assert len(w.images) == 1
