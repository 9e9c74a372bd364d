"""The widget's sweep mode against the simulator over real TCP, driven like the front end.

Trait edits arrive as ipywidgets ``update`` messages and commands as custom messages
through ``_handle_msg`` (helpers from test_widget); what the widget shows is read from
its traits, what it cost from the simulator's counters.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from kontext_widgets import Client, InvalidRequestError, KontextWidget, samples
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.sweeps import BudgetExceededError

from ..conftest import MakeSimulator, png_bytes
from .helpers import (
    FAST_RETRY,
    WidgetFactory,
    answers,
    edit,
    from_front_end,
    settled,
    until,
)

PERSON = samples.path("person")
THUMB = re.compile(r"data:image/jpeg;base64,")


def sweep_row(widget: KontextWidget, sweep_id: str = "sweep1") -> dict[str, Any]:
    [row] = [r for r in widget.rows if r["id"] == sweep_id]
    return row


# --------------------------------------------------------------------------- the plan line


async def test_the_plan_line_follows_the_axes(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="make it night", images=[PERSON], store=tmp_path)
    edit(w, sweep_seeds="1-4")
    assert w.sweep_plan == ""  # single mode: nothing is planned
    edit(w, mode="sweep")
    assert w.sweep_plan.startswith("4 cells (4 seeds); cost $0.16")
    assert w.sweep_plan.endswith("at concurrency 2")
    assert w.sweep_axes == ["seed"]

    edit(w, sweep_prompts="make it night\n\nmake it snow\n")
    edit(w, sweep_ratios=["16:9", "1:1", "3:4"])
    assert w.sweep_plan.startswith("24 cells (2 prompts × 3 aspect ratios × 4 seeds); cost $0.96")
    assert w.sweep_axes == ["prompt", "aspect_ratio", "seed"]

    edit(w, sweep_concurrency=4, sweep_guidance="2.0:3.0:0.5")
    assert w.sweep_plan.startswith("72 cells (2 prompts × 3 aspect ratios × 3 guidance values")
    assert "$2.88" in w.sweep_plan
    assert w.sweep_plan.endswith("at concurrency 4")

    # A count of seeds is that many random seeds, drawn once: re-planning shows the same ones.
    edit(w, sweep_prompts="", sweep_ratios=[], sweep_guidance="", sweep_seeds="3")
    assert w.sweep_plan.startswith("3 cells (3 seeds)")
    drawn = w.sweep_plan.split("random seeds ")[1]
    assert len(drawn.split(", ")) == 3
    edit(w, sweep_budget=4.0)
    assert w.sweep_plan.split("random seeds ")[1] == drawn

    # Nothing was sent while planning.
    assert (simulator.stats()["submits"], simulator.stats()["uploads"]) == (0, 0)


async def test_planning_uses_the_images_the_widget_holds(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    copy = tmp_path / "picked.png"
    shutil.copyfile(PERSON, copy)
    w = make_widget(prompt="x", images=[copy], store=tmp_path / "store")
    copy.unlink()  # planning must not read the file again: it has the bytes
    edit(w, mode="sweep", sweep_seeds="1-2")
    assert w.sweep_plan.startswith("2 cells (2 seeds)")
    edit(w, sweep_seeds="1-3")
    assert w.sweep_plan.startswith("3 cells (3 seeds)")


async def test_problems_show_in_the_plan_line_as_they_are_typed(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[PERSON], store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1-")
    assert w.sweep_plan.startswith("Cannot plan the sweep: Sweep seeds: '1-' is not allowed;")
    assert "START-END" in w.sweep_plan
    assert w.sweep_axes == []
    assert w.problems == []  # shown live in the plan line; marked only on Generate
    edit(w, sweep_seeds="1-2")
    assert w.sweep_plan.startswith("2 cells")


# --------------------------------------------------------------------------- refusals


async def test_bad_axis_text_gives_problems_and_sends_nothing(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[PERSON], store=tmp_path)
    edit(
        w,
        mode="sweep",
        sweep_seeds="1, x",
        sweep_guidance="2, 30",
        sweep_ratios=["16:9", "5:4"],
        sweep_prompts="fine\nsnow\n fine ",
        sweep_concurrency=0,
        sweep_cols="size",
    )
    from_front_end(w, {"type": "generate"})
    problems = {p["field"]: p["message"] for p in w.problems}
    assert set(problems) == {
        "sweep_seeds",
        "sweep_guidance",
        "sweep_ratios",
        "sweep_prompts",
        "sweep_concurrency",
        "sweep_cols",
    }
    # Each names the field and says what is allowed.
    assert problems["sweep_seeds"].startswith("sweep_seeds: 'x' is not allowed; expected a range")
    assert "from 1 to 20" in problems["sweep_guidance"]
    assert "'5:4'" in problems["sweep_ratios"]
    assert "16:9" in problems["sweep_ratios"]
    assert problems["sweep_prompts"] == "sweep_prompts: 'fine' is not allowed; each prompt once"
    assert "from 1 to 16" in problems["sweep_concurrency"]
    assert "prompt, aspect_ratio, guidance_scale, seed" in problems["sweep_cols"]
    assert w.busy is False
    assert w.status.startswith("Nothing was sent")
    await asyncio.sleep(0.2)
    stats = simulator.stats()
    assert (stats["submits"], stats["uploads"]) == (0, 0)
    assert w.rows == []
    assert w.sweep_result is None


async def test_a_mode_the_widget_does_not_know_is_refused(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[PERSON], store=tmp_path)
    edit(w, mode="grid")
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["mode"]
    assert "'single' or 'sweep'" in w.problems[0]["message"]
    assert simulator.stats()["submits"] == 0


async def test_over_budget_is_refused_unless_allowed(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1-10", sweep_budget=0.2)
    assert "cost $0.40" in w.sweep_plan
    assert "above the budget of $0.20" in w.sweep_plan
    from_front_end(w, {"type": "generate"})
    assert [p["field"] for p in w.problems] == ["sweep_budget"]
    assert "would cost $0.40, above the budget of $0.20" in w.problems[0]["message"]
    assert "Allow over budget" in w.problems[0]["message"]
    assert w.busy is False
    with pytest.raises(BudgetExceededError):
        await w.sweep()
    await asyncio.sleep(0.2)
    assert simulator.stats()["submits"] == 0

    edit(w, sweep_allow_over_budget=True)
    assert "above the budget" not in w.sweep_plan
    from_front_end(w, {"type": "generate"})
    assert w.problems == []
    await settled(w)
    assert simulator.stats()["submits"] == 10
    assert w.sweep_result is not None
    assert len(w.sweep_result.done) == 10


# --------------------------------------------------------------------------- running


async def test_a_2x3_sweep_fills_a_grid_with_legends(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="make it <b>night</b>", images=[PERSON], store=tmp_path)
    shown: list[str] = []
    w.observe(lambda change: shown.extend(r["html"] for r in change["new"]), names="rows")
    edit(
        w, mode="sweep", sweep_seeds="1, 2", sweep_guidance="2, 3.5, 5", sweep_cols="guidance_scale"
    )
    from_front_end(w, {"type": "generate"})
    assert w.busy is True
    await settled(w)

    assert simulator.stats()["submits"] == 6
    assert simulator.stats()["uploads"] == 1  # the local image went up once for all cells
    row = sweep_row(w)
    page = row["html"]
    for legend in ("guidance 2", "guidance 3.5", "guidance 5", "seed 1", "seed 2"):
        assert legend in page
    assert "columns: guidance · rows: seed" in page
    assert len(THUMB.findall(page)) == 6
    assert "<b>night" not in page  # escaped
    assert row["title"] == "Sweep 1: 6 cells (3 guidance values × 2 seeds)"
    # Each done cell has its buttons' hook and a label naming its axis values.
    assert len(row["outputs"]) == 6
    for output in row["outputs"]:
        assert f'data-kw-output="{output["key"]}"' in page
        assert output["state"] == "done"
    assert {o["label"] for o in row["outputs"]} == {
        f"guidance {g} · seed {s}" for g in ("2", "3.5", "5") for s in (1, 2)
    }
    # While it ran, the grid showed the cells still to come.
    assert any("queued" in html or "running…" in html for html in shown)

    progress = w.sweep_progress
    assert (progress["state"], progress["total"], progress["done"], progress["failed"]) == (
        "finished",
        6,
        6,
        0,
    )
    assert w.status.startswith("Sweep 1: 6 of 6 cells done, 0 failed")
    assert w.sweep_failed == 0
    assert w.error == ""
    result = w.sweep_result
    assert result is not None
    assert [o.coords for o in result.outcomes][:2] == [
        {"guidance_scale": 2.0, "seed": 1},
        {"guidance_scale": 2.0, "seed": 2},
    ]
    assert all(Path(r["image"]).is_file() for r in result.records())
    assert str(tmp_path) in str(result.store.directory)


async def test_a_sweep_output_can_be_opened_and_used_as_input(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[PERSON], store=tmp_path)
    result = await w.sweep(seed=[1, 2])
    key = w.rows[-1]["outputs"][1]["key"]
    from_front_end(w, {"type": "fetch_full", "key": key, "request_id": "r1"})
    [(answer, buffers)] = answers(w, "full")
    assert answer["mime"] == "image/png"
    assert buffers == [result.image_bytes(result.outcomes[1])]
    from_front_end(w, {"type": "use_as_input", "key": key})
    assert [i["kind"] for i in w.images] == ["file", "output"]
    assert w.history[-1].label == "step 1 · seed 2"
    assert "seed=2," in w.code_for(key)


async def test_a_rerun_costs_nothing(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[PERSON], store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1-2", sweep_guidance="2.0:3.0:0.5")
    from_front_end(w, {"type": "generate"})
    await settled(w)
    submits = simulator.stats()["submits"]
    assert submits == 6
    first = w.sweep_result
    assert first is not None

    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert simulator.stats()["submits"] == submits
    again = w.sweep_result
    assert again is not None
    assert again is not first
    assert all(o.cached for o in again.outcomes)
    assert [o.outputs for o in again.outcomes] == [o.outputs for o in first.outcomes]
    assert "6 from the store" in w.status
    assert w.sweep_progress["cached"] == 6
    assert [r["id"] for r in w.rows] == ["sweep1", "sweep2"]
    assert len(THUMB.findall(sweep_row(w, "sweep2")["html"])) == 6


async def test_updates_are_throttled(
    make_simulator: MakeSimulator, make_widget: WidgetFactory, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.05)
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path, server=server)
    updates = 0

    def count(change: dict[str, Any]) -> None:
        nonlocal updates
        updates += 1

    edit(w, mode="sweep", sweep_seeds="1-16", sweep_concurrency=8)
    w.observe(count, names="sweep_progress")
    started = time.monotonic()
    from_front_end(w, {"type": "generate"})
    await settled(w)
    elapsed = time.monotonic() - started
    assert w.sweep_progress["done"] == 16
    # 16 cells start and finish (32 changes): at most ~2 redraws a second, plus first and last.
    assert updates <= 2 * elapsed + 3, (updates, elapsed)


async def test_cancel_stops_the_rest(
    make_simulator: MakeSimulator, make_widget: WidgetFactory, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=30.0)
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path, server=server)
    edit(w, mode="sweep", sweep_seeds="1-6", sweep_concurrency=2)
    from_front_end(w, {"type": "generate"})
    await until(lambda: server.stats()["submits"] >= 2 and w.sweep_progress.get("running") == 2)
    from_front_end(w, {"type": "cancel"})
    # At once, before the loop has even delivered the cancellation.
    assert w.busy is False
    assert w.sweep_progress["state"] == "cancelled"
    assert w.sweep_progress["cancelled"] == 6
    assert w.status.startswith("Sweep 1 cancelled: 0 of 6 cells done")
    assert sweep_row(w)["html"].count("cancelled") >= 6
    await asyncio.sleep(0.1)
    polls = server.stats()["polls"]
    await asyncio.sleep(1.2)
    assert server.stats()["submits"] == 2  # the rest were never sent
    assert server.stats()["polls"] == polls  # and nobody waits for the two that were
    result = w.sweep_result
    assert result is not None
    assert [o.state for o in result.outcomes] == ["cancelled"] * 6
    assert w.error == ""


async def test_retry_failed_resubmits_only_the_failed_cells(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path)
    from_front_end(w, {"type": "retry_failed"})
    assert w.error == "Retry failed cells: no sweep has run yet"

    edit(
        w,
        mode="sweep",
        sweep_prompts="fine\nbroken [simulate:fail=5003]",
        sweep_seeds="1, 2",
    )
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert simulator.stats()["submits"] == 4
    assert w.sweep_failed == 2
    assert w.error.startswith("2 of 4 cells failed:")
    page = sweep_row(w)["html"]
    assert page.count("failed:") == 2
    assert len(THUMB.findall(page)) == 2

    edit(w, sweep_seeds="1-3")  # the retry runs the last sweep's plan, not the edited one
    from_front_end(w, {"type": "retry_failed"})
    await settled(w)
    assert simulator.stats()["submits"] == 6  # just the two failed cells
    result = w.sweep_result
    assert result is not None
    assert len(result.outcomes) == 4
    assert sum(o.cached for o in result.outcomes) == 2
    assert w.sweep_failed == 2  # the simulator fails them again
    assert sweep_row(w, "sweep2")["title"].startswith("Sweep 2: retry of the failed cells")

    # Without failures there is nothing to retry.
    edit(w, sweep_prompts="fine")
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert w.sweep_failed == 0
    from_front_end(w, {"type": "retry_failed"})
    assert w.error == "Retry failed cells: the last sweep has no failed cells"


async def test_errors_stop_the_sweep_and_are_shown(
    make_simulator: MakeSimulator, make_widget: WidgetFactory, tmp_path: Path
) -> None:
    server = make_simulator(api_key="the-right-key")
    client = Client(api_key="a-wrong-key", base_url=server.url, retry=FAST_RETRY)
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path, client=client)
    edit(w, mode="sweep", sweep_seeds="1-3")
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert "key" in w.error.lower()
    assert w.sweep_progress["state"] == "failed"
    assert w.status.startswith("Sweep 1 stopped")
    assert server.stats()["submits"] == 0
    await client.close()


async def test_replace_and_queue_as_for_single_runs(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="slow [simulate:latency=30]", images=[PERSON], store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1-2")
    first = asyncio.ensure_future(w.sweep())
    await until(lambda: w.sweep_progress.get("running") == 2)
    # "replace": a new Generate cancels the running sweep.
    predictions = await w.generate(prompt="fast", seeds=[5])
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [p.request.seed for p in predictions if p.request] == [5]
    assert w.mode == "single"
    assert w.sweep_progress["state"] == "cancelled"

    # "queue": a sweep waits for the running Generate.
    running = asyncio.ensure_future(w.generate(prompt="fast", seeds=[6], on_busy="queue"))
    await until(lambda: w.busy)
    result = await w.sweep(prompt="fast", seed=[7, 8])
    await running
    assert running.result()[0].status.value == "completed"
    assert len(result.done) == 2


# --------------------------------------------------------------------------- Python API


async def test_scripted_sweep_sets_the_traits(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="x", images=[png_bytes()], store=tmp_path)
    result = await w.sweep(
        prompt=["night", "snow"],
        seed=[1, 2],
        guidance_scale=3.0,
        aspect_ratio=["1:1", "16:9"],
        concurrency=3,
        max_cost_usd=1.0,
        rows="prompt",
        cols="seed",
    )
    assert result is w.sweep_result
    assert len(result.done) == 8
    assert (w.mode, w.sweep_prompts, w.sweep_seeds, w.guidance_scale, w.sweep_guidance) == (
        "sweep",
        "night\nsnow",
        "1, 2",
        3.0,
        "",
    )
    assert (w.sweep_ratios, w.sweep_concurrency, w.sweep_budget) == (["1:1", "16:9"], 3, 1.0)
    assert (w.sweep_rows, w.sweep_cols, w.sweep_allow_over_budget) == ("prompt", "seed", False)
    assert "columns: seed · rows: prompt × aspect ratio" in w.rows[-1]["html"]
    assert {c.request.guidance_scale for c in result.plan.cells} == {3.0}

    # Bad overrides: nothing is set, nothing is sent.
    with pytest.raises(InvalidRequestError) as info:
        await w.sweep(seed="4-1", concurrency=99)
    assert set(info.value.fields) == {"sweep_seeds", "sweep_concurrency"}
    assert (w.sweep_seeds, w.sweep_concurrency) == ("1, 2", 3)
    with pytest.raises(TypeError, match="did you mean 'seed'"):
        await w.sweep(seeds=[1])
    assert simulator.stats()["submits"] == 8


async def test_first_ratio_from_a_url_is_read_when_the_sweep_starts(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    async with Client(base_url=simulator.url) as client:
        url = await client.upload(png_bytes((1600, 900)))
    w = make_widget(prompt="x", images=[url], aspect_ratio="first", store=tmp_path)
    edit(w, mode="sweep", sweep_seeds="1-2")
    assert "read when the sweep starts" in w.sweep_plan
    result = await w.sweep()
    assert {c.request.aspect_ratio for c in result.plan.cells} == {"16:9"}


async def test_the_store_is_made_at_the_first_sweep(
    make_widget: WidgetFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KONTEXT_WIDGETS_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    w = make_widget(prompt="x", images=[PERSON])
    assert not (tmp_path / "kontext-widgets-store").exists()
    await w.sweep(seed=[1])
    assert (tmp_path / "kontext-widgets-store" / "store.sqlite3").is_file()
    with pytest.raises(TypeError, match="store=3"):
        KontextWidget(store=3)  # type: ignore[arg-type]
