"""A real kernel restarted during a widget's sweep, with no key: the sweep resumes offline.

The kernel (jupyter_client's KernelManager, the same restart as Kernel > Restart) runs the
widget's sweep against its own simulator, whose tasks live in a temporary
``KONTEXT_WIDGETS_SIMULATOR_DIR``. It is restarted with tasks submitted and none done; the
same cell in the new kernel finishes the sweep by polling the old task ids: each cell is
submitted once (submits == cells), as it would be against the real service.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

import kontext_widgets
from kontext_widgets.simulator.config import STATE_DIR_ENV

CELLS = 6
SWEEP_CELL = f"""
import kontext_widgets as kw
w = kw.KontextWidget(prompt="a hat [simulate:latency=3]", images=[kw.samples.path("person")],
                     store=STORE)
result = await w.sweep(seed="1-{CELLS}", concurrency=2)
print("states", sorted(o.state for o in result.outcomes), w.client.simulated, flush=True)
"""


def _count(path: Path, where: str = "1") -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        try:
            found = db.execute(f"SELECT COUNT(*) FROM predictions WHERE {where}").fetchone()
        except sqlite3.OperationalError:  # not made yet
            return 0
    return int(found[0])


def _run(kc: Any, code: str, timeout: float = 120) -> str:
    """Execute ``code`` and return its stdout; fail on an error output."""
    msg_id = kc.execute(code)
    out: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            raise AssertionError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out)
    raise AssertionError(f"no answer within {timeout} s; output so far: {''.join(out)}")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_restarted_kernel_resumes_the_widgets_sweep_offline(tmp_path: Path) -> None:
    root = Path(kontext_widgets.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAVESPEED_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(root), *sys.path]),
            STATE_DIR_ENV: str(tmp_path / "simulator"),
            "KONTEXT_WIDGETS_STORE": str(tmp_path / "store"),
        }
    )
    tasks = tmp_path / "simulator" / "tasks.sqlite3"
    setup = f"STORE = {str(tmp_path / 'store')!r}"
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        _run(kc, setup)
        kc.execute(SWEEP_CELL)  # not waited for: the kernel restarts under it
        deadline = time.monotonic() + 90
        while _count(tasks) < 2:
            assert time.monotonic() < deadline, "the sweep submitted nothing"
            time.sleep(0.05)
        assert _count(tasks, "status = 'completed'") < CELLS
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=60)
        _run(kc, setup)
        output = _run(kc, SWEEP_CELL, timeout=150)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert f"states {['done'] * CELLS} True" in output, output
    assert _count(tasks) == CELLS  # submits == cells: the new kernel polled the old ids
    assert _count(tasks, "status = 'completed'") == CELLS
