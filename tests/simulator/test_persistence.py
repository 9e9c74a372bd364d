"""The simulator keeps its tasks on disk: a new one (a restarted kernel) knows the old ids,
finishes what was left running, and several share one directory without harm."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

import kontext_widgets
from kontext_widgets.client import endpoint
from kontext_widgets.simulator import SimulatorConfig, serve
from kontext_widgets.simulator.config import STATE_DIR_ENV
from kontext_widgets.simulator.server import RunningSimulator

from .helpers import (
    FAST,
    SUBMIT,
    fetch_bytes,
    get_json,
    png_bytes,
    post_json,
    run_to_end,
    submit,
    upload,
    wait_finished,
)


def _result_url(sim: RunningSimulator, prediction_id: str) -> str:
    return f"{sim.url}/api/v3/predictions/{prediction_id}/result"


async def test_a_new_simulator_knows_the_old_ones_tasks_and_media(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    first = await serve(SimulatorConfig(**FAST, state_dir=tmp_path))
    try:
        image = await upload(session, first.url, png_bytes())
        done = await run_to_end(session, first.url, [image], seed=5)
        output = await fetch_bytes(session, done["outputs"][0])
    finally:
        await first.close()
    assert (tmp_path / "tasks.sqlite3").is_file()

    second = await serve(SimulatorConfig(**FAST, state_dir=tmp_path))
    try:
        status, again = await get_json(session, _result_url(second, done["id"]))
        assert status == 200
        assert again["data"]["status"] == "completed"
        (url,) = again["data"]["outputs"]
        assert url.startswith(second.url + "/")  # served by the new simulator
        assert await fetch_bytes(session, url) == output
        # The old upload URL (the old port) still works as an input: it is on disk.
        reused = await run_to_end(session, second.url, [image], seed=5)
        assert reused["status"] == "completed"
        assert await fetch_bytes(session, reused["outputs"][0]) == output
        _, listing = await post_json(session, second.url + "/api/v3/predictions", {})
        assert [p["id"] for p in listing["data"]["items"]] == [reused["id"], done["id"]]
    finally:
        await second.close()
    assert (tmp_path / "tasks.sqlite3").is_file()  # a configured directory is kept


async def test_unfinished_tasks_finish_on_the_next_simulator_with_the_same_output(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    settings = {**FAST, "latency_s": 0.6}
    first = await serve(SimulatorConfig(**settings, state_dir=tmp_path))
    try:
        image = await upload(session, first.url, png_bytes())
        queued = [(await submit(session, first.url, [image], seed=s))["data"] for s in (1, 2)]
    finally:
        await first.close()  # both still processing: the kernel went away
    second = await serve(SimulatorConfig(**settings, state_dir=tmp_path))
    reference = await serve(SimulatorConfig(**FAST, state_dir=None))
    try:
        for data, seed in zip(queued, (1, 2), strict=True):
            done = await wait_finished(session, _result_url(second, data["id"]))
            assert done["status"] == "completed"
            fresh = await upload(session, reference.url, png_bytes())
            expected = await run_to_end(session, reference.url, [fresh], seed=seed)
            # Deterministic from the inputs: the same bytes as an uninterrupted run.
            assert await fetch_bytes(session, done["outputs"][0]) == await fetch_bytes(
                session, expected["outputs"][0]
            )
        assert second.stats()["tasks"]["completed"] == 2
    finally:
        await second.close()
        await reference.close()


def _cli(*args: str) -> subprocess.Popen[str]:
    root = Path(kontext_widgets.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-m", "kontext_widgets.simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _url_of(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return line.rsplit(" ", 1)[1].strip()


@pytest.mark.timeout(60)
async def test_tasks_of_a_killed_simulator_process_finish_on_the_next(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    process = _cli("--state-dir", str(tmp_path), "--latency", "1.0", "--output-long-side", "64")
    try:
        url = _url_of(process)
        image = await upload(session, url, png_bytes())
        data = (await submit(session, url, [image]))["data"]
    finally:
        process.send_signal(signal.SIGKILL)  # no clean stop: its lease is never released
        process.communicate(timeout=10)
    sim = await serve(SimulatorConfig(**FAST, state_dir=tmp_path))
    try:
        done = await wait_finished(session, _result_url(sim, data["id"]))
        assert done["status"] == "completed"
        assert await fetch_bytes(session, done["outputs"][0])
    finally:
        await sim.close()


@pytest.mark.timeout(120)
async def test_simulators_in_two_processes_share_a_directory(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    process = _cli("--state-dir", str(tmp_path), "--latency", "0.05", "--output-long-side", "64")
    local = await serve(SimulatorConfig(**FAST, state_dir=tmp_path))
    try:
        other = _url_of(process)
        images = {
            base: await upload(session, base, png_bytes(size=(64, 48)))
            for base in (other, local.url)
        }

        async def burst(base: str) -> list[str]:
            answers = await asyncio.gather(
                *(submit(session, base, [images[base]], seed=i) for i in range(15))
            )
            return [a["data"]["id"] for a in answers]

        ids = await asyncio.gather(burst(other), burst(local.url))
        everything = {*ids[0], *ids[1]}
        assert len(everything) == 30
        # Either simulator answers for every task, whichever runs it.
        for prediction_id in everything:
            done = await wait_finished(session, _result_url(local, prediction_id))
            assert done["status"] == "completed"
        status, listing = await post_json(session, other + "/api/v3/predictions", {})
        assert status == 200
        assert listing["data"]["total"] == 30
        assert {p["id"] for p in listing["data"]["items"]} == everything
        # Nobody took over a live simulator's tasks.
        assert local.stats()["tasks_created"] == 15
        assert len(local.stats()["tasks"]) == 7
        assert sum(local.stats()["tasks"].values()) == 15
    finally:
        process.terminate()
        process.communicate(timeout=10)
        await local.close()
    with sqlite3.connect(tmp_path / "tasks.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone() == (30,)


def test_the_default_directory_is_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(STATE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected = str(tmp_path / "cache" / "kontext-widgets" / "simulator")
    assert SimulatorConfig().state_dir == expected
    # The simulator the client starts without a key is made exactly so: it persists too.
    assert SimulatorConfig(latency_s=endpoint.AUTO_SIMULATOR_LATENCY_S).state_dir == expected
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert SimulatorConfig().state_dir == str(
        tmp_path / "home" / ".cache" / "kontext-widgets" / "simulator"
    )
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "mine"))
    assert SimulatorConfig().state_dir == str(tmp_path / "mine")
    monkeypatch.setenv(STATE_DIR_ENV, "off")
    assert SimulatorConfig().state_dir is None


async def test_the_variable_places_the_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "sim"))
    sim = await serve(SimulatorConfig(**FAST))
    try:
        image = await upload(session, sim.url, png_bytes())
        await run_to_end(session, sim.url, [image])
        assert sim.storage_dir == tmp_path / "sim" / "media"
    finally:
        await sim.close()
    assert len(list((tmp_path / "sim" / "media" / "uploads").iterdir())) == 1
    assert len(list((tmp_path / "sim" / "media" / "outputs").iterdir())) == 1
    assert not list((tmp_path / "sim" / "tmp").iterdir())  # no half-written file left


async def test_a_damaged_task_file_is_set_aside(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    (tmp_path / "tasks.sqlite3").write_bytes(b"this is not a database" * 100)
    sim = await serve(SimulatorConfig(**FAST, state_dir=tmp_path))
    try:
        status, _ = await post_json(
            session, sim.url + SUBMIT, {"prompt": "p", "images": ["http://127.0.0.1:9/a.png"]}
        )
        assert status == 200
    finally:
        await sim.close()
    assert [p.name.split("-")[0] for p in tmp_path.glob("tasks.sqlite3.unusable-*")] == [
        "tasks.sqlite3.unusable"
    ]


def test_state_dir_is_checked_and_fixed_while_running(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state_dir"):
        SimulatorConfig(state_dir="  ")
    with pytest.raises(ValueError, match="state_dir"):
        SimulatorConfig(state_dir=5)  # type: ignore[arg-type]
    assert SimulatorConfig(state_dir=tmp_path).state_dir == str(tmp_path)


async def test_state_dir_cannot_change_at_run_time(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    sim = await serve(SimulatorConfig(**FAST, state_dir=None))
    try:
        with pytest.raises(ValueError, match="state_dir cannot change"):
            sim.configure(state_dir=str(tmp_path))
        status, error = await post_json(
            session, sim.url + "/_simulator/config", {"state_dir": str(tmp_path)}
        )
        assert status == 400
        assert "state_dir" in error["error"]
    finally:
        await sim.close()


_SWEEP = """
import asyncio, sys
import kontext_widgets as kw

async def main() -> None:
    async with kw.Client() as client:  # no key: the simulator this process starts
        result = await kw.sweep(
            prompt="a hat", images=[kw.samples.path("person")], seed=[1, 2, 3, 4, 5, 6],
            client=client, store=sys.argv[1], concurrency=2, max_cost_usd=None,
        )
    print("states", sorted(o.state for o in result.outcomes), flush=True)

asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_sweep_resumes_offline_after_its_kernel_dies(tmp_path: Path) -> None:
    """Two kernels in a row, the first killed mid-sweep: each cell is submitted once."""
    root = Path(kontext_widgets.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), *sys.path]),
        STATE_DIR_ENV: str(tmp_path / "simulator"),
    }
    command = [sys.executable, "-c", _SWEEP, str(tmp_path / "store")]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    tasks = tmp_path / "simulator" / "tasks.sqlite3"
    try:
        deadline = time.monotonic() + 60
        while _count(tasks, "1") < 2:  # killed with tasks submitted, none finished (1 s each)
            assert time.monotonic() < deadline
            assert first.poll() is None
            time.sleep(0.05)
    finally:
        first.kill()
        first.communicate(timeout=10)
    assert _count(tasks, "status = 'completed'") < 6
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
    assert second.returncode == 0, second.stderr
    assert "states ['done', 'done', 'done', 'done', 'done', 'done']" in second.stdout
    assert _count(tasks, "1") == 6  # submits == cells: the resumed sweep polled the old ids
    assert _count(tasks, "status = 'completed'") == 6


def _count(path: Path, where: str) -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        try:
            found = db.execute(f"SELECT COUNT(*) FROM predictions WHERE {where}").fetchone()
        except sqlite3.OperationalError:  # the table is not made yet
            return 0
    return int(found[0])


async def test_an_unusable_directory_falls_back_to_a_temporary_one(
    tmp_path: Path, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    sim = await serve(SimulatorConfig(**FAST, state_dir=blocked))
    try:
        image = await upload(session, sim.url, png_bytes())
        assert (await run_to_end(session, sim.url, [image]))["status"] == "completed"
        storage = sim.storage_dir
        assert not storage.is_relative_to(blocked)
    finally:
        await sim.close()
    assert not storage.exists()
    assert "not usable" in caplog.text
