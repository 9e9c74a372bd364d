"""Single runs through the one engine: the store serves repeats for free, fresh pays on purpose."""

from __future__ import annotations

import os
from pathlib import Path

from kontext_widgets import KontextWidget
from kontext_widgets.simulator import SimulatorServer

from .helpers import PERSON, WidgetFactory, from_front_end, settled, states


async def test_the_same_fixed_seeds_again_come_from_the_store_at_no_cost(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[1, 2], store=tmp_path)
    assert w.plan["images"] == 2
    assert w.plan["from_store"] == 0
    first = await w.generate()
    assert simulator.stats()["submits"] == 2
    assert w.plan == {
        "images": 0,
        "from_store": 2,
        "cost_usd": 0.0,
        "text": "2 images from the store, $0 (Generate fresh pays for new ones; "
        "simulated: nothing billed)",
    }
    again = await w.generate()
    assert simulator.stats()["submits"] == 2  # nothing sent
    assert w.status == "2 of 2 done (from the store, $0)"
    assert [job["cached"] for job in w.jobs] == [True, True]
    assert "from the store, $0" in w.rows[-1]["title"]
    assert [p.id for p in again] == [p.id for p in first]
    assert [p.images[0].data for p in again] == [p.images[0].data for p in first]
    assert w.code_for(again[0]).count("seed=1") == 1  # the outputs work as any other

    # A new store location (a new widget on it) knows nothing: it pays again.
    other = make_widget(prompt="night", images=[PERSON], seeds=[1, 2], store=tmp_path / "b")
    await other.generate()
    assert simulator.stats()["submits"] == 4


async def test_fresh_pays_for_new_images_on_purpose(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[3], store=tmp_path)
    await w.generate()
    await w.generate(fresh=True)
    assert simulator.stats()["submits"] == 2
    assert w.status == "1 of 1 done"
    from_front_end(w, {"type": "generate", "fresh": True})
    await settled(w)
    assert simulator.stats()["submits"] == 3
    from_front_end(w, {"type": "generate"})
    await settled(w)
    assert simulator.stats()["submits"] == 3
    assert w.jobs[0]["cached"] is True


async def test_unlocked_seeds_are_new_on_every_click(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path)
    assert not w.seed_locked
    seeds = []
    for _ in range(2):
        from_front_end(w, {"type": "generate"})
        seeds.append(w.seed)
        await settled(w)
        assert states(w.jobs) == ["done"]
        assert w.jobs[0]["cached"] is False
    assert seeds[0] != seeds[1]
    assert simulator.stats()["submits"] == 2
    assert w.plan["from_store"] == 0  # random seeds: the next click is new too


async def test_sync_mode_is_sent_and_recorded(
    make_widget: WidgetFactory, simulator: SimulatorServer, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[1, 2], store=tmp_path)
    predictions = await w.generate(enable_sync_mode=True)
    stats = simulator.stats()
    # Sync mode: each submit answered with the finished task, so nothing was polled.
    assert (stats["submits"], stats["polls"]) == (2, 0)
    assert [p.status.value for p in predictions] == ["completed", "completed"]
    await w.generate(enable_sync_mode=False)  # the same images, the same cache key
    assert simulator.stats()["submits"] == 2


async def test_the_store_location_comes_from_the_environment(make_widget: WidgetFactory) -> None:
    w = make_widget(prompt="night", images=[PERSON], seeds=[1])
    assert w.store_if_made() is None  # looking never creates it
    await w.generate()
    assert w.store.directory == Path(os.environ["KONTEXT_WIDGETS_STORE"]).resolve()
    assert (w.store.directory / "store.sqlite3").is_file()
    assert isinstance(w, KontextWidget)


async def test_the_plan_trait_in_sweep_mode_counts_stored_cells(
    make_widget: WidgetFactory, tmp_path: Path
) -> None:
    w = make_widget(prompt="night", images=[PERSON], store=tmp_path)
    await w.sweep(seed="1-2", guidance_scale=[2.5, 4.0])
    assert w.plan["from_store"] == 4
    assert w.plan["images"] == 0
    assert w.plan["cost_usd"] == 0.0
    w.sweep_seeds = "1-3"
    assert (w.plan["images"], w.plan["from_store"]) == (2, 4)
    assert w.plan["text"].startswith("6 images: 2 new ($0.08), 4 from the store ($0)")
    w.mode = "single"
    w.seed_list = "1, 2"
    w.guidance_scale = 2.5
    assert w.plan["from_store"] == 2  # a single run's cells are the sweep's cells
