"""labels.py: tiles name only what differs, in one vocabulary."""

from __future__ import annotations

from dataclasses import replace

from kontext_widgets import labels as vocab
from kontext_widgets.sweeps.layout import format_value

from .display._helpers import REQUEST, pred


def test_labels_name_only_what_differs() -> None:
    assert vocab.differing_labels([pred(1), pred(2)]) == ["seed 1", "seed 2"]
    g = replace(REQUEST, guidance_scale=2.5)
    assert vocab.differing_labels([pred(1), pred(1, request=g)]) == [
        "guidance 3.5",
        "guidance 2.5",
    ]
    r = replace(REQUEST, aspect_ratio="16:9")
    assert vocab.differing_labels([pred(4), pred(5, request=r)]) == [
        "seed 4 · ratio default",
        "seed 5 · ratio 16:9",
    ]


def test_nothing_differs_shows_the_seed() -> None:
    assert vocab.differing_labels([pred(7), pred(7)]) == ["seed 7", "seed 7"]
    assert vocab.differing_labels([pred(-1)]) == ["seed random"]


def test_prompt_labels_are_shortened() -> None:
    long = "make the sky a deep purple with swirling stars and a crescent moon above the hills"
    labels = vocab.differing_labels([pred(1), pred(1, request=replace(REQUEST, prompt=long))])
    assert labels[0] == "prompt “put the shoes on her”"
    assert labels[1].startswith("prompt “make the sky")
    assert labels[1].endswith("…”")
    assert len(labels[1]) < len(long)


def test_input_images_differing_are_labelled() -> None:
    other = replace(REQUEST, images=("https://example.com/other.png",))
    assert vocab.differing_labels([pred(1), pred(1, request=other)]) == [
        "images https://example.com/person.png",
        "images https://example.com/other.png",
    ]


def test_prediction_without_request_is_labelled_by_id() -> None:
    assert vocab.differing_labels([pred(1, request=None), pred(2)]) == [
        "prediction pred-1",
        "seed 2",
    ]


def test_grid_legends_use_the_same_words_without_the_names_the_heading_gives() -> None:
    assert format_value("seed", 7) == vocab.format_field("seed", 7) == "seed 7"
    assert format_value("guidance_scale", 3.5) == vocab.format_field("guidance_scale", 3.5)
    assert format_value("aspect_ratio", "16:9") == "16:9"
    assert vocab.format_field("aspect_ratio", "16:9") == "ratio 16:9"
    long = "a prompt " * 20
    assert format_value("prompt", long) == long  # legends are not shortened
    assert vocab.format_field("prompt", long).endswith("…”")


def test_shared_fields_head_a_row() -> None:
    preds = [pred(1), pred(2)]
    shared = vocab.shared_fields(preds, vocab.differing_fields(preds))
    assert shared == [
        "prompt “put the shoes on her”",
        "guidance 3.5",
        "ratio default",
        "1 input image",
    ]
    assert vocab.shared_fields([pred(1, request=None)], ["seed"]) == []
