"""Tier qualification windows and status holds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import tiers

SILVER_GOLD = np.array([1_000.0, 5_000.0])


def test_exactly_at_threshold_qualifies() -> None:
    amount = np.array([0.0, 999.0, 1_000.0, 4_999.0, 5_000.0, 1e9])
    np.testing.assert_array_equal(tiers.qualified_level(amount, SILVER_GOLD), [0, 0, 1, 1, 2, 2])
    assert tiers.qualified_level(amount, SILVER_GOLD).dtype == np.int8


def test_bucket_of_is_exact_on_month_boundaries() -> None:
    assert tiers.bucket_of(365, 12) == 12
    assert tiers.bucket_of(364, 12) == 11
    # Bucket b starts on day ceil(b * 365 / 12); the day before is still bucket b - 1.
    for b in range(1, 40):
        start = int(np.ceil(b * 365 / 12))
        assert tiers.bucket_of(start, 12) == b
        assert tiers.bucket_of(start - 1, 12) == b - 1


def test_rolling_window_drops_the_bucket_that_rolls_out() -> None:
    w = tiers.new_window(2)
    both = np.array([0, 1])
    tiers.add(w, both, np.array([600.0, 0.0]))  # day 0, bucket 0
    tiers.advance(w, 31)  # bucket 1
    tiers.add(w, both, np.array([400.0, 50.0]))
    assert tiers.advance(w, 364) == 10  # bucket 11: the whole year is in the window
    np.testing.assert_allclose(w.total, [1_000.0, 50.0])
    assert tiers.advance(w, 365) == 1  # bucket 12 starts: bucket 0 rolls out
    np.testing.assert_allclose(w.total, [400.0, 50.0])
    np.testing.assert_array_equal(tiers.qualified_level(w.total, SILVER_GOLD), [0, 0])
    tiers.advance(w, 10 * 365)  # a long gap clears everything
    np.testing.assert_allclose(w.total, 0.0)
    assert w.bucket == 120


def _run(kind: tiers.Kind, spend: dict[int, float], days: int) -> list[int]:
    """One member, one daily step per day; returns the level at the end of each day."""
    w = tiers.new_window(1, kind)
    held = tiers.new_held(1, 2)
    level = np.zeros(1, dtype=np.int8)
    out = []
    for day in range(days):
        tiers.advance(w, day)
        qualified = np.zeros(1, dtype=np.int8)
        if day in spend:
            tiers.add(w, np.array([0]), np.array([spend[day]]))
            qualified = tiers.qualified_level(w.total, SILVER_GOLD)
        hold = tiers.hold_end(day, kind)
        level, held, _, _ = tiers.next_status(level, held, qualified, day, hold)
        out.append(int(level[0]))
    return out


def test_rolling_downgrade_and_requalification() -> None:
    spend = {0: 6_000.0, 340: 100.0, 400: 1_000.0, 800: 5_000.0}
    levels = _run("rolling", spend, 900)
    # Gold on day 0, renewed on day 340 (the 6,000 is still in the window) until day 705.
    assert levels[0] == levels[704] == 2
    # The 6,000 rolled out on day 365; day 400 qualifies for silver only, held to day 765.
    assert levels[705] == levels[764] == 1
    assert levels[765] == levels[799] == 0
    # Re-qualification: the day-400 spend has rolled out, the 5,000 alone makes gold.
    assert levels[800] == levels[899] == 2
    changes = [d for d in range(1, 900) if levels[d] != levels[d - 1]]
    assert changes == [705, 765, 800]


def test_calendar_resets_sum_but_keeps_status_for_next_period() -> None:
    w = tiers.new_window(1, "calendar")
    tiers.add(w, np.array([0]), np.array([1_000.0]))
    tiers.advance(w, 364)
    assert w.total[0] == 1_000.0
    tiers.advance(w, 365)
    assert w.total[0] == 0.0
    assert tiers.hold_end(100, "calendar") == 730
    assert tiers.hold_end(729, "calendar") == 1_095

    levels = _run("calendar", {100: 1_000.0}, 1_100)
    assert levels[99] == 0
    assert levels[100] == levels[729] == 1  # all of period 1, though its sum is 0
    assert levels[730] == 0


def test_calendar_lower_tier_reached_during_hold_is_kept() -> None:
    # Gold in period 0 (held to day 730); silver reached in period 1 holds through period 2,
    # although the window has just reset when gold lapses.
    levels = _run("calendar", {10: 5_000.0, 400: 1_000.0}, 1_100)
    assert levels[729] == 2
    assert levels[730] == levels[1_094] == 1
    assert levels[1_095] == 0


def test_status_expiry() -> None:
    held = np.array([[100.0, -np.inf, 300.0], [50.0, -np.inf, 300.0]])
    level = tiers.level_at(held, 60.0)
    np.testing.assert_array_equal(level, [1, 0, 2])
    np.testing.assert_array_equal(tiers.status_expiry(held, level), [100.0, np.inf, 300.0])


# Gaps and amounts near the interesting values: a hold ending, thresholds just met or missed.
GAPS = st.one_of(st.integers(1, 400), st.sampled_from([29, 30, 31, 334, 335, 364, 365, 366]))
SPEND = st.one_of(st.integers(0, 3_000), st.sampled_from([0, 999, 1_000, 2_500, 6_000]))
STEPS = st.lists(st.tuples(GAPS, st.lists(SPEND, min_size=3, max_size=3)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, kind=st.sampled_from(["rolling", "calendar"]))
def test_against_reference_model(steps: list[tuple[int, list[int]]], kind: tiers.Kind) -> None:
    """Window sums, qualifications and holds recomputed from the whole history, in integers."""
    n, thresholds = 3, [1_000, 2_500, 6_000]
    w = tiers.new_window(n, kind)
    held = tiers.new_held(n, len(thresholds))
    level = np.zeros(n, dtype=np.int8)
    history: list[tuple[int, list[int]]] = []
    ref_hold = [[-1] * len(thresholds) for _ in range(n)]  # per member, levels 1..T
    day = 0
    for gap, spend in steps:
        day += gap
        history.append((day, spend))
        if kind == "rolling":
            in_window = [s for d, s in history if d * 12 // 365 > day * 12 // 365 - 12]
            hold = day + 365
        else:
            in_window = [s for d, s in history if d // 365 == day // 365]
            hold = (day // 365 + 2) * 365
        ref_sum = [sum(s[i] for s in in_window) for i in range(n)]
        ref_q = [sum(t <= ref_sum[i] for t in thresholds) if spend[i] else 0 for i in range(n)]
        for i in range(n):
            for j in range(ref_q[i]):
                ref_hold[i][j] = max(ref_hold[i][j], hold)

        tiers.advance(w, day)
        amount = np.array(spend, dtype=np.float64)
        buyers = np.flatnonzero(amount > 0)
        tiers.add(w, buyers, amount[buyers])
        np.testing.assert_array_equal(w.total, ref_sum)
        qualified = np.zeros(n, dtype=np.int8)
        qualified[buyers] = tiers.qualified_level(w.total[buyers], np.array(thresholds))
        np.testing.assert_array_equal(qualified, ref_q)
        before = level
        level, held, up, down = tiers.next_status(
            level, held, qualified, day, tiers.hold_end(day, kind)
        )
        assert np.all((level >= 0) & (level <= len(thresholds)))
        expected = [sum(h > day for h in ref_hold[i]) for i in range(n)]
        np.testing.assert_array_equal(level, expected)
        for i in range(n):
            if before[i] > 0 and ref_hold[i][before[i] - 1] > day:
                assert level[i] >= before[i]  # never downgraded before the hold ends
        np.testing.assert_array_equal(up, level > before)
        np.testing.assert_array_equal(down, level < before)
        np.testing.assert_array_equal(w.total, w.buckets.sum(axis=0))
