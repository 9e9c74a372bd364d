"""A single-mode Generate killed half way resumes from the store: submits == seeds.

The Generate runs in its own process (a notebook kernel stand-in) against a simulator in
another process over real TCP; the first process is SIGKILLed after some submits and
before every seed is done, then the same settings run again with the same store.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import start_simulator, stats

SCRIPT = """
import asyncio, sys
import kontext_widgets as kw
async def main():
    url, store, seeds, sync, concurrency = sys.argv[1:6]
    async with kw.Client(base_url=url, max_concurrency=int(concurrency)) as client:
        w = kw.KontextWidget(prompt="make it night", images=[kw.samples.path("person")],
                             seeds=[int(s) for s in seeds.split(",")], client=client,
                             store=store, enable_sync_mode=sync == "sync")
        try:
            predictions = await w.generate()
        finally:
            await w.aclose()
        print(w.status)
        print(",".join(p.status.value for p in predictions))
asyncio.run(main())
"""


def completed(store_dir: Path) -> int:
    db = store_dir / "store.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            query = "SELECT COUNT(*) FROM tasks WHERE state='completed'"
            return int(conn.execute(query).fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def run(url: str, store: Path, seeds: str, sync: str, concurrency: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "WAVESPEED_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(store), seeds, sync, concurrency],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sync", "seeds", "concurrency"),
    [("async", "1,2,3,4", "2"), ("sync", "5,6,7", "1")],
)
def test_a_killed_single_run_resumes_and_submits_each_seed_once(
    tmp_path: Path, sync: str, seeds: str, concurrency: str
) -> None:
    total = len(seeds.split(","))
    simulator, url = start_simulator("--latency", "1.5", "--output-long-side", "256")
    env = {k: v for k, v in os.environ.items() if k != "WAVESPEED_API_KEY"}
    try:
        first = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, url, str(tmp_path), seeds, sync, concurrency],
            env=env,
        )
        deadline = time.monotonic() + 60
        while stats(url)["submits"] < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        submitted_before = stats(url)["submits"]
        print(f"killed after {submitted_before} of {total} submits")
        assert 2 <= submitted_before < total, "the kill must land half way"
        assert completed(tmp_path) < total

        status, states = run(url, tmp_path, seeds, sync, concurrency)
        assert status.startswith(f"{total} of {total} done")
        assert states == ",".join(["completed"] * total)
        after = stats(url)
        assert after["submits"] == total  # submits == seeds: nothing paid twice
        assert after["tasks_created"] == total
        print(f"after the rerun: {after['submits']} submits for {total} seeds")

        # The same fixed seeds again: all from the store, nothing sent.
        status, _ = run(url, tmp_path, seeds, sync, concurrency)
        assert status == f"{total} of {total} done (from the store, $0)"
        assert stats(url)["submits"] == total
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
