"""The request pacer: burst up to the budget, then spaced; never more than the budget per window."""

from __future__ import annotations

import random

import pytest

from runtime.ingest.pacing import RequestPacer
from tests.runtime.ingest.conftest import FakeClock


def call_starts(pacer: RequestPacer, clock: FakeClock, durations: list[float]) -> list[float]:
    starts = []
    for duration in durations:
        with pacer.slot():
            starts.append(clock.monotonic())
            clock.sleep(duration)
    return starts


def test_burst_up_to_the_budget_then_one_call_per_returned_token():
    clock = FakeClock()
    pacer = RequestPacer(5, 60.0, clock=clock)

    starts = call_starts(pacer, clock, [0.0] * 12)

    assert starts == [0.0] * 5 + [60.0] * 5 + [120.0] * 2


def test_a_token_comes_back_one_period_after_its_call_finished():
    clock = FakeClock()
    pacer = RequestPacer(2, 10.0, clock=clock)

    # The first call takes 3 s: its token is usable again at 3 + 10 = 13.
    starts = call_starts(pacer, clock, [3.0, 0.5, 0.0, 0.0])

    assert starts == [0.0, 3.0, 13.0, 13.5]


def test_min_interval_spaces_the_burst():
    clock = FakeClock()
    pacer = RequestPacer(3, 60.0, clock=clock, min_interval=1.0)

    starts = call_starts(pacer, clock, [0.0] * 5)

    assert starts == [0.0, 1.0, 2.0, 60.0, 61.0]


def test_no_window_of_one_period_ever_holds_more_than_the_budget():
    rng = random.Random(3)
    clock = FakeClock()
    pacer = RequestPacer(5, 1.0, clock=clock)
    durations = [rng.uniform(0.0, 0.4) for _ in range(200)]

    starts = call_starts(pacer, clock, durations)
    ends = [start + duration for start, duration in zip(starts, durations, strict=True)]

    # However the server stamps a call (arrival anywhere between start and end), any
    # six consecutive calls span more than one period.
    for first, sixth in zip(ends, starts[5:], strict=False):
        assert sixth - first >= 1.0 - 1e-9
    # ... and the pacer does not wait longer than that requires.
    assert starts[-1] <= sum(durations) + (200 / 5) * 1.0


def test_wait_time_says_when_the_next_call_may_start():
    clock = FakeClock()
    pacer = RequestPacer(2, 10.0, clock=clock, min_interval=1.0)
    assert pacer.wait_time() == 0.0

    call_starts(pacer, clock, [0.0])
    assert pacer.wait_time() == 1.0
    clock.sleep(1.0)
    call_starts(pacer, clock, [0.0])
    assert pacer.wait_time() == pytest.approx(9.0)


@pytest.mark.parametrize(
    ("budget", "period", "min_interval"), [(0, 60.0, 0.0), (5, 0.0, 0.0), (5, 60.0, -1.0)]
)
def test_nonsense_limits_are_refused(budget, period, min_interval):
    with pytest.raises(ValueError, match="budget must be >= 1"):
        RequestPacer(budget, period, clock=FakeClock(), min_interval=min_interval)
