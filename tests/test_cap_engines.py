"""The two engines' rolling caps agree send by send.

The reference engine keeps each member's cap as the times of their last ``max`` messages
(``MemberCap``, readable); the vector engine keeps every member's in one ring array
(``RollingCap``, fast). Calendar caps likewise: the reference counts by the dates a period
begins, the vector engine by period numbers (``CalendarCap``). Fed the same send times, they
must admit exactly the same sends, including sends exactly one window after an earlier one
(outside it) and at the same minute.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.agent import MemberCap
from sim.spec.scenario import DEFAULT_START
from sim.spec.strategy import Cap
from sim.strategies.calendar import Calendar
from sim.strategies.caps import CalendarCap, RollingCap

MINUTE = 1 / 1440


def _admitted(cap: Cap, times: list[float], member: int, n: int) -> tuple[list[bool], list[bool]]:
    reference, vector = MemberCap(cap, Calendar(DEFAULT_START)), RollingCap(cap, n)
    idx = np.array([member])
    by_reference, by_vector = [], []
    for t in times:
        ok = reference.admits(t)
        if ok:
            reference.record(t)
        by_reference.append(ok)
        fits = bool(vector.allows(idx, t)[0])
        if fits:
            vector.record(idx, t)
        by_vector.append(fits)
    return by_reference, by_vector


@settings(max_examples=300, deadline=None)
@given(
    max_=st.integers(1, 5),
    days=st.integers(1, 14),
    # Send times as minutes, and some exactly a window after an earlier send.
    minutes=st.lists(st.integers(0, 60 * 1440), min_size=1, max_size=40),
    echoes=st.lists(st.integers(0, 39), max_size=10),
    member=st.integers(0, 4),
)
def test_reference_and_vector_caps_admit_the_same_sends(
    max_: int, days: int, minutes: list[int], echoes: list[int], member: int
) -> None:
    times = [m * MINUTE for m in minutes]
    times += [times[i % len(times)] + days for i in echoes]  # "exactly d days later"
    times.sort()
    cap = Cap(max=max_, days=float(days))
    by_reference, by_vector = _admitted(cap, times, member, n=5)
    assert by_reference == by_vector


def test_a_send_exactly_one_window_later_is_admitted_and_one_a_minute_early_is_not() -> None:
    cap = Cap(max=1, days=7.0)
    t0 = 3 + 9 / 24  # day 3, 09:00: day + hour / 24 is inexact in floating point
    for times, expected in (
        ([t0, t0 + 7], [True, True]),
        ([t0, t0 + 7 - MINUTE], [True, False]),
    ):
        by_reference, by_vector = _admitted(cap, times, member=0, n=1)
        assert by_reference == by_vector == expected


# Mondays: in a leap year's January and just before its leap day, in a common year, and in
# 2100 (divisible by 4, no leap day).
MONDAYS = [date(2024, 1, 1), date(2024, 2, 26), date(2023, 1, 30), date(2100, 2, 22)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    start=st.sampled_from(MONDAYS),
    per=st.sampled_from(["day", "week", "month"]),
    most=st.integers(1, 4),
    minutes=st.lists(st.integers(0, 120 * 1440), min_size=1, max_size=60),
)
def test_reference_and_vector_calendar_caps_admit_the_same_sends(start, per, most, minutes):
    """The reference engine's cap counts by dates (``MemberCap``); the vector engine's by
    period numbers (``CalendarCap``): fed the same times, they admit the same sends."""
    cap = Cap.model_validate(f"{most} per {per}")
    cal = Calendar(start)
    reference, vector = MemberCap(cap, cal), CalendarCap(cap, 1, cal)
    member = [0]
    for t in sorted(m / 1440 for m in minutes):
        ok = reference.admits(t)
        assert bool(vector.allows(member, t)[0]) == ok, t
        if ok:
            reference.record(t)
            vector.record(member, t)
