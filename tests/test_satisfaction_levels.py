"""Effects of the level of satisfaction (behaviour.satisfaction.levels): hazard multipliers
by Customer Barometer band on leaving the program and on channel exits, normalised so that at
baseline the mean hazard is unchanged."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from sim.engine.agent import unsupported
from sim.engine.replication import build_context
from sim.model import satisfaction as sat
from sim.spec.fields import CHANNELS
from tests.builders import CORE_BEHAVIOUR, run_one, scenario, segment, weekly_campaign

EMAIL = CHANNELS.index("email")
HORIZON = 120
# Under 60 leaves and exits three times as fast as the middle bands, over 80 half as fast.
STEEP = {"very_dissatisfied": 3.0, "delighted": 0.5}
# Every band 1: no level effects.
OFF = CORE_BEHAVIOUR["satisfaction"]["levels"]


def _scenario(levels: dict[str, Any] | None = None, size: int = 3000) -> Any:
    """Members with widely spread baseline satisfaction, Normal(70, 12), all opted in to
    email; leaving and email exits frequent enough to count; silent and a weekly email.
    ``levels`` is merged over the defaults; None switches level effects off."""
    behaviour: dict[str, Any] = {"leave_per_year": 0.6}
    behaviour["satisfaction"] = {"levels": copy.deepcopy(OFF if levels is None else levels)}
    members = segment(
        0.5,
        10.0,
        0.5,
        20.0,
        v=150.0,
        opt_in={"email": 1.0},
        satisfaction={"mean": 70.0, "sd": 12.0},
    )
    return scenario(
        {"weekly": {"campaigns": {"news": weekly_campaign("email", "mon")}}},
        name="levels", segments={"members": members}, size=size, horizon=HORIZON, seed=9,
        channels={"email": {"exit": 0.01, "reputation": None}}, behaviour=behaviour,
    )  # fmt: skip


# --- the pure functions ---------------------------------------------------------------------------


def test_bands_hold_their_lower_edge() -> None:
    levels = np.array([0.0, 59.99, 60.0, 69.9, 70.0, 74.9, 75.0, 79.9, 80.0, 100.0])
    np.testing.assert_array_equal(sat.band(levels), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])


def test_band_shares_are_the_normal_probabilities_of_the_bands() -> None:
    phi = [0.5 * (1 + math.erf(z / math.sqrt(2))) for z in (-1.0, 0.0, 0.5, 1.0)]
    shares = sat.band_shares(70.0, 10.0)
    np.testing.assert_allclose(shares, np.diff([0.0, *phi, 1.0]))
    assert shares[0] == pytest.approx(0.158655, abs=1e-6)
    np.testing.assert_array_equal(sat.band_shares(72.0, 0.0), [0, 0, 1, 0, 0])


def test_level_multipliers_keep_the_mean_hazard_at_baseline() -> None:
    baselines = [(0.3, 65.0, 5.0), (0.7, 78.0, 9.0)]
    table = sat.level_multipliers([3.0, 1.5, 1.0, 0.8, 0.5], baselines)
    mean = sum(share * sat.band_shares(m, sd) @ table for share, m, sd in baselines)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert table[0] / table[4] == pytest.approx(6.0)  # the ratios are the given ones
    np.testing.assert_allclose(sat.level_multipliers([2.0] * 5, baselines), np.ones(5))
    np.testing.assert_array_equal(
        sat.level_multiplier(np.array([50.0, 72.0, 90.0]), np.arange(5.0)), [0.0, 2.0, 4.0]
    )


# --- the engine ----------------------------------------------------------------------------------


def test_on_by_default_off_when_equal_and_refused_by_the_reference_engine() -> None:
    levels = _scenario({}).behaviour.satisfaction.levels
    assert levels.leave.table == (2.0, 1.3, 1.0, 0.8, 0.6)
    assert levels.exit.table == (1.5, 1.2, 1.0, 0.9, 0.8)
    # A partial block keeps the other bands' defaults.
    assert _scenario({"leave": {"delighted": 0.5}}).behaviour.satisfaction.levels.leave.table == (
        2.0,
        1.3,
        1.0,
        0.8,
        0.5,
    )
    off = _scenario().behaviour.satisfaction.levels
    assert not off.leave.on and not off.exit.on
    refused = unsupported(_scenario({"leave": STEEP, "exit": STEEP}))
    assert "behaviour.satisfaction.levels.leave" in refused
    assert "behaviour.satisfaction.levels.exit" in refused


def test_equal_multipliers_are_off() -> None:
    """Normalised, a multiplier equal in every band is 1: the engine skips the effect."""
    same = {band: 2.5 for band in sat.BANDS}
    ctx = build_context(_scenario({"leave": same, "exit": same}, size=10), 0, 0)
    assert ctx.level_leave is None and ctx.level_exit is None
    ctx = build_context(_scenario({"leave": STEEP, "exit": OFF["exit"]}, size=10), 0, 0)
    assert ctx.level_leave is not None and ctx.level_exit is None


def _gap(event: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float, float]:
    """Share of members with ``event`` among ``low`` and among ``high`` members, and the
    standard error of the difference of two independent shares."""
    p_low, p_high = event[low].mean(), event[high].mean()
    se = math.sqrt(p_low * (1 - p_low) / low.sum() + p_high * (1 - p_high) / high.sum())
    return float(p_low), float(p_high), se


def test_members_below_60_leave_and_exit_faster_than_members_over_80() -> None:
    """Direction. Members are told apart by their baseline index (below 60 or from 80: about
    20% of members each); satisfaction moves little in 120 days, so bands rarely change. With
    level effects the very dissatisfied leave the program (under silent) and unsubscribe
    (under the weekly email) at a share more than 4 standard errors above the delighted; the
    expected gap is several times that (multipliers 3 against 0.5)."""
    ctx = run_one(_scenario({"leave": STEEP, "exit": STEEP}))
    st, n = ctx.state, ctx.state.members.size
    s0 = st.members.satisfaction0[:n]
    low, high = s0 < 60, s0 >= 80
    p_low, p_high, se = _gap(st.left[0, :n], low, high)
    assert p_low - p_high > 4 * se, (p_low, p_high, se)
    stay = ~st.left[1, :n]  # exits of members still in the program
    p_low, p_high, se = _gap(st.exited[1, EMAIL, :n], low & stay, high & stay)
    assert p_low - p_high > 4 * se, (p_low, p_high, se)


def test_without_level_effects_the_bands_leave_alike() -> None:
    """The same run without levels: at baseline only the change of satisfaction acts, so the
    two groups leave at shares within 4 standard errors of each other."""
    ctx = run_one(_scenario())
    st, n = ctx.state, ctx.state.members.size
    s0 = st.members.satisfaction0[:n]
    p_low, p_high, se = _gap(st.left[0, :n], s0 < 60, s0 >= 80)
    assert abs(p_low - p_high) < 4 * se, (p_low, p_high, se)
