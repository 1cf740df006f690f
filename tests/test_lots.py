"""Lot-based points expiry: FIFO redemption, expiry dates, conservation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import lots as lt

ONE = np.array([0])


def test_redeem_takes_oldest_lots_first() -> None:
    s = lt.new_lots(2, "months_after", months=3)
    lt.earn(s, np.array([0, 1]), np.array([10, 5]), 0)
    lt.expire_due(s, 31)  # month 1
    lt.earn(s, np.array([0, 1]), np.array([20, 5]), 31)
    lt.redeem(s, np.array([0, 1]), np.array([15, 7]))
    np.testing.assert_array_equal(s.points[0], [0, 0])
    np.testing.assert_array_equal(s.points[1], [15, 3])
    np.testing.assert_array_equal(lt.balance(s), [15, 3])
    with pytest.raises(ValueError):
        lt.redeem(s, ONE, np.array([16]))


def test_expiry_exactly_n_months_after_end_of_month() -> None:
    s = lt.new_lots(1, "months_after", months=12)
    lt.earn(s, ONE, np.array([100]), 30)  # month 0: days 0 - 30.42
    lt.expire_due(s, 31)
    lt.earn(s, ONE, np.array([7]), 31)  # month 1
    # Month 0 ends on day 365/12; 12 months later is day 13 * 365 / 12 = 395.42.
    day, pts = lt.next_expiry(s)
    assert day[0] == pytest.approx(13 * 365 / 12)
    assert pts[0] == 100
    for d in range(32, 396):
        idx, pts = lt.expire_due(s, d)
        assert idx.size == 0, d
    idx, pts = lt.expire_due(s, 396)
    np.testing.assert_array_equal(idx, [0])
    np.testing.assert_array_equal(pts, [100])
    assert lt.balance(s)[0] == 7
    assert lt.next_expiry(s)[0][0] == pytest.approx(14 * 365 / 12)


def test_end_of_next_year() -> None:
    s = lt.new_lots(2, "end_of_next_year")
    assert s.points.shape == (2, 2)
    lt.earn(s, ONE, np.array([10]), 0)
    lt.earn(s, ONE, np.array([20]), 364)
    with pytest.raises(ValueError):
        lt.earn(s, ONE, np.array([1]), 365)  # year 1 has not been entered yet
    assert lt.expire_due(s, 365)[0].size == 0
    lt.earn(s, np.array([0, 1]), np.array([5, 3]), 365)
    assert lt.expire_due(s, 729)[0].size == 0
    idx, pts = lt.expire_due(s, 730)  # end of year 1: all of year 0 goes
    np.testing.assert_array_equal(idx, [0])
    np.testing.assert_array_equal(pts, [30])
    np.testing.assert_array_equal(lt.balance(s), [5, 3])
    np.testing.assert_array_equal(s.started, [730.0, 365.0])
    idx, pts = lt.expire_due(s, 1_095)
    np.testing.assert_array_equal(idx, [0, 1])
    np.testing.assert_array_equal(pts, [5, 3])


def test_next_expiry_oldest_non_empty_lot() -> None:
    s = lt.new_lots(3, "months_after", months=2)
    lt.earn(s, np.array([0]), np.array([4]), 0)
    lt.expire_due(s, 40)
    lt.earn(s, np.array([0, 1]), np.array([6, 9]), 40)
    lt.redeem(s, np.array([0]), np.array([4]))  # empties member 0's month-0 lot
    day, pts = lt.next_expiry(s)
    np.testing.assert_allclose(day, [4 * 365 / 12, 4 * 365 / 12, np.inf])
    np.testing.assert_array_equal(pts, [6, 9, 0])


def test_forfeit_and_long_gap() -> None:
    s = lt.new_lots(2, "months_after", months=1)
    lt.earn(s, np.array([0, 1]), np.array([3, 4]), 0)
    np.testing.assert_array_equal(lt.forfeit(s, np.array([1])), [4])
    idx, pts = lt.expire_due(s, 3_650)  # many boundaries at once
    np.testing.assert_array_equal(idx, [0])
    np.testing.assert_array_equal(pts, [3])
    assert s.current == 120


OPS = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 80), st.integers(300, 800)),  # days since the previous step
        st.lists(st.integers(0, 50), min_size=3, max_size=3),  # earned by 3 members
        st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),  # share of balance redeemed
    ),
    max_size=50,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, policy=st.sampled_from(["months_after", "end_of_next_year"]), n=st.integers(0, 4))
def test_against_reference_model(
    ops: list[tuple[int, list[int], list[float]]], policy: lt.Policy, n: int
) -> None:
    """Conservation, and every lot kept as {lot number: points} per member, in integers."""
    s = lt.new_lots(3, policy, months=n)
    per_year, lifetime = (12, n) if policy == "months_after" else (1, 1)
    ref: list[dict[int, int]] = [{} for _ in range(3)]
    everyone = np.arange(3)
    earned = np.zeros(3, dtype=np.int64)
    redeemed = np.zeros(3, dtype=np.int64)
    expired = np.zeros(3, dtype=np.int64)
    day = 0
    for gap, earn, share in ops:
        day += gap
        # Lot k expires on the first day >= (k + 1 + lifetime) * 365 / per_year.
        ref_expired = np.zeros(3, dtype=np.int64)
        for i, member in enumerate(ref):
            for k in [k for k in member if (k + 1 + lifetime) * 365 <= day * per_year]:
                ref_expired[i] += member.pop(k)
        idx, pts = lt.expire_due(s, day)
        got = np.zeros(3, dtype=np.int64)
        got[idx] = pts
        np.testing.assert_array_equal(got, ref_expired)
        assert np.all(pts > 0)
        expired += got

        lt.earn(s, everyone, np.array(earn), day)
        earned += earn
        for i, member in enumerate(ref):
            k = day * per_year // 365
            member[k] = member.get(k, 0) + earn[i]
        take = (np.array(share) * lt.balance(s)).astype(np.int64)
        lt.redeem(s, everyone, take)
        redeemed += take
        for i, member in enumerate(ref):
            left = int(take[i])
            for k in sorted(member):  # oldest first
                used = min(left, member[k])
                member[k] -= used
                left -= used

        assert np.all(s.points >= 0)
        np.testing.assert_array_equal(lt.balance(s), earned - redeemed - expired)
        np.testing.assert_array_equal(lt.balance(s), [sum(m.values()) for m in ref])
        when, pts = lt.next_expiry(s)
        for i, member in enumerate(ref):
            alive = sorted(k for k, v in member.items() if v > 0)
            if alive:
                assert when[i] == pytest.approx((alive[0] + 1 + lifetime) * 365 / per_year)
                assert pts[i] == member[alive[0]]
            else:
                assert when[i] == np.inf and pts[i] == 0
        assert np.all(when > day)  # no point is held past its lot's expiry
