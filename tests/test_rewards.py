"""Purchase-rate multipliers around rewards: shape properties and the goal gradient in a
simulated coffee card."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import rewards


def test_default_strength_from_kivetz() -> None:
    # 20% shorter inter-purchase time over the run-up: rate ratio 1/0.8 = 1.25.
    default = rewards.GOAL_STRENGTH
    assert default == pytest.approx(0.25)
    assert rewards.strength_for_shortening(0.2) == pytest.approx(1 / 0.8 - 1)
    s = rewards.strength_for_shortening(0.2, 0.1, 0.9)
    assert rewards.expected_shortening(s, 0.1, 0.9) == pytest.approx(0.2)


def test_goal_gradient_shape() -> None:
    balance = np.arange(0, 25)
    g = rewards.goal_gradient(balance, 10)
    assert g[0] == g[10] == g[20] == 1.0
    assert np.all(np.diff(g[:10]) > 0)
    assert g[9] == pytest.approx(1 + 0.25 * 0.9)
    convex = rewards.goal_gradient(balance[:10], 10, 0.25, curvature=2.0)
    assert np.all(np.diff(convex) > 0)
    assert np.all(convex <= g[:10])


def test_reset_deepest_after_redemption_then_fades() -> None:
    days = np.array([0.0, 1.0, 7.0, 14.0, 60.0, np.inf])
    r = rewards.post_reward_reset(days)
    assert r[0] == pytest.approx(1 - rewards.RESET_DEPTH)
    assert r[2] == pytest.approx(1 - rewards.RESET_DEPTH / 2)
    assert np.all(np.diff(r) > 0)
    assert r[-1] == 1.0
    lift = rewards.rewarded_behaviour(days)
    assert lift[0] == 1.0
    assert np.all(np.diff(lift[:-1]) > 0)
    assert lift[-2] == pytest.approx(1.03, abs=1e-4)
    assert lift[-1] == 1.0  # never redeemed: no lift


@settings(max_examples=300, deadline=None)
@given(
    balance=st.integers(0, 10_000),
    threshold=st.integers(1, 500),
    days=st.one_of(st.floats(0.0, 1e4), st.just(float("inf"))),
    strength=st.floats(0.0, 2.0),
    curvature=st.floats(0.2, 5.0),
    depth=st.floats(0.0, 1.0),
    lift=st.floats(0.0, 0.5),
    half_life=st.floats(0.5, 60.0),
)
def test_multiplier_within_upper_bound(
    balance: int,
    threshold: int,
    days: float,
    strength: float,
    curvature: float,
    depth: float,
    lift: float,
    half_life: float,
) -> None:
    m = rewards.multiplier(
        np.array([balance]),
        threshold,
        np.array([days]),
        strength,
        curvature,
        depth,
        lift,
        half_life,
    )
    assert 0.0 <= m[0] <= rewards.upper_bound(strength, lift)
    g = rewards.goal_gradient(np.array([balance]), threshold, strength, curvature)
    assert 1.0 <= g[0] <= 1.0 + strength


def _coffee_cards(
    rng: np.random.Generator, members: int, days: int, rate: float, stamps: int, strength: float
) -> tuple[np.ndarray, np.ndarray]:
    """Day-by-day Poisson purchases at rate * goal_gradient(start-of-day stamps), one stamp a
    purchase, reward at ``stamps`` (the card restarts). Members are independent copies of one
    member, whose reward cycles are independent of each other. A day's purchases are placed
    uniformly in the day (a Poisson process given its count). Returns, per card whose first
    stamp came before ``days``, the time from stamp 1 to 2 and from stamp stamps-1 to stamps
    (days). Such cards are followed to completion: keeping only cards completed by a fixed day
    would favour fast ones."""
    balance = np.zeros(members, dtype=np.int64)
    last = np.zeros(members)
    first = np.full(members, np.nan)
    counted = np.zeros(members, dtype=bool)  # the current card started before ``days``
    firsts, lasts = [], []
    day = 0
    while day < days or counted.any():
        count = rng.poisson(rate * rewards.goal_gradient(balance, stamps, strength))
        buyers = np.flatnonzero(count)
        count = count[buyers]
        when = rng.random((buyers.size, count.max(initial=0)))
        when[np.arange(when.shape[1]) >= count[:, None]] = np.inf
        when.sort(axis=1)
        for j in range(when.shape[1]):
            now = count > j
            who, t = buyers[now], day + when[now, j]
            balance[who] += 1
            stamp = balance[who] % stamps
            gap = t - last[who]
            counted[who[stamp == 1]] = t[stamp == 1] < days
            first[who[stamp == 2]] = gap[stamp == 2]
            done = who[stamp == 0]
            keep = counted[done]
            firsts.append(first[done][keep])
            lasts.append(gap[stamp == 0][keep])
            counted[done] = False
            last[who] = t
        day += 1
    return np.concatenate(firsts), np.concatenate(lasts)


def test_goal_gradient_shortens_coffee_card_purchases() -> None:
    stamps, strength, rate = 10, rewards.GOAL_STRENGTH, 0.1
    first, last = _coffee_cards(np.random.default_rng(2006), 12_000, 900, rate, stamps, strength)
    n = first.size
    assert n > 100_000
    # Holding 1 stamp the rate is rate * (1 + 0.1 s), holding 9 it is rate * (1 + 0.9 s): the
    # mean times are their inverses and the shortening 1 - (1 + 0.1 s) / (1 + 0.9 s) = 16.3%,
    # not the 20% of the whole run-up (progress 0 to 1), which a 10-stamp card never reaches.
    expected = rewards.expected_shortening(strength, 1 / stamps, (stamps - 1) / stamps)
    assert expected == pytest.approx(1 - 1.025 / 1.225)
    np.testing.assert_allclose(first.mean(), 1 / (rate * (1 + 0.1 * strength)), rtol=0.02)
    np.testing.assert_allclose(last.mean(), 1 / (rate * (1 + 0.9 * strength)), rtol=0.02)
    # Standard error of 1 - mean(last) / mean(first) by the delta method, over paired cards.
    ratio = last.mean() / first.mean()
    cov = np.cov(last, first)
    rel_var = (
        cov[0, 0] / last.mean() ** 2
        + cov[1, 1] / first.mean() ** 2
        - 2 * cov[0, 1] / (last.mean() * first.mean())
    )
    se = ratio * np.sqrt(rel_var / n)
    # The day's rate is set by the stamps held at its start, so the rest of the day after a
    # stamp runs at an earlier rate. Both means are lengthened by about the same fraction,
    # which cancels in the ratio; what remains comes mostly from days holding both a reward
    # and the next card's first stamp, and grows as rate**2: about -0.006 at 0.5 a day
    # (measured over 460,000 cards), so about -0.0002 at this rate, well inside 4 se.
    measured = 1 - ratio
    assert abs(measured - expected) < 4 * se
    # The test can tell the card's 16.3% from the run-up's 20%.
    assert 4 * se < 0.2 - expected


def test_goal_mean_is_the_harmonic_mean_over_progress() -> None:
    # c = 1 has the closed form s / ln(1 + s); a steady earner's long-run rate divided by it
    # is the baseline rate.
    s = rewards.GOAL_STRENGTH
    assert rewards.goal_mean(s) == pytest.approx(s / np.log1p(s), rel=1e-10)
    assert rewards.goal_mean(0.0) == 1.0
    # A convex gradient accelerates later, so its mean lies nearer 1.
    assert 1.0 < rewards.goal_mean(s, curvature=2.0) < rewards.goal_mean(s)
