"""Proof of "one declaration per setting": a new boolean field, declared once, is picked up
everywhere with no other edit: the request check, the submit body, the cache key, the
unknown-keyword refusal, both CLI commands, the sweep planner, "copy as code", the front
end's spec, the docs table and a real submit to the simulator over TCP.
"""

from __future__ import annotations

import argparse

import pytest

from kontext_widgets import Client, InvalidRequestError, KontextRequest, samples
from kontext_widgets import fields as registry
from kontext_widgets.checks import BOOL_ALLOWED, check_bool
from kontext_widgets.cli import _parser, _requests
from kontext_widgets.cli.options import add_setting_options, setting_arguments
from kontext_widgets.field_text import settings_table, snippet_lines
from kontext_widgets.fields import Field, frontend_spec
from kontext_widgets.payload import check_payload
from kontext_widgets.simulator import SimulatorServer
from kontext_widgets.sweeps import plan_sweep

URL = "https://example.com/a.png"
BASE = {"prompt": "make it night", "images": [URL], "seed": 3}

#: Everything a new setting needs, in one place (this is the whole of the edit).
NEW = Field(
    name="enable_upscale",
    wire="enable_upscale",
    trait="upscale",
    label="Upscale",
    default=False,
    allowed=BOOL_ALLOWED,
    check=lambda value: check_bool("enable_upscale", value),
    in_cache_key=True,
    axis="none",
    cli_flag="--upscale",
    snippet=lambda on: "enable_upscale=True," if on is True else None,
    frontend={"kind": "bool"},
    help="upscale the output",
)


@pytest.fixture
def with_new_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "FIELDS", (*registry.FIELDS, NEW))


def test_before_the_declaration_the_keyword_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"enable_upscale: .* unknown field"):
        KontextRequest.build(**BASE, enable_upscale=True)


@pytest.mark.usefixtures("with_new_field")
def test_the_request_checks_and_sends_it() -> None:
    with pytest.raises(InvalidRequestError) as info:
        KontextRequest.build(**BASE, enable_upscale="yes")
    assert str(info.value) == "enable_upscale: 'yes' is not allowed; expected true or false"
    request = KontextRequest.build(**BASE, enable_upscale=True)
    assert request.value("enable_upscale") is True
    body = request.payload()
    assert body["enable_upscale"] is True
    assert check_payload(body) == []
    assert check_payload({**body, "enable_upscale": 1})[0].field == "enable_upscale"
    assert request.describe()["enable_upscale"] is True


@pytest.mark.usefixtures("with_new_field")
def test_the_cache_key_tells_it_apart_and_keeps_old_keys() -> None:
    on = KontextRequest.build(**BASE, enable_upscale=True)
    off = KontextRequest.build(**BASE, enable_upscale=False)
    unset = KontextRequest.build(**BASE)
    assert on.cache_key() != off.cache_key()
    # At its default the key is the one made before the field existed: the store still finds
    # every result it holds.
    assert off.cache_key() == unset.cache_key()
    registry.FIELDS = registry.FIELDS[:-1]
    assert KontextRequest.build(**BASE).cache_key() == unset.cache_key()


@pytest.mark.usefixtures("with_new_field")
def test_both_commands_get_the_option() -> None:
    args = _parser().parse_args(["generate", "--prompt", "x", "--image", URL, "--upscale"])
    [request] = _requests(args)
    assert request.payload()["enable_upscale"] is True
    sweep = argparse.ArgumentParser()
    add_setting_options(sweep, sweep=True)
    given = setting_arguments(sweep.parse_args(["--upscale", "--seed", "1-2"]), sweep=True)
    assert given == {"seed": "1-2", "enable_upscale": True}


@pytest.mark.usefixtures("with_new_field")
def test_a_sweep_takes_it_as_a_fixed_setting_not_an_axis() -> None:
    plan = plan_sweep(**BASE, enable_upscale=True)
    assert plan.cells[0].request.payload()["enable_upscale"] is True
    with pytest.raises(InvalidRequestError, match=r"enable_upscale: .* not a sweep axis"):
        plan_sweep(**BASE, enable_upscale=[True, False])


@pytest.mark.usefixtures("with_new_field")
def test_snippet_front_end_and_docs_table_show_it() -> None:
    request = KontextRequest.build(**BASE, enable_upscale=True)
    assert snippet_lines(request)[-1] == "enable_upscale=True,"
    spec = frontend_spec()["fields"]
    assert isinstance(spec, dict)
    assert spec["upscale"] == {
        "name": "enable_upscale",
        "label": "Upscale",
        "kind": "bool",
        "default": False,
        "min": None,
        "max": None,
        "step": None,
        "choices": [],
    }
    assert "| `enable_upscale` | `enable_upscale` | `upscale` | Upscale |" in settings_table()


@pytest.mark.usefixtures("with_new_field")
async def test_a_real_submit_carries_it(simulator: SimulatorServer) -> None:
    request = KontextRequest.build(
        **{**BASE, "images": [samples.path("person")]}, enable_upscale=True
    )
    async with Client(base_url=simulator.url) as client:
        prediction = await client.run(request)
    assert prediction.status.value == "completed"
    assert prediction.request is not None
    assert prediction.request.value("enable_upscale") is True
