"""Purchase-rate multipliers around rewards: shape properties and their closed forms. The
comparison with Kivetz, Urminsky & Zheng's coffee card (interpurchase time 20% shorter at the
last stamp) is in the validation suite: scenarios/validation/goal_gradient.yaml."""

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


def test_goal_mean_is_the_harmonic_mean_over_progress() -> None:
    # c = 1 has the closed form s / ln(1 + s); a steady earner's long-run rate divided by it
    # is the baseline rate.
    s = rewards.GOAL_STRENGTH
    assert rewards.goal_mean(s) == pytest.approx(s / np.log1p(s), rel=1e-10)
    assert rewards.goal_mean(0.0) == 1.0
    # A convex gradient accelerates later, so its mean lies nearer 1.
    assert 1.0 < rewards.goal_mean(s, curvature=2.0) < rewards.goal_mean(s)
