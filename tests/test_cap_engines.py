"""The two engines' rolling caps agree send by send.

The reference engine keeps each member's cap as the times of their last ``max`` messages
(``MemberCap``, readable); the vector engine keeps every member's in one ring array
(``RollingCap``, fast). Fed the same send times, they must admit exactly the same sends,
including sends exactly one window after an earlier one (outside it) and at the same minute.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.agent import MemberCap
from sim.spec.strategy import Cap
from sim.strategies.caps import RollingCap

MINUTE = 1 / 1440


def _admitted(cap: Cap, times: list[float], member: int, n: int) -> tuple[list[bool], list[bool]]:
    reference, vector = MemberCap(cap), RollingCap(cap, n)
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
