"""Load and faults: a 500-cell sweep through 429s, 5xx, cut connections, failed tasks and a
restart of the simulator; and a soak of the widget driving 200 generations in a row.

Both are marked ``slow`` (CI still runs them). Timings and bounds are printed with ``-s``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import kontext_widgets as kw
from kontext_widgets import Client, RetryPolicy
from kontext_widgets.engine.cells import CellOutcome, task_key
from kontext_widgets.engine.progress import SweepProgress
from kontext_widgets.simulator import SimulatorConfig, SimulatorServer

from ..conftest import png_bytes
from .test_hostile import tiny_server

#: Peak of Python allocations (tracemalloc: the client, the sweep and the simulator's
#: thread, all in this process) allowed for the 500-cell sweep.
SWEEP_MEMORY_BOUND = 64 * 1024 * 1024


def _config(seed: int) -> SimulatorConfig:
    return SimulatorConfig(
        # Tasks take a moment, so the restart always finds some submitted and not yet done:
        # their polls then meet a server that never knew them (404), as the test means to.
        latency_s=0.3,
        output_long_side=64,
        state_dir=None,  # the restarted server forgets every task, whatever the environment
        allow_remote_fetch=False,  # the input comes from a loopback server
        rate_limit_rate=0.06,
        error_rate=0.03,
        drop_rate=0.02,
        fail_rate=0.05,
        random_seed=seed,
        balance_usd=1000.0,
        retry_after_s=1,
    )


async def _tasks(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/_simulator/tasks") as r:
        assert r.status == 200
        tasks: list[dict[str, Any]] = await r.json()
        return tasks


def _cell_of(task: dict[str, Any]) -> tuple[str, float, int]:
    return (task["prompt"], float(task["guidance_scale"]), int(task["seed"]))


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_500_cell_sweep_survives_faults_and_a_restart(tmp_path: Path) -> None:
    image = png_bytes((96, 64), "teal")

    async def serve_input(request: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/png")

    first = SimulatorServer(_config(seed=11))
    first.start()
    port = int(first.url.rsplit(":", 1)[1])
    second: SimulatorServer | None = None
    restart_at = 200
    restarted = asyncio.Event()
    old_tasks: list[dict[str, Any]] = []

    async def restart() -> None:
        nonlocal second
        # Freeze: every /api/v3 request is now 429 (answered before it does anything), so
        # the snapshot of the tasks below is complete when the server stops.
        first.configure(rate_limit_rate=1.0)
        await asyncio.sleep(0.2)
        old_tasks.extend(await _tasks(first.url))
        await asyncio.to_thread(first.stop)
        second = SimulatorServer(_config(seed=12), port=port)  # same port, forgets every task
        await asyncio.to_thread(second.start)
        restarted.set()

    restarter: asyncio.Task[None] | None = None

    def on_progress(progress: SweepProgress, outcome: CellOutcome | None) -> None:
        nonlocal restarter
        if restarter is None and progress.done + progress.failed >= restart_at:
            restarter = asyncio.ensure_future(restart())

    retry = RetryPolicy(attempts=12, base_s=0.01, cap_s=0.4, max_retry_after_s=0.05)
    tracemalloc.start()
    started = time.monotonic()
    try:
        async with (
            tiny_server({("GET", "/in.png"): serve_input}) as inputs,
            Client(base_url=first.url, retry=retry) as client,
        ):
            result = await kw.sweep(
                prompt=["a cat", "a dog", "a fox", "an owl", "a bee"],
                images=[inputs + "/in.png"],
                guidance_scale="1.0:5.5:0.5",
                seed="1-10",
                client=client,
                store=tmp_path,
                concurrency=16,
                max_cost_usd=None,
                progress=on_progress,
            )
            keys = [task_key(cell, client) for cell in result.plan.cells]
            assert restarter is not None
            await restarter
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        first.stop()
    assert second is not None
    try:
        new_tasks = await _tasks(second.url)
        second_stats = second.stats()
    finally:
        second.stop()

    outcomes = result.outcomes
    states = Counter(o.state for o in outcomes)
    reasons = Counter(_reason(o.error) for o in outcomes if o.state == "failed")
    print(
        f"\n500-cell sweep: {elapsed:.1f} s, peak {peak / 2**20:.0f} MiB traced; {dict(states)}; "
        f"tasks {len(old_tasks)} before the restart + {len(new_tasks)} after; "
        f"failures: {dict(reasons)}; faults after restart: {second_stats['faults']}"
    )

    # Every cell ended, done or failed with its reason: none lost.
    assert len(outcomes) == 500
    assert sorted(o.index for o in outcomes) == list(range(500))
    assert set(states) <= {"done", "failed"}
    assert states["done"] >= 300
    assert all(o.error for o in outcomes if o.state == "failed")
    assert reasons["task failed"] >= 1
    assert reasons["404 after the restart"] >= 1  # polls of tasks the new server never knew
    assert not (set(reasons) - set(_REASONS))  # nothing unexplained

    # Done cells: their images are in the store, whole.
    for o in outcomes:
        if o.state == "done":
            assert o.outputs
            assert result.store.read_image(o.outputs[0])  # verifies the sha256

    # Never submitted twice: each cell has at most one task across both simulators.
    per_cell = Counter(_cell_of(t) for t in old_tasks + new_tasks)
    assert max(per_cell.values()) == 1
    assert len(per_cell) <= 500
    all_ids = {t["id"] for t in old_tasks + new_tasks}
    assert len(all_ids) == len(old_tasks) + len(new_tasks)

    # The store agrees: one record per cell, every id it holds was really created, and
    # no task id belongs to two cells.
    records = result.store.tasks(keys)
    assert len(records) == 500
    ids = [r.prediction_id for r in records.values() if r.prediction_id]
    assert len(ids) == len(set(ids))
    assert set(ids) <= all_ids
    for o, key in zip(outcomes, keys, strict=True):
        record = records[key]
        if o.state == "done":
            assert record.state == "completed"
            assert record.prediction_id == o.prediction_id
        else:
            assert record.state in ("failed", "submitted", "submitting")
    assert len(result.store.runs()) == 1

    assert peak < SWEEP_MEMORY_BOUND
    assert elapsed < 90


_REASONS = {
    "task failed": ("(simulated fault)",),
    "404 after the restart": ("HTTP 404",),
    "submit outcome unknown": ("got no answer",),
    "gave up retrying": ("gave up after", "still refused after retries"),
    "download": ("download of",),
}


def _reason(error: str) -> str:
    for name, needles in _REASONS.items():
        if any(n in error for n in needles):
            return name
    return error[:120]


# --------------------------------------------------------------------------- the widget soak


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind) and not getattr(o, "closed", 0))


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
async def test_the_widget_drives_200_generations_without_growth() -> None:
    server = SimulatorServer(
        SimulatorConfig(latency_s=0.0, output_long_side=64, allow_remote_fetch=False)
    )
    server.start()
    sessions_before = _live(aiohttp.ClientSession)  # the simulator's own, and any others
    client = kw.Client(base_url=server.url)
    w = kw.KontextWidget(
        prompt="make it night", images=[kw.samples.path("person")], seeds=[1], client=client
    )
    samples: list[tuple[int, int, int, int, int]] = []
    started = time.monotonic()
    try:
        for i in range(200):
            done = await w.generate(prompt=f"edit number {i}", seeds=[i + 1])
            assert [p.status.value for p in done] == ["completed"]
            if i in (19, 99, 199):
                await asyncio.sleep(0.05)  # let finished callbacks run
                samples.append(
                    (
                        len(asyncio.all_tasks()),
                        _open_fds(),
                        _live(aiohttp.ClientSession),
                        _live(aiohttp.TCPConnector),
                        len(w.get_state()["rows"]),
                    )
                )
        elapsed = time.monotonic() - started
    finally:
        await w.aclose()
        await client.close()
        server.stop()
    print(
        f"\nwidget soak: 200 generations in {elapsed:.1f} s; (tasks, fds, sessions, "
        f"connectors, rows) after 20/100/200: {samples}"
    )
    (tasks20, fds20, sessions20, connectors20, rows20), *later = samples
    for tasks, fds, sessions, connectors, rows in later:
        assert tasks <= tasks20 + 2
        assert fds <= fds20 + 4
        assert sessions <= sessions20
        assert connectors <= connectors20
        assert rows <= max(rows20, 50)  # the gallery keeps a bounded number of rows
    assert samples[-1][2] <= sessions_before + 1  # the client's one session, reused throughout
    assert len(w.results) == 200
    assert elapsed < 90
