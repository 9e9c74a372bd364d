"""Sweeps: planning, running, reruns at zero cost, and results (grid, table, exports)."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import kontext_widgets as kw
from kontext_widgets import InvalidRequestError, RetryPolicy
from kontext_widgets.sweeps import BudgetExceededError, parse_range, plan_sweep, sweep

from ..conftest import MakeSimulator, png_bytes

PERSON = kw.samples.path("person")
FAST_RETRY = RetryPolicy(attempts=6, base_s=0.01, cap_s=0.05, max_retry_after_s=0.05)


def tasks_of(server: Any) -> list[dict[str, Any]]:
    with urllib.request.urlopen(server.url + "/_simulator/tasks") as answer:
        return list(json.load(answer))


# -- planning --------------------------------------------------------------------------------


def test_range_syntax() -> None:
    assert parse_range("1-8") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert parse_range("2.0:6.0:0.5") == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]
    assert parse_range("1.0:2.0:0.1")[-1] == 2.0
    for bad in ("8-1", "1:2", "a-b", "1.0:2.0:0", "3"):
        with pytest.raises(ValueError, match=r"range|START"):
            parse_range(bad)


def test_plan_is_the_product_of_the_axes_with_cost() -> None:
    plan = plan_sweep(
        prompt=["a", "b", "c", "d"], images=[PERSON], seed="1-3", aspect_ratio=["1:1", "16:9"]
    )
    assert len(plan.cells) == 24
    assert plan.cost_usd == pytest.approx(0.96)
    assert list(plan.axes) == ["prompt", "aspect_ratio", "seed"]
    coords = {tuple(sorted(c.coords.items())) for c in plan.cells}
    assert len(coords) == 24
    # local images are read once and shared by every cell
    assert len({id(c.request.images[0]) for c in plan.cells}) == 1
    text = plan.summary(concurrency=4, seconds_per_task=8.0, simulated=False)
    assert "24 cells" in text
    assert "$0.96" in text


def test_random_seed_count_is_fixed_before_the_run() -> None:
    one = plan_sweep(prompt="x", images=[PERSON], seed=4, random_seed=7)
    two = plan_sweep(prompt="x", images=[PERSON], seed=4, random_seed=7)
    assert one.axes["seed"] == two.axes["seed"]
    assert len(set(one.axes["seed"])) == 4
    assert all(0 <= s <= 2_147_483_647 for s in one.axes["seed"])


def test_image_sets_as_an_axis() -> None:
    plan = plan_sweep(prompt="x", images=[[PERSON], [PERSON, kw.samples.path("shoes")]])
    assert [len(c.request.images) for c in plan.cells] == [1, 2]


def test_bad_values_are_refused_before_any_io(simulator: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError) as info:
        asyncio.run(
            sweep(
                prompt="x",
                images=[PERSON],
                guidance_scale=[3.0, 25.0],
                seed="1-2",
                steps=[1, 2],
                client=kw.Client(base_url=simulator.url),
                store=tmp_path,
                progress=False,
            )
        )
    assert "steps" in info.value.fields
    assert simulator.stats()["submits"] == 0


async def test_budget_refuses_a_big_plan(simulator: Any, tmp_path: Path) -> None:
    async with kw.Client(base_url=simulator.url) as client:
        with pytest.raises(BudgetExceededError, match=r"\$5\.12") as info:
            await sweep(
                prompt="x",
                images=[PERSON],
                seed="1-128",
                client=client,
                store=tmp_path,
                max_cost_usd=1.0,
                progress=False,
            )
    assert info.value.cells == 128
    assert simulator.stats()["submits"] == 0


# -- running, the store, reruns --------------------------------------------------------------


async def test_4x3x2_sweep_then_rerun_costs_nothing(simulator: Any, tmp_path: Path) -> None:
    arguments: dict[str, Any] = {
        "prompt": ["night", "snow", "rain", "fog"],
        "images": [png_bytes()],
        "guidance_scale": [2.0, 3.5, 5.0],
        "aspect_ratio": ["1:1", "16:9"],
        "seed": [11],
    }
    async with kw.Client(base_url=simulator.url, retry=FAST_RETRY) as client:
        first = await sweep(
            client=client, store=tmp_path, concurrency=4, progress=False, **arguments
        )
        assert len(first.done) == 24
        table = first.records()
        assert {(r["prompt"], r["guidance_scale"], r["aspect_ratio"]) for r in table} == {
            (p, g, a) for p in arguments["prompt"] for g in (2.0, 3.5, 5.0) for a in ("1:1", "16:9")
        }
        assert all(Path(r["image"]).is_file() for r in table)
        submits = simulator.stats()["submits"]
        assert submits == 24
        again = await sweep(
            client=client, store=tmp_path, concurrency=4, progress=False, **arguments
        )
    assert simulator.stats()["submits"] == submits  # zero new submits
    assert all(o.cached for o in again.outcomes)
    assert [o.outputs for o in again.outcomes] == [o.outputs for o in first.outcomes]


async def test_failed_cells_do_not_stop_the_others_and_can_be_retried(
    simulator: Any, tmp_path: Path
) -> None:
    async with kw.Client(base_url=simulator.url) as client:
        result = await sweep(
            prompt=["fine", "broken [simulate:fail=5003]"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=tmp_path,
            progress=False,
        )
        assert len(result.done) == 2
        assert len(result.failed) == 2
        assert all(o.code == 5003 and o.error for o in result.failed)
        submits = simulator.stats()["submits"]
        rerun = await sweep(
            prompt=["fine", "broken [simulate:fail=5003]"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=tmp_path,
            progress=False,
        )
        assert simulator.stats()["submits"] == submits  # failures are remembered, not resent
        assert len(rerun.failed) == 2
        retried = await sweep(
            prompt=["fine", "broken [simulate:fail=5003]"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=tmp_path,
            retry_failed=True,
            progress=False,
        )
    assert simulator.stats()["submits"] == submits + 2  # just the failed cells
    assert len(retried.failed) == 2


async def test_cancel_stops_the_rest(make_simulator: MakeSimulator, tmp_path: Path) -> None:
    server = make_simulator(latency_s=5.0)
    async with kw.Client(base_url=server.url) as client:
        task = asyncio.ensure_future(
            sweep(
                prompt="x",
                images=[png_bytes()],
                seed="1-6",
                client=client,
                store=tmp_path,
                progress=False,
            )
        )
        while server.stats()["submits"] < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)
    assert server.stats()["submits"] == 2  # concurrency 2: nothing beyond the first wave


# -- results: grid layout, table, exports ----------------------------------------------------


async def test_grid_table_and_exports(simulator: Any, tmp_path: Path) -> None:
    from PIL import Image

    async with kw.Client(base_url=simulator.url) as client:
        result = await sweep(
            prompt=["night", "<b>snow</b> & <script>x</script> [simulate:fail=1403]"],
            images=[png_bytes()],
            guidance_scale=[2.0, 5.0],
            seed=[1, 2, 3],
            client=client,
            store=tmp_path / "store",
            progress=False,
        )
    grid = result.layout(rows=["prompt", "guidance_scale"], cols="seed")
    assert grid.col_labels == ["seed 1", "seed 2", "seed 3"]
    assert len(grid.row_labels) == 4
    assert grid.row_labels[0] == "night · guidance 2"
    assert all(
        o is not None and o.coords["seed"] == s
        for o, s in zip(grid.cells[1], (1, 2, 3), strict=True)
    )
    with pytest.raises(ValueError, match="not an axis"):
        result.layout(cols="steps")

    rows = result.records()
    assert [r["state"] for r in rows].count("failed") == 6
    assert all(r["error"] for r in rows if r["state"] == "failed")

    page = result.html(tmp_path / "sweep.html").read_text()
    assert "&lt;b&gt;snow&lt;/b&gt; &amp; &lt;script&gt;" in page
    assert "<script>" not in page
    assert page.count("<img ") == 6
    assert "http" not in page.split("<body>")[1]  # self-contained: nothing loaded from outside

    sheet = Image.open(result.contact_sheet(tmp_path / "sheet.png", px=64))
    assert sheet.width > 3 * 64
    assert sheet.height > 4 * 64

    written = result.export_images(tmp_path / "full")
    assert len(written) == 6
    for path in written:
        with Image.open(path) as image:
            parameters = json.loads(image.text["parameters"])
            assert image.width == 256 or image.height == 256  # full size, not a thumbnail
        index = int(path.stem.split("-")[1])
        assert parameters["seed"] == result.plan.cells[index].coords["seed"]
        assert parameters["simulated"] is True


async def test_table_is_a_dataframe_with_pandas(simulator: Any, tmp_path: Path) -> None:
    pandas = (
        pytest.importorskip("pandas") if os.environ.get("CI") != "true" else __import__("pandas")
    )
    async with kw.Client(base_url=simulator.url) as client:
        result = await sweep(
            prompt="x",
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=tmp_path,
            progress=False,
        )
    table = result.table()
    assert isinstance(table, pandas.DataFrame)
    assert list(table["seed"]) == [1, 2]
    assert set(table["state"]) == {"done"}


async def test_grid_html_has_legends_thumbnails_and_escaping(
    simulator: Any, tmp_path: Path
) -> None:
    async with kw.Client(base_url=simulator.url) as client:
        result = await sweep(
            prompt=["<script>alert(1)</script>", "calm [simulate:fail=1403]"],
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=tmp_path,
            progress=False,
        )
    page = result.grid_html(cols="seed", rows="prompt", thumb_px=96)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("data:image/jpeg;base64,") == 2  # the two done cells, as thumbnails
    assert page.count("failed:") == 2  # the failed cells say so, with their reason
    assert "seed 1" in page
    assert "seed 2" in page
    assert "SIMULATED" in page
    assert "columns: seed · rows: prompt" in page
