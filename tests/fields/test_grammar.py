"""The one grammar for seeds, ranges and lists (fields.parse_values / grammar.py)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kontext_widgets.contract import ASPECT_RATIOS, SEED_MAX
from kontext_widgets.errors import InvalidRequestError
from kontext_widgets.fields import MAX_RANDOM_SEEDS, parse_values
from kontext_widgets.grammar import MAX_VALUES, parse_range


def refused(name: str, value: object, **options: object) -> str:
    with pytest.raises(InvalidRequestError) as info:
        parse_values(name, value, **options)  # type: ignore[arg-type]
    [problem] = info.value.problems
    return str(problem)


@pytest.mark.parametrize(
    ("text", "seeds"),
    [
        ("1, 7, 42", [1, 7, 42]),
        ("1;7 42", [1, 7, 42]),
        ("  1,,7 ;; 42  ", [1, 7, 42]),
        ("1-4", [1, 2, 3, 4]),
        ("1 - 3, 9", [1, 2, 3, 9]),
        ("0", [0]),
        (str(SEED_MAX), [SEED_MAX]),
        ("", []),
        ("   ", []),
    ],
)
def test_seed_texts(text: str, seeds: list[int]) -> None:
    assert parse_values("seed", text) == seeds


def test_seed_lists_and_single_values() -> None:
    assert parse_values("seed", [3, 1, 2]) == [3, 1, 2]
    assert parse_values("seed", (5,)) == [5]
    assert parse_values("seed", 9) == [9]
    assert parse_values("seed", []) == []


@pytest.mark.parametrize(
    "bad", ["x", "1, x", "-3", "1.5", "1-", "９", str(SEED_MAX + 1), "9-1", "0-200000"]
)
def test_bad_seed_texts_name_field_value_and_what_is_allowed(bad: str) -> None:
    message = refused("seed", bad, field_name="seed_list")
    assert message.startswith("seed_list: ")
    assert " is not allowed; " in message
    assert "whole numbers from 0 to 2147483647" in message


@pytest.mark.parametrize("bad", [[1, True], [1.0], ["1"], [-1], [SEED_MAX + 1], {1, 2}, b"1"])
def test_bad_seed_lists(bad: object) -> None:
    assert refused("seed", bad, field_name="seeds").startswith("seeds: ")


def test_minus_one_is_random_on_the_wire_but_not_a_seed_to_write() -> None:
    from kontext_widgets.fields import field

    assert field("seed").check(-1) is None
    assert "from 0 to" in refused("seed", [-1])


def test_repeated_values_are_refused_with_a_named_error() -> None:
    assert refused("seed", "1, 2, 1") == "seed: 1 is not allowed; each seed once"
    assert refused("seed", "1-3, 2", field_name="sweep_seeds").startswith("sweep_seeds: 2 ")
    assert refused("guidance_scale", [2, 2.0]) == (
        "guidance_scale: 2 is not allowed; each guidance value once"
    )
    assert refused("prompt", "fine\nsnow\n fine ", field_name="sweep_prompts") == (
        "sweep_prompts: 'fine' is not allowed; each prompt once"
    )
    assert refused("aspect_ratio", ["1:1", "1:1"]) == (
        "aspect_ratio: '1:1' is not allowed; each aspect ratio once"
    )


def test_a_limit_counts_the_values() -> None:
    message = refused("seed", "1-17", field_name="seed_list", limit=16)
    assert message == "seed_list: 17 seeds is not allowed; at most 16 seeds"
    assert len(parse_values("seed", "1-16", limit=16)) == 16


def test_counts_mean_that_many_random_seeds_where_asked() -> None:
    drawn = parse_values("seed", "4", counts=True, rng=random.Random(3))
    assert len(drawn) == 4
    assert drawn == parse_values("seed", 4, counts=True, rng=random.Random(3))
    assert all(isinstance(s, int) and 0 <= s <= SEED_MAX for s in drawn)
    assert parse_values("seed", "4") == [4]  # without counts: the seed 4
    assert parse_values("seed", [4], counts=True) == [4]  # a list is seeds, never a count
    message = refused(
        "seed", "0", counts=True, max_count=MAX_RANDOM_SEEDS, field_name="sweep_seeds"
    )
    assert message == (
        "sweep_seeds: 0 is not allowed; a count of random seeds from 1 to 1000 "
        "(or a range such as 0-0 for that one seed)"
    )


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("2.0:6.0:0.5", [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]),
        ("2.0 : 3.0 : 0.5", [2.0, 2.5, 3.0]),
        ("2, 3.5, 5", [2.0, 3.5, 5.0]),
        ("2;3.5 5", [2.0, 3.5, 5.0]),
        ("1:1.2:0.1, 4", [1.0, 1.1, 1.2, 4.0]),
        ("3.5", [3.5]),
        ("", []),
    ],
)
def test_guidance_texts(text: str, values: list[float]) -> None:
    assert parse_values("guidance_scale", text) == values


@pytest.mark.parametrize("bad", ["2, 30", "0.5", "a:b:c", "1:2", "2:1:0.5", "1:2:0", "nan", "x"])
def test_bad_guidance_texts(bad: str) -> None:
    message = refused("guidance_scale", bad, field_name="sweep_guidance")
    assert message.startswith("sweep_guidance: ")
    assert "from 1 to 20" in message


def test_guidance_lists_keep_their_values() -> None:
    assert parse_values("guidance_scale", [2, 3.5]) == [2, 3.5]
    assert "from 1 to 20" in refused("guidance_scale", [2, 30])
    assert "from 1 to 20" in refused("guidance_scale", [True])


def test_choices_lines_image_sets_and_single_values() -> None:
    assert parse_values("aspect_ratio", "16:9, 1:1") == ["16:9", "1:1"]
    assert parse_values("aspect_ratio", ["9:21"]) == ["9:21"]
    assert parse_values("aspect_ratio", "16:9") == ["16:9"]
    message = refused("aspect_ratio", ["16:9", "5:4"], field_name="sweep_ratios")
    assert message == (
        "sweep_ratios: '5:4' is not allowed; expected aspect ratios among "
        + ", ".join(ASPECT_RATIOS)
    )
    assert parse_values("prompt", "make it night\n\n  make it snow  \n") == [
        "make it night",
        "make it snow",
    ]
    assert parse_values("prompt", ["a", "b"]) == ["a", "b"]
    assert refused("prompt", ["ok", 3]) == (
        "prompt: 3 is not allowed; expected a non-empty edit instruction (a string)"
    )
    assert parse_values("images", [["a"], ["b", "c"]]) == [["a"], ["b", "c"]]
    assert parse_values("images", ["a", "b"]) == [["a", "b"]]
    assert parse_values("enable_sync_mode", True) == [True]
    assert "not a sweep axis" in refused("enable_sync_mode", [True, False])
    assert "true or false" in refused("enable_sync_mode", "yes")


def test_parse_range_is_the_range_piece() -> None:
    assert parse_range("1-8") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert parse_range("1.0:2.0:0.1")[-1] == 2.0
    for bad in ("8-1", "1:2", "a-b", "1.0:2.0:0", "3", "1:nan:1", "0-100000"):
        with pytest.raises(ValueError, match=r"range|START"):
            parse_range(bad)
    assert len(parse_range(f"0-{MAX_VALUES - 1}")) == MAX_VALUES


@given(st.lists(st.integers(0, SEED_MAX), unique=True, max_size=20), st.data())
def test_any_list_of_seeds_written_out_reads_back(seeds: list[int], data: st.DataObject) -> None:
    separators = data.draw(st.lists(st.sampled_from([",", ";", " ", ", ", " ; "]), min_size=20))
    text = "".join(f"{s}{sep}" for s, sep in zip(seeds, separators, strict=False))
    assert parse_values("seed", text) == seeds
    assert parse_values("seed", seeds) == seeds


@given(
    st.decimals("1", "10", places=1),
    st.integers(0, 40),
    st.sampled_from([Decimal("0.1"), Decimal("0.25"), Decimal("0.5"), Decimal("1")]),
)
def test_float_ranges_end_exactly(start: Decimal, steps: int, step: Decimal) -> None:
    stop = start + steps * step
    values = parse_range(f"{start}:{stop}:{step}")
    assert len(values) == steps + 1
    assert values[0] == float(start)
    assert values[-1] == float(stop)


@given(st.text(max_size=40), st.sampled_from(["seed", "guidance_scale", "aspect_ratio", "prompt"]))
def test_any_text_parses_or_is_refused_by_name(text: str, name: str) -> None:
    try:
        values = parse_values(name, text, field_name="the_field", counts=True, max_count=50)
    except InvalidRequestError as exc:
        fields = {p.field for p in exc.problems}
        str(exc)
    else:
        assert len(values) == len(set(map(repr, values)))
        return
    assert fields == {"the_field"}
