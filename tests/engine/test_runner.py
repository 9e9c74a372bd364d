"""The engine's runner and store: atomic writes, resume after a kill, faults, submits in doubt."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import kontext_widgets as kw
from kontext_widgets import RetryPolicy
from kontext_widgets.store import Store
from kontext_widgets.sweeps import plan_sweep, sweep

from ..conftest import MakeSimulator, png_bytes

PERSON = kw.samples.path("person")
FAST_RETRY = RetryPolicy(attempts=6, base_s=0.01, cap_s=0.05, max_retry_after_s=0.05)


def tasks_of(server: Any) -> list[dict[str, Any]]:
    with urllib.request.urlopen(server.url + "/_simulator/tasks") as answer:
        return list(json.load(answer))


def test_store_writes_images_atomically(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sha = store.put_image(b"abc")
    assert store.read_image(sha) == b"abc"
    assert not list(store.images_dir.rglob("*.part"))
    store.image_path(sha).write_bytes(b"tampered")
    with pytest.raises(OSError, match="corrupt"):
        store.read_image(sha)
    with pytest.raises(ValueError, match="sha256"):
        store.image_path("../../etc/passwd")


# -- a kill half way, then a restart ---------------------------------------------------------

SWEEP_SCRIPT = """
import asyncio, sys
import kontext_widgets as kw
async def main():
    async with kw.Client(base_url=sys.argv[1]) as client:
        result = await kw.sweep(prompt=["a", "b", "c", "d"], images=[kw.samples.path("person")],
                                guidance_scale=[2.0, 3.0, 4.0], seed=[1, 2], client=client,
                                store=sys.argv[2], concurrency=4, progress=False)
        print(result.summary())
asyncio.run(main())
"""


def _start_simulator_process(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kontext_widgets.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line[line.index("http://") :].strip()
    return process, url


def _done_cells(store_dir: Path) -> int:
    db = store_dir / "store.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(
                conn.execute("SELECT COUNT(*) FROM tasks WHERE state='completed'").fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
def test_killed_sweep_resumes_without_paying_twice(tmp_path: Path) -> None:
    simulator, url = _start_simulator_process("--latency", "0.5", "--output-long-side", "256")
    env = {k: v for k, v in os.environ.items() if k != "WAVESPEED_API_KEY"}
    try:
        first = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, url, str(tmp_path)], env=env)
        deadline = time.monotonic() + 60
        while _done_cells(tmp_path) < 10 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        done_before = _done_cells(tmp_path)
        assert 10 <= done_before < 24, "the kill must land half way"
        second = subprocess.run(
            [sys.executable, "-c", SWEEP_SCRIPT, url, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        assert "24 of 24 cells done" in second.stdout
        with urllib.request.urlopen(url + "/_simulator/stats") as answer:
            stats = json.load(answer)
        assert stats["tasks_created"] == 24  # every cell paid exactly once
        assert stats["submits"] == 24
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_faults_leave_every_cell_done_or_failed_none_twice(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(
        latency_s=0.05,
        fail_rate=0.1,
        rate_limit_rate=0.15,
        error_rate=0.1,
        drop_rate=0.05,
        random_seed=5,
    )
    retry = RetryPolicy(attempts=8, base_s=0.005, cap_s=0.02, max_retry_after_s=0.02)
    async with kw.Client(base_url=server.url, retry=retry) as client:
        result = await sweep(
            prompt=["a", "b", "c", "d"],
            images=[png_bytes()],
            guidance_scale="2.0:4.0:0.5",
            seed="1-3",
            client=client,
            store=tmp_path,
            concurrency=6,
            progress=False,
        )
    assert len(result.outcomes) == 60
    assert {o.state for o in result.outcomes} <= {"done", "failed"}
    assert all(o.error for o in result.failed)  # each failure has its reason
    assert result.done
    assert result.failed
    per_cell = Counter((t["prompt"], t["guidance_scale"], t["seed"]) for t in tasks_of(server))
    assert max(per_cell.values()) == 1  # no cell was ever created twice
    assert server.stats()["faults"]  # 429/5xx/drops were injected


@pytest.mark.parametrize("created_before_crash", [True, False])
async def test_a_submit_in_doubt_is_settled_by_the_history(
    simulator: Any, tmp_path: Path, created_before_crash: bool
) -> None:
    from kontext_widgets.engine.cells import task_key

    plan = plan_sweep(prompt="x", images=[png_bytes()], seed=[1, 2])
    store = Store(tmp_path)
    async with kw.Client(base_url=simulator.url) as client:
        # What a crash mid-submit leaves: the intent recorded, the answer never seen.
        # The runner records the body it is about to send (its uploaded URLs) with the intent.
        doubtful = plan.cells[0]
        url = await client.upload(doubtful.request.images[0])
        sending = replace(doubtful.request, images=(url,), enable_sync_mode=False)
        store.begin_submit(
            task_key(doubtful, client), {"seed": 1}, simulated=True, sent=sending.payload()
        )
        if created_before_crash:
            await client.submit(sending)
        result = await sweep(
            prompt="x",
            images=[png_bytes()],
            seed=[1, 2],
            client=client,
            store=store,
            progress=False,
        )
    assert [o.state for o in result.outcomes] == ["done", "done"]
    assert simulator.stats()["tasks_created"] == 2  # adopted, or resubmitted because none existed
