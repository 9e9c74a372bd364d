"""The widget's controllers on their own: no comm, no front end, most without a widget."""

from __future__ import annotations

import asyncio
import gc
import warnings
from pathlib import Path
from typing import Any

import pytest

from kontext_widgets import KontextWidget, samples
from kontext_widgets.contract import Status
from kontext_widgets.engine.cells import CellOutcome
from kontext_widgets.engine.progress import Progress
from kontext_widgets.engine.single import Settings, plan_run
from kontext_widgets.errors import InvalidRequestError
from kontext_widgets.fields import FIELDS
from kontext_widgets.inputs import InputList
from kontext_widgets.prediction import OutputImage, Prediction
from kontext_widgets.widget import messages, plan_view, settings
from kontext_widgets.widget.outputs import Outputs, input_answer
from kontext_widgets.widget.single_run import BILLED_CANCEL, SingleRun
from kontext_widgets.widget.tasks import Tasks

from ..conftest import png_bytes


def a_plan(seeds: str = "1, 2") -> Any:
    images = InputList()
    images.add_url("https://example.com/a.png")
    plan, _ = plan_run(
        Settings(prompt="x", seed_list=seeds), images.items, run_id="run1", draw_seed=lambda: 0
    )
    return plan


# --------------------------------------------------------------------------- tasks


async def test_tasks_drive_busy_and_cancel_what_runs() -> None:
    seen: list[bool] = []
    tasks = Tasks(on_busy=seen.append)
    loop = asyncio.get_running_loop()
    slow = tasks.start_run(loop, asyncio.sleep(30))
    assert tasks.busy
    assert seen == [True]
    assert tasks.cancel_runs() == [slow]
    with pytest.raises(asyncio.CancelledError):
        await slow
    await asyncio.sleep(0)
    assert not tasks.busy
    assert seen[-1] is False


def test_side_work_without_a_loop_is_closed_not_leaked() -> None:
    tasks = Tasks(on_busy=lambda busy: None)

    async def work() -> None:
        raise AssertionError("never runs")

    called: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be an error
        tasks.in_background(work())
        tasks.after([], lambda: called.append("now"))
        gc.collect()
    assert called == ["now"]
    assert not tasks.side


# --------------------------------------------------------------------------- outputs


def test_outputs_answer_by_key_with_the_full_bytes() -> None:
    data = png_bytes()
    done = Prediction(id="p1", status=Status.COMPLETED, images=(OutputImage("u", data),))
    outputs = Outputs()
    outputs.add_prediction(done, "seed 1", ())
    answer, buffers = outputs.full_answer("r1", "p1:0")
    assert answer == {
        "type": "full",
        "request_id": "r1",
        "mime": "image/png",
        "name": "kontext-p1.png",
    }
    assert buffers == [data]
    assert outputs.thumb(outputs.record("p1:0", 0)).startswith("data:image/jpeg;base64,")
    refused, nothing = outputs.full_answer("r2", "p9:0")
    assert "p9:0" in refused["error"]
    assert nothing == []
    failed = Prediction(id="p2", status=Status.FAILED)
    with pytest.raises(InvalidRequestError, match="completed prediction"):
        outputs.record(failed, 0)


def test_input_answers_give_bytes_or_the_url() -> None:
    images = InputList()
    images.add_url("https://example.com/a.png")
    images.add(samples.path("person"))
    url, none = input_answer("r", 0, images.items)
    assert (url["url"], none) == ("https://example.com/a.png", [])
    local, data = input_answer("r", 1, images.items)
    assert local["name"] == "person.png"
    assert data == [images.items[1].source.data]  # type: ignore[union-attr]
    assert "no input image at index True" in input_answer("r", True, images.items)[0]["error"]


# --------------------------------------------------------------------------- settings


def test_settings_tables_are_what_the_methods_accept() -> None:
    values, problems = settings.settings_values({"seeds": "4 5", "compare": 3})
    assert values == {"seed": 4, "seed_locked": True, "seed_list": "4, 5", "compare": 3}
    assert problems == []
    _, problems = settings.settings_values({"seeds": [1, 1], "aspect_ratio": "5:4"})
    assert [p.field for p in problems] == ["seeds", "aspect_ratio"]
    # The keywords generate() takes: the registry's widget settings (seed as "seeds"), then
    # the widget's own.
    request = [("seeds" if f.name == "seed" else f.name) for f in FIELDS if f.trait]
    assert list(settings.SETTERS) == [*request, "compare", "on_busy"]
    assert set(settings.SWEEP_SETTERS) >= {f.name for f in FIELDS if f.trait}
    values, general, problems = settings.sweep_values(
        {"prompt": ["a", "b"], "max_cost_usd": None, "rows": 3}
    )
    assert values == {"sweep_prompts": "a\nb", "sweep_allow_over_budget": True}
    assert general == {}
    assert [p.field for p in problems] == ["rows"]
    names = settings.init_names(KontextWidget.__init__)
    assert names[:4] == ["prompt", "images", "aspect_ratio", "seeds"]
    assert "store" in names
    assert "unknown" not in names


# --------------------------------------------------------------------------- a single run


def test_a_single_run_follows_the_runners_outcomes() -> None:
    shown: list[str] = []
    run = SingleRun(a_plan(), simulated=True, on_change=lambda r: shown.append(r.status()))
    run.start_running()
    progress = Progress(total=2)
    run.on_progress(progress, CellOutcome(0, {"seed": 1}, "running"))
    assert run.jobs[0].state == "queued"  # waiting for its turn to submit
    run.on_progress(progress, CellOutcome(0, {"seed": 1}, "running", prediction_id="p1"))
    assert run.jobs[0].state == "running"
    assert run.jobs[0].started is not None
    failed = Prediction(id="p1", status=Status.FAILED, error="boom", code=500)
    run.on_progress(progress, CellOutcome(0, {"seed": 1}, "failed", "p1", prediction=failed))
    assert run.jobs[0].state == "failed"
    assert "failed (code 500" in run.jobs[0].error
    run.on_progress(progress, CellOutcome(1, {"seed": 2}, "failed", error="in doubt"))
    assert run.jobs[1].error == "in doubt"
    assert run.jobs[1].exception is not None  # generate() raises it when nothing came back
    run.finish(simulated=True)
    assert shown[-1] == "0 of 2 done, 2 failed"
    assert run.predictions() == [failed]


def test_the_plan_trait_counts_what_is_new_and_what_is_stored() -> None:
    assert plan_view.plan_trait(3, 0, simulated=False, fresh_note=True) == {
        "images": 3,
        "from_store": 0,
        "cost_usd": 0.12,
        "text": "3 new images, $0.12",
    }
    mixed = plan_view.plan_trait(3, 1, simulated=False, fresh_note=True)
    assert (mixed["images"], mixed["from_store"], mixed["cost_usd"]) == (2, 1, 0.08)


# --------------------------------------------------------------------------- messages


class Answers(KontextWidget):
    sent: list[dict[str, Any]]

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.__dict__.setdefault("sent", []).append(content)


def test_messages_dispatch_without_a_comm(tmp_path: Path) -> None:
    w = Answers(images=["https://example.com/a.png"], store=tmp_path)
    assert messages.dispatch(w, {"type": "fetch_input", "request_id": "r", "index": 0}, [])
    assert w.sent[-1] == {"type": "full", "request_id": "r", "url": "https://example.com/a.png"}
    assert not messages.dispatch(w, {"type": "teleport"}, [])
    assert "teleport" in w.error
    assert messages.dispatch(w, {"type": "add_url", "url": " https://example.com/b.png "}, [])
    assert [i["name"] for i in w.images] == ["a.png", "b.png"]
    assert w.error == ""
    # No loop runs here: a Generate is refused with the reason, nothing raises out.
    assert messages.dispatch(w, {"type": "generate"}, [])
    assert "event loop" in w.error
    w.close()


def test_sync_mode_jobs_run_from_their_submit_and_cancelled_submits_say_billed() -> None:
    """Issue 11: sync-mode chips said "queued" for the whole run; Cancel hid the charge."""
    images = InputList()
    images.add_url("https://example.com/a.png")
    plan, _ = plan_run(
        Settings(prompt="x", seed=1, seed_locked=True, compare=2, sync_mode=True),
        images.items,
        run_id="run1",
        draw_seed=lambda: 0,
    )
    run = SingleRun(plan, simulated=True, on_change=lambda r: None)
    run.start_running()
    run.on_progress(Progress(total=2), CellOutcome(0, {"seed": 1}, "running"))
    assert run.jobs[0].state == "running"  # the one sync call is open: running, with a clock
    assert run.jobs[0].started is not None
    assert run.jobs[1].state == "queued"
    run.cancel_now()
    assert run.jobs[0].error == BILLED_CANCEL == "cancelled after submit: billed"
    assert run.jobs[1].state == "cancelled"
    assert run.jobs[1].error == ""
