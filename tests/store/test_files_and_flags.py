"""Lost image files are fetched again by id (never paid again); simulated survives a rerun."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from PIL import Image

import kontext_widgets as kw
from kontext_widgets.sweeps import sweep

from ..conftest import MakeSimulator

PERSON = kw.samples.path("person")
GRID = {"prompt": "make it night", "images": [PERSON], "seed": [1, 2], "guidance_scale": [2.5, 4.0]}


async def test_deleted_image_files_are_downloaded_again_by_prediction_id(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0)
    async with kw.Client(base_url=server.url) as client:
        first = await sweep(**GRID, client=client, store=tmp_path, progress=False)
        assert len(first.done) == 4
        shutil.rmtree(tmp_path / "images")  # every image file is gone; the records stay
        again = await sweep(**GRID, client=client, store=tmp_path, progress=False)
    assert server.stats()["tasks_created"] == 4  # nothing submitted again
    assert [o.state for o in again.outcomes] == ["done"] * 4
    assert all(o.cached for o in again.outcomes)  # reported as from the store: not paid
    assert [o.prediction_id for o in again.outcomes] == [o.prediction_id for o in first.outcomes]
    for outcome in again.outcomes:
        assert again.image_bytes(outcome)  # back on disk, sha256 verified


async def test_files_gone_and_the_service_no_longer_has_it_says_expired(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0, retention_s=0.5)
    async with kw.Client(base_url=server.url) as client:
        first = await sweep(**GRID, client=client, store=tmp_path, progress=False)
        assert len(first.done) == 4
        shutil.rmtree(tmp_path / "images")
        time.sleep(1.0)  # past the simulator's retention: it answers 404 for these ids
        again = await sweep(**GRID, client=client, store=tmp_path, progress=False)
    assert server.stats()["tasks_created"] == 4  # never resubmitted without being asked
    assert [o.state for o in again.outcomes] == ["failed"] * 4
    for outcome in again.outcomes:
        assert outcome.error.startswith("expired:")
        assert "fresh=True" in outcome.error


async def test_the_simulated_flag_survives_a_cached_rerun(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0)
    store = tmp_path / "store"
    async with kw.Client(base_url=server.url) as client:
        first = await sweep(**GRID, client=client, store=store, progress=False)
    assert first.simulated
    # A new kernel: its client has not heard the simulator yet, and the rerun never asks it.
    async with kw.Client(base_url=server.url) as client:
        again = await sweep(**GRID, client=client, store=store, progress=False)
        assert not client.simulated
    assert server.stats()["tasks_created"] == 4
    assert all(o.cached and o.simulated for o in again.outcomes)
    assert again.simulated
    assert "SIMULATED" in again.summary()
    assert "SIMULATED" in again.html(tmp_path / "sweep.html").read_text()
    assert all(row["simulated"] is True for row in again.records())
    table = again.table()
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert all(bool(row["simulated"]) for row in rows)
    images = again.export_images(tmp_path / "images")
    assert len(images) == 4
    for path in images:
        with Image.open(path) as image:
            assert json.loads(image.text["parameters"])["simulated"] is True


async def test_the_widget_says_simulated_after_a_cached_sweep(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    from kontext_widgets import KontextWidget

    server = make_simulator(latency_s=0.0)
    store = tmp_path / "store"
    async with kw.Client(base_url=server.url) as client:
        await sweep(**GRID, client=client, store=store, progress=False)
    # A new kernel's widget on the same store: every cell comes from it, the client hears nothing.
    async with kw.Client(base_url=server.url) as client:
        w = KontextWidget(client=client, store=store, prompt="make it night", images=[PERSON])
        try:
            result = await w.sweep(seed=[1, 2], guidance_scale=[2.5, 4.0])
        finally:
            await w.aclose()
        assert not client.simulated
    assert server.stats()["tasks_created"] == 4
    assert all(o.cached for o in result.outcomes)
    assert result.simulated
    assert w.simulated
    assert "SIMULATED" in result.summary()
