"""The registry: one Field per request setting, and everything made from it agrees with it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kontext_widgets import KontextRequest, contract
from kontext_widgets.field_text import snippet_lines
from kontext_widgets.fields import (
    FIELDS,
    MAX_COMPARE,
    REQUEST_FIELDS,
    REQUIRED_FIELDS,
    by_trait,
    field,
    frontend_spec,
)
from kontext_widgets.payload import ALLOWED, check_payload
from kontext_widgets.request import LocalImage

from ..conftest import png_bytes

URL = "https://example.com/a.png"
NAMES = ("prompt", "images", "seed", "guidance_scale", "aspect_ratio", "enable_sync_mode")
BAD = {
    "prompt": "   ",
    "images": "https://example.com/a.png",
    "seed": -2,
    "guidance_scale": 25,
    "aspect_ratio": "5:4",
    "enable_sync_mode": "yes",
}


def test_one_field_per_setting_in_form_order() -> None:
    assert tuple(f.name for f in FIELDS) == NAMES
    assert frozenset(NAMES) == REQUEST_FIELDS
    assert {"prompt", "images"} == REQUIRED_FIELDS
    assert field("enable_sync_mode").trait == "sync_mode"
    assert by_trait("sync_mode") is field("enable_sync_mode")
    assert len({f.trait for f in FIELDS}) == len({f.cli_flag for f in FIELDS}) == len(FIELDS)
    with pytest.raises(KeyError, match="'size' is not a request setting; settings: prompt"):
        field("size")
    with pytest.raises(KeyError, match="'mode' is not a setting's trait"):
        by_trait("mode")


def test_labels_are_plain_words() -> None:
    labels = {f.name: f.label for f in FIELDS}
    assert labels["aspect_ratio"] == "Aspect ratio"
    assert labels["guidance_scale"] == "Guidance"
    assert labels["enable_sync_mode"] == "Sync mode"
    for label in labels.values():
        assert "_" not in label
        assert label[0].isupper()


def test_the_request_defaults_are_the_registrys() -> None:
    declared = {f.name: f for f in dataclasses.fields(KontextRequest)}
    for f in FIELDS:
        if not f.required:
            assert declared[f.name].default == f.default, f.name


@pytest.mark.parametrize("name", NAMES)
def test_every_check_names_the_field_the_value_and_what_is_allowed(name: str) -> None:
    f = field(name)
    problem = f.check(BAD[name])
    assert problem is not None
    assert problem.field == name
    assert problem.allowed == f.allowed == ALLOWED[name]
    assert str(problem).startswith(f"{name}: {BAD[name]!r} is not allowed; expected ")


def test_the_cache_key_is_the_one_made_before_the_registry() -> None:
    """Stores written before the registry still find their results (same hash)."""
    local = LocalImage(data=png_bytes(), name="in.png", content_type="image/png")
    for kwargs in (
        {"seed": 7, "guidance_scale": 2, "aspect_ratio": "16:9"},
        {"enable_sync_mode": True},
        {},
    ):
        request = KontextRequest.build(prompt="night", images=[URL, local], **kwargs)
        old = {
            "prompt": request.prompt,
            "images": [URL, "sha256:" + local.sha256],
            "seed": request.seed,
            "guidance_scale": float(request.guidance_scale),
            "aspect_ratio": request.aspect_ratio,
        }
        expected = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()
        assert request.cache_key() == expected


def test_sync_mode_is_sent_but_not_in_the_cache_key() -> None:
    off = KontextRequest.build(prompt="x", images=[URL], seed=1)
    on = KontextRequest.build(prompt="x", images=[URL], seed=1, enable_sync_mode=True)
    assert on.cache_key() == off.cache_key()
    assert (on.payload()["enable_sync_mode"], off.payload()["enable_sync_mode"]) == (True, False)
    assert "enable_sync_mode" not in on.describe()


def test_the_body_holds_what_was_set_and_leaves_the_service_its_choices() -> None:
    request = KontextRequest.build(prompt="x", images=[URL])
    assert request.payload() == {
        "prompt": "x",
        "images": [URL],
        "guidance_scale": 3.5,
        "enable_sync_mode": False,
    }


def test_the_snippet_lines_match_copy_as_code() -> None:
    request = KontextRequest.build(
        prompt="a red hat", images=[URL], seed=5, aspect_ratio="1:1", enable_sync_mode=True
    )
    assert snippet_lines(request) == [
        "prompt='a red hat',",
        "images=[",
        "    'https://example.com/a.png',",
        "],",
        "seed=5,",
        "guidance_scale=3.5,",
        "aspect_ratio='1:1',",
        "enable_sync_mode=True,",
    ]
    lines = snippet_lines(request, image_lines=["'/tmp/p.png',  # a local file"])
    assert lines[1:4] == ["images=[", "    '/tmp/p.png',  # a local file", "],"]
    assert "seed" not in " ".join(snippet_lines(KontextRequest.build(prompt="x", images=[URL])))


def test_the_front_end_spec() -> None:
    spec = frontend_spec()
    json.dumps(spec, allow_nan=False)  # a trait: strict JSON
    fields: Any = spec["fields"]
    assert set(fields) == {
        "prompt",
        "images",
        "seed",
        "guidance_scale",
        "aspect_ratio",
        "sync_mode",
    }
    assert fields["guidance_scale"] == {
        "name": "guidance_scale",
        "label": "Guidance",
        "kind": "number",
        "default": 3.5,
        "min": 1.0,
        "max": 20.0,
        "step": 0.1,
        "choices": [],
    }
    assert fields["aspect_ratio"]["choices"] == list(contract.ASPECT_RATIOS)
    assert fields["seed"]["kind"] == "seeds"
    assert (fields["seed"]["min"], fields["seed"]["max"]) == (0, contract.SEED_MAX)
    assert fields["sync_mode"]["name"] == "enable_sync_mode"
    assert spec["limits"] == {
        "max_images": contract.MAX_IMAGES,
        "seed_max": contract.SEED_MAX,
        "compare_max": MAX_COMPARE,
        "max_upload_bytes": contract.MAX_UPLOAD_BYTES,
        "sweep_concurrency_max": 16,
        "price_per_image_usd": contract.PRICE_PER_IMAGE_USD,
    }
    assert spec["axes"] == {
        "prompt": "Prompt",
        "images": "Images",
        "seed": "Seed",
        "guidance_scale": "Guidance",
        "aspect_ratio": "Aspect ratio",
    }


def test_the_widget_syncs_the_spec() -> None:
    from kontext_widgets.widget import KontextWidget

    trait = KontextWidget.class_traits()["field_specs"]
    assert trait.metadata.get("sync") is True
    assert trait.default() == frontend_spec()


VALID: dict[str, st.SearchStrategy[Any]] = {
    "seed": st.none() | st.integers(-1, contract.SEED_MAX),
    "guidance_scale": st.floats(1.0, 20.0) | st.integers(1, 20),
    "aspect_ratio": st.none() | st.sampled_from(contract.ASPECT_RATIOS),
    "enable_sync_mode": st.booleans(),
}


@given(st.fixed_dictionaries({}, optional=VALID))
def test_any_valid_request_makes_a_valid_body_and_a_stable_key(given_: dict[str, Any]) -> None:
    request = KontextRequest.build(prompt="x", images=[URL], **given_)
    body = request.payload()
    assert check_payload(body) == []
    assert set(body) <= REQUEST_FIELDS
    assert {k for k, v in given_.items() if v is not None} <= set(body)
    again = KontextRequest.build(prompt="x", images=[URL], **given_)
    assert again.cache_key() == request.cache_key()
