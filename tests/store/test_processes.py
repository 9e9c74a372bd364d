"""One payment per cell across processes: N processes run the same sweep on one store at once.

The simulator runs as its own process on a free port (real TCP); each sweep runs in its own
Python process (a notebook kernel or a CLI run stand-in). They wait at a start line, then all
run the same 8-cell sweep; the simulator's own count of created tasks must equal the cells.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import start_simulator, stats

SWEEP = """
import asyncio, json, sys, time
from pathlib import Path
import kontext_widgets as kw
url, store, go = sys.argv[1:4]
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.01)
async def main():
    async with kw.Client(base_url=url, max_concurrency=2) as client:
        result = await kw.sweep(prompt="make it night", images=[kw.samples.path("person")],
                                seed=[1, 2, 3, 4], guidance_scale=[2.5, 4.0], client=client,
                                store=store, concurrency=2, progress=False)
    print(json.dumps({"done": len(result.done), "failed": len(result.failed),
                      "from_store": sum(o.cached for o in result.outcomes),
                      "ids": [o.prediction_id for o in result.outcomes]}))
asyncio.run(main())
"""


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_sharing_a_store_pay_once_per_cell(tmp_path: Path, processes: int) -> None:
    simulator, url = start_simulator("--latency", "0.5")
    go = tmp_path / "go"
    runs = []
    try:
        for _ in range(processes):
            run = subprocess.Popen(
                [sys.executable, "-c", SWEEP, url, str(tmp_path / "store"), str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert run.stdout is not None
            assert run.stdout.readline().strip() == "ready"
            runs.append(run)
        go.touch()  # every process is started and waiting: they race from here
        answers = []
        for run in runs:
            out, _ = run.communicate(timeout=300)
            assert run.returncode == 0, out
            answers.append(json.loads(out.strip().splitlines()[-1]))
        created = stats(url)["tasks_created"]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
        simulator.terminate()
        simulator.wait(timeout=30)
    assert created == 8  # submits == cells, however many processes ran the sweep
    assert all(a["done"] == 8 and a["failed"] == 0 for a in answers)
    # Each process reports the cells another one paid for as "from the store".
    assert sum(8 - a["from_store"] for a in answers) == 8
    assert all(a["ids"] == answers[0]["ids"] for a in answers)  # one task per cell, shared
    assert len(set(answers[0]["ids"])) == 8


def test_a_process_killed_holding_a_claim_leaves_it_free(tmp_path: Path) -> None:
    """The operating system drops the claim of a dead process: nothing stays claimed for ever."""
    from kontext_widgets.store import Store

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from kontext_widgets.store import Store;"
            "c = Store(sys.argv[1]).claim('k'); assert c.acquire(); print('held', flush=True);"
            "time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    store = Store(tmp_path)
    assert store.claimed_elsewhere("k")
    holder.kill()
    holder.wait(timeout=30)
    for _ in range(200):  # the kill is asynchronous: wait for the exit to be seen
        if not store.claimed_elsewhere("k"):
            break
        time.sleep(0.05)
    assert not store.claimed_elsewhere("k")
