"""The poll schedule and the retry policy as pure functions (no clock, no network)."""

from __future__ import annotations

import itertools

import pytest

from kontext_widgets import Client, PollPolicy, RetryPolicy
from kontext_widgets.client import MAX_RETRY_AFTER_S, REMOTE_POLL_FLOOR_S, DurationEstimate
from kontext_widgets.client.endpoint import is_loopback

from .memory import MemoryTransport


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:9", True),
        ("http://127.3.4.5:9", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("http://kontext-sim.test:9", False),  # even when /etc/hosts maps it to 127.0.0.1
        ("https://api.wavespeed.ai", False),
        ("http://10.0.0.2", False),
    ],
)
def test_loopback_is_decided_by_the_host_name(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback
    client = Client(base_url=url, api_key="k", transport=MemoryTransport({}))
    assert client.poll.polite is not loopback


def test_the_remote_schedule_never_polls_one_task_twice_within_2_s() -> None:
    policy = PollPolicy.remote()
    assert REMOTE_POLL_FLOOR_S == 2.0
    grid = itertools.product(
        [0.0, 0.5, 1.9, 4.99, 5.0, 5.2, 30.0, 600.0],  # elapsed
        [0.0, 0.01, 1.0, 1.99, 2.0, 5.0],  # since the last poll's answer
        [None, 0.3, 1.3, 5.0, 60.0],  # expected
        [0.0, 0.5],  # spread
    )
    for elapsed, since, expected, spread in grid:
        assert since + policy.next_delay(elapsed, since, expected, spread) >= 2.0


def test_the_remote_schedule_looks_first_just_after_the_expected_finish() -> None:
    policy = PollPolicy.remote()
    first = policy.next_delay(0.0, None, 5.0)
    assert 5.0 < first <= 5.0 * 1.05
    assert policy.next_delay(first, 0.0, 5.0) == 2.0  # then at the floor
    assert list(policy.delays(None, limit=3)) == [2.0, 2.0, 2.0]  # cold: as often as allowed


def test_the_loopback_schedule_is_fast_cold_and_close_around_the_finish_warm() -> None:
    policy = PollPolicy()
    cold = list(policy.delays(None, limit=30))
    assert cold[0] <= 0.05
    seen = next(t for t in itertools.accumulate(cold) if t >= 1.3)
    assert seen < 1.3 + 0.2  # a 1.3 s task is seen within 0.2 s of its finish, cold
    assert all(b >= a for a, b in itertools.pairwise(cold))
    warm = list(policy.delays(1.3, limit=3))
    assert warm[0] == pytest.approx(0.9 * 1.3)
    assert warm[1] == pytest.approx(0.03 * 1.3)


def test_a_spread_of_durations_moves_the_first_remote_look_later() -> None:
    policy = PollPolicy.remote()
    assert policy.next_delay(0.0, None, 5.0, spread_s=0.5) > policy.next_delay(0.0, None, 5.0)


def test_bad_schedules_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="growth"):
        PollPolicy(growth=0.5)
    with pytest.raises(ValueError, match="floor_s"):
        PollPolicy(floor_s=-1)


def test_the_duration_prefers_the_services_own_timing_inside_the_bracket() -> None:
    d = DurationEstimate()
    d.observe_bracket(4.0, 6.0, 5.0)
    assert d.value == 5.0
    d2 = DurationEstimate()
    d2.observe_bracket(4.0, 6.0, 1.0)  # queue time not in the timing: the bracket's middle
    assert d2.value == 5.0
    d2.seed(100.0)  # a remembered value never overrides an observed one
    assert d2.value == 5.0


def test_retry_after_is_honoured_up_to_a_stated_maximum() -> None:
    assert MAX_RETRY_AFTER_S == 60.0
    policy = RetryPolicy()
    assert policy.max_retry_after_s == MAX_RETRY_AFTER_S
    assert policy.delay(0, "100000") == MAX_RETRY_AFTER_S
    assert policy.delay(0, "7") == 7
