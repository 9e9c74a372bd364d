"""Where a finished cell's image bytes live: in the store, and on the outcome only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from kontext_widgets import Client, Store
from kontext_widgets.engine.runner import Runner
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.sweeps.plan import plan_sweep

from ..conftest import png_bytes


@pytest.mark.parametrize("keep", [False, True])
async def test_outcomes_carry_image_bytes_only_when_asked(
    simulator: SimulatorServer, tmp_path: Path, keep: bool
) -> None:
    plan = plan_sweep(prompt="night", images=[png_bytes()], seed=[1, 2, 3])
    store = Store(tmp_path / "store")
    try:
        async with Client(base_url=simulator.url) as client:
            outcomes = await Runner(client, store, keep_images=keep).run(plan)
        assert [o.state for o in outcomes] == ["done"] * 3
        for outcome in outcomes:
            # The store always has the bytes; a sweep of many cells holds none of them itself.
            assert store.read_image(outcome.outputs[0])
            if keep:
                assert outcome.prediction is not None
                assert outcome.prediction.images[0].data == store.read_image(outcome.outputs[0])
            else:
                assert outcome.prediction is None
    finally:
        store.close()
