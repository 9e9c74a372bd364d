"""Recovery that is never wrong: a submit in doubt adopts its own task, or none, never another's.

What a kill mid-submit leaves is rebuilt exactly: the runner's intent and the body it was
about to send recorded in the store, and the task made on the simulator (the submit was cut
after the task existed) or not (it hung and died before). Then the same sweep runs again
against the simulator over TCP.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import kontext_widgets as kw
from kontext_widgets.engine.cells import CellLike, task_key
from kontext_widgets.engine.recovery import Candidate, decide
from kontext_widgets.request import KontextRequest
from kontext_widgets.store import Store, TaskRecord
from kontext_widgets.sweeps import plan_sweep, sweep

from ..conftest import MakeSimulator

PERSON = kw.samples.path("person")


def tasks_of(server: Any) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(server.url + "/_simulator/tasks") as answer:
        return {t["id"]: t for t in json.load(answer)}


async def interrupted(
    client: kw.Client, store: Store, cell: CellLike, *, created: bool
) -> str | None:
    """The store and service after a kill mid-submit; the id of the task made, if one was."""
    url = await client.upload(cell.request.images[0])
    sending = replace(cell.request, images=(url,), enable_sync_mode=False)
    store.begin_submit(
        task_key(cell, client),
        dict(cell.request.describe()),
        simulated=client.simulated,
        sent=sending.payload(),
    )
    return (await client.submit(sending)).id if created else None


async def test_another_commands_task_is_never_adopted(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0)
    store = Store(tmp_path)
    plan = plan_sweep(prompt="make it night", images=[PERSON], seed=[1])
    async with kw.Client(base_url=server.url) as client:
        await interrupted(client, store, plan.cells[0], created=False)
        # Meanwhile another command (a generate: other prompt, other seed) made a task.
        url = await client.upload(PERSON)
        other = await client.submit(KontextRequest.build(prompt="a cat", images=[url], seed=9))
        result = await sweep(
            prompt="make it night",
            images=[PERSON],
            seed=[1],
            client=client,
            store=store,
            progress=False,
        )
    [cell] = result.outcomes
    assert cell.state == "done"
    assert cell.prediction_id != other.id  # the generate's task is not this cell's result
    task = tasks_of(server)[cell.prediction_id]
    assert (task["prompt"], task["seed"]) == ("make it night", 1)
    assert server.stats()["tasks_created"] == 2  # the generate's, and this cell's own


@pytest.mark.parametrize("second_created", [False, True])
async def test_two_submits_in_doubt_each_get_their_own_task(
    make_simulator: MakeSimulator, tmp_path: Path, second_created: bool
) -> None:
    """Seed 1's submit cut after its task existed; seed 2's hanging at the kill."""
    server = make_simulator(latency_s=0.0)
    store = Store(tmp_path)
    plan = plan_sweep(prompt="make it night", images=[PERSON], seed=[1, 2])
    async with kw.Client(base_url=server.url) as client:
        first = await interrupted(client, store, plan.cells[0], created=True)
        second = await interrupted(client, store, plan.cells[1], created=second_created)
        result = await sweep(
            prompt="make it night",
            images=[PERSON],
            seed=[1, 2],
            client=client,
            store=store,
            progress=False,
        )
    assert [o.state for o in result.outcomes] == ["done", "done"]
    assert result.outcomes[0].prediction_id == first
    if second is not None:
        assert result.outcomes[1].prediction_id == second
    tasks = tasks_of(server)
    assert [tasks[o.prediction_id]["seed"] for o in result.outcomes] == [1, 2]
    assert server.stats()["tasks_created"] == 2  # adopted, never paid twice


async def test_history_longer_than_one_page_is_read_to_the_end(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    server = make_simulator(latency_s=0.0, output_long_side=64)
    store = Store(tmp_path)
    plan = plan_sweep(prompt="make it night", images=[PERSON], seed=[1])
    async with kw.Client(base_url=server.url, max_concurrency=8) as client:
        lost = await interrupted(client, store, plan.cells[0], created=True)
        # 101 newer predictions the store knows: the lost task is on page 2 of the history.
        busy = await sweep(
            prompt="another edit",
            images=[PERSON],
            seed="1-101",
            client=client,
            store=store,
            concurrency=8,
            max_cost_usd=None,
            progress=False,
        )
        assert len(busy.done) == 101
        page_one = {p.id for p in await client.list_predictions(page=1, page_size=100)}
        assert lost not in page_one
        result = await sweep(
            prompt="make it night",
            images=[PERSON],
            seed=[1],
            client=client,
            store=store,
            progress=False,
        )
    assert result.outcomes[0].state == "done"
    assert result.outcomes[0].prediction_id == lost
    assert server.stats()["tasks_created"] == 102  # no second task for the cell in doubt


def _doubt(key: str, sent: dict[str, Any] | None, at: float = 0.0) -> TaskRecord:
    return TaskRecord(key, "submitting", None, (), "", None, True, at, sent)


BODY = {"prompt": "night", "images": ["https://s/u/a.png"], "seed": 1, "guidance_scale": 3.5}


def test_a_history_without_inputs_cannot_decide() -> None:
    assert decide([_doubt("k", BODY)], [Candidate("p", None)]) == {"k": "unknown"}
    # ... even when another candidate matches nothing: the silent one might be this cell's.
    other = Candidate("q", {**BODY, "prompt": "day"})
    assert decide([_doubt("k", BODY)], [other, Candidate("p", None)]) == {"k": "unknown"}


def test_two_matching_tasks_are_ambiguous_and_a_task_is_adopted_once() -> None:
    twins = [Candidate("p1", BODY), Candidate("p2", BODY)]
    assert decide([_doubt("k", BODY)], twins) == {"k": "unknown"}
    assert decide([_doubt("a", BODY, 1.0), _doubt("b", BODY, 2.0)], [Candidate("p1", BODY)]) == {
        "a": "p1",
        "b": "resubmit",
    }


def test_every_compared_input_must_match() -> None:
    for change in (
        {"prompt": "day"},
        {"seed": 2},
        {"guidance_scale": 4.0},
        {"aspect_ratio": "1:1"},
        {"images": ["https://s/u/b.png"]},
        {"images": ["https://s/u/a.png", "https://s/u/b.png"]},
    ):
        assert decide([_doubt("k", BODY)], [Candidate("p", {**BODY, **change})]) == {
            "k": "resubmit"
        }, change
    # A random seed (-1) matches whatever seed the service chose.
    random = {**BODY, "seed": -1}
    assert decide([_doubt("k", random)], [Candidate("p", {**BODY, "seed": 77})]) == {"k": "p"}


def test_a_record_without_its_sent_body_is_unknown_when_any_task_was_made() -> None:
    assert decide([_doubt("k", None)], [Candidate("p", BODY)]) == {"k": "unknown"}
    assert decide([_doubt("k", None)], []) == {"k": "resubmit"}


async def test_an_unknown_submit_is_reported_and_not_resubmitted(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    """Two identical tasks exist (e.g. another store's run): ambiguous, so 'unknown', no submit."""
    server = make_simulator(latency_s=0.0)
    store = Store(tmp_path)
    plan = plan_sweep(prompt="make it night", images=[PERSON], seed=[1])
    async with kw.Client(base_url=server.url) as client:
        url = await client.upload(PERSON)
        cell = plan.cells[0]
        sending = replace(cell.request, images=(url,), enable_sync_mode=False)
        store.begin_submit(task_key(cell, client), {}, simulated=True, sent=sending.payload())
        await client.submit(sending)
        await client.submit(sending)
        result = await sweep(
            prompt="make it night",
            images=[PERSON],
            seed=[1],
            client=client,
            store=store,
            progress=False,
        )
    [outcome] = result.outcomes
    assert outcome.state == "failed"
    assert outcome.error.startswith("unknown:")
    assert "retry_failed=True" in outcome.error
    assert server.stats()["tasks_created"] == 2  # nothing more was paid for


async def test_a_cell_another_process_is_submitting_is_waited_for_not_called_unknown(
    make_simulator: MakeSimulator, tmp_path: Path
) -> None:
    """Seen 'submitting' while its claim is held: the run waits for the claim, then re-reads."""
    server = make_simulator(latency_s=0.0)
    store = Store(tmp_path)
    plan = plan_sweep(prompt="make it night", images=[PERSON], seed=[1])
    async with kw.Client(base_url=server.url) as client:
        cell = plan.cells[0]
        key = task_key(cell, client)
        url = await client.upload(PERSON)
        sending = replace(cell.request, images=(url,), enable_sync_mode=False)
        claim = store.claim(key)  # another holder (its own descriptor, as another process)
        assert claim.acquire()
        store.begin_submit(key, {}, simulated=True, sent=sending.payload())

        async def the_other_submit_answers() -> None:
            await asyncio.sleep(0.3)
            created = await client.submit(sending)
            store.submitted(key, created.id)
            claim.release()

        other = asyncio.ensure_future(the_other_submit_answers())
        result = await sweep(
            prompt="make it night",
            images=[PERSON],
            seed=[1],
            client=client,
            store=store,
            progress=False,
        )
        await other
    [outcome] = result.outcomes
    assert outcome.state == "done"
    assert outcome.cached  # paid by the other holder, not by this run
    assert server.stats()["tasks_created"] == 1
