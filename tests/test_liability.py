"""The IFRS 15 points ledger against the illustrative example IE267-IE270 and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.liability import PointsLedger, allocate, points_ssp


def test_ifrs15_illustrative_example() -> None:
    # Sales 100,000 earn 10,000 points; 97% are expected to be redeemed.
    ssp = points_ssp(10_000, 1.0, 0.97)
    assert ssp == pytest.approx(9_700)
    goods, pts = allocate(100_000.0, ssp)
    assert pts == pytest.approx(100_000 * 9_700 / 109_700)  # 8,842
    assert goods + pts == pytest.approx(100_000)
    # The example states the allocation rounded to the nearest thousand.
    assert round(goods, -3) == 91_000
    assert round(pts, -3) == 9_000

    ledger = PointsLedger(0.97, allocated=9_000.0, issued=10_000)
    assert ledger.expected_redemptions() == pytest.approx(9_700)
    assert ledger.recognise() == 0.0

    # Year 2: 4,500 points redeemed; the estimate stays 9,700 (the observed rate, 4,500 of
    # 4,500 resolved, would say every point will be redeemed).
    ledger.redeem(4_500)
    ledger.revise(9_700)
    year2 = ledger.recognise()
    assert year2 == pytest.approx(4_500 / 9_700 * 9_000)
    assert round(year2) == 4_175

    # Year 3: 4,000 more redeemed; expected total redemptions revised to 9,900.
    ledger.redeem(4_000)
    ledger.revise(9_900)
    year3 = ledger.recognise()
    assert year3 == pytest.approx(8_500 / 9_900 * 9_000 - 4_500 / 9_700 * 9_000)
    assert round(year3) == 3_552
    assert ledger.liability == pytest.approx(9_000 - 4_175.26 - 3_552.01, abs=0.01)


def test_allocate_arrays() -> None:
    price = np.array([100.0, 0.0, 50.0])
    ssp = np.array([10.0, 0.0, 0.0])
    goods, pts = allocate(price, ssp)
    np.testing.assert_allclose(pts, [100 * 10 / 110, 0.0, 0.0])
    np.testing.assert_allclose(goods + pts, price)


def test_prior_rate_until_resolved_then_observed() -> None:
    ledger = PointsLedger(0.7)
    ledger.earn(1_000.0, 100, 1.0)
    assert ledger.allocated == pytest.approx(1_000 * 70 / 1_070)
    assert ledger.expected_redemptions() == pytest.approx(70)
    ledger.redeem(30)
    ledger.expire(10)
    # Observed rate 30/40 among resolved points applies to the 60 outstanding.
    assert ledger.breakage_rate == pytest.approx(0.25)
    assert ledger.expected_redemptions() == pytest.approx(30 + 60 * 0.75)


def test_prior_weight_shrinks_observed_rate() -> None:
    ledger = PointsLedger(0.7, prior_weight=100.0)
    ledger.earn(1_000.0, 1_000, 1.0)
    ledger.redeem(100)
    assert ledger.redemption_rate == pytest.approx((100 + 70) / 200)
    assert ledger.expected_redemptions() == pytest.approx(100 + 900 * 0.85)


def test_everything_lapses_recognises_everything() -> None:
    ledger = PointsLedger(0.9)
    ledger.earn(500.0, 50, 1.0)
    ledger.expire(20)
    assert ledger.recognise() == pytest.approx(ledger.allocated * 20 / 50)
    ledger.expire(30)
    ledger.recognise()
    assert ledger.recognised == ledger.allocated
    assert ledger.liability == 0.0
    assert ledger.breakage_rate == 1.0


def test_cannot_resolve_more_than_outstanding() -> None:
    ledger = PointsLedger(0.9)
    ledger.earn(100.0, 10, 1.0)
    with pytest.raises(ValueError):
        ledger.redeem(11)
    with pytest.raises(ValueError):
        ledger.expire(-1)


# One step: (kind, size); sizes of redeem/expire are fractions of what is outstanding, so the
# sequence never resolves more than was issued.
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["earn", "redeem", "expire", "revise"]),
        st.floats(0.0, 1.0),
        st.integers(0, 500),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    steps=STEPS,
    prior=st.floats(0.0, 1.0),
    value=st.floats(0.001, 1.0),
    weight=st.sampled_from([0.0, 50.0]),
)
def test_ledger_invariants(
    steps: list[tuple[str, float, int]], prior: float, value: float, weight: float
) -> None:
    ledger = PointsLedger(prior, prior_weight=weight)
    recognised = 0.0
    for kind, frac, size in steps:
        if kind == "earn":
            ledger.earn(np.full(3, 10.0 * size + 1.0), np.full(3, size), value)
        elif kind == "redeem":
            ledger.redeem(int(frac * ledger.outstanding))
        elif kind == "expire":
            ledger.expire(int(frac * ledger.outstanding))
        else:
            ledger.revise(frac * ledger.issued)
        recognised += ledger.recognise()
        assert ledger.issued == ledger.redeemed + ledger.expired + ledger.outstanding
        assert ledger.outstanding >= 0
        assert ledger.liability >= 0.0
        assert -1e-9 <= ledger.recognised <= ledger.allocated + 1e-9
        assert recognised == pytest.approx(ledger.recognised, abs=1e-6)
    # Resolve the rest: the whole deferred amount is recognised.
    ledger.redeem(ledger.outstanding // 2)
    ledger.expire(ledger.outstanding)
    recognised += ledger.recognise()
    assert ledger.recognised == ledger.allocated
    assert ledger.liability == 0.0
    assert recognised == pytest.approx(ledger.allocated, abs=1e-6)
