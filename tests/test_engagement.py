"""Engagement correlated with purchasing (sim.model.engagement, docs/model.md section 4).

A Gaussian copula: the normal score of a member's purchase rate in its segment's Gamma law,
correlated rho with an engagement factor that shifts the open logit, centred so the mean open
rate at the reference point stays the channel's base rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import email_every, nordic
from scipy import integrate, special, stats

import sim
from sim.engine import agent
from sim.engine.replication import build_context
from sim.model import engagement
from sim.spec.scenario import Scenario

# E[f(Z)], Z standard normal, by the trapezoid rule on a fine grid (independent of the
# module's Gauss-Hermite rule): for these smooth integrands it is exact to about 1e-12.
_GRID = np.linspace(-12.0, 12.0, 24_001)


def _normal_mean(f: Any) -> float:
    return float(integrate.trapezoid(f(_GRID) * stats.norm.pdf(_GRID), _GRID))


def test_normal_score_inverts_the_gamma_quantiles() -> None:
    z = np.linspace(-8.0, 8.0, 161)
    shape, rate = 0.243, 4.414 * 7
    x = stats.gamma.ppf(stats.norm.cdf(z), shape, scale=1 / rate)
    upper = z > 0  # in the upper tail the quantile comes from the survival function
    x[upper] = stats.gamma.isf(stats.norm.sf(z[upper]), shape, scale=1 / rate)
    np.testing.assert_allclose(engagement.normal_score(x, shape, rate), z, atol=1e-6)
    # A rate that underflowed to 0 gets a finite score.
    assert np.isfinite(engagement.normal_score(np.array([0.0, np.inf]), shape, rate)).all()


@pytest.mark.parametrize("rho", [-0.5, 0.0, 0.3, 0.8])
def test_copula_gives_the_stated_correlation(rho: float) -> None:
    n = 40_000
    rng = np.random.default_rng(5)
    rate = rng.gamma(2.0, 1 / 10.0, n)
    score = engagement.normal_score(rate, 2.0, 10.0)
    z = engagement.factor(score, rng.standard_normal(n), rho)
    # The score of a Gamma draw is standard normal, and so is the factor.
    for x in (score, z):
        assert abs(x.mean()) < 4 / np.sqrt(n)
        assert abs(x.std() - 1) < 4 * np.sqrt(0.5 / n)
    # Pearson correlation of the normal scores is rho; its sampling sd is (1 - rho^2) / sqrt(n).
    assert abs(np.corrcoef(score, z)[0, 1] - rho) < 4 * (1 - rho**2) / np.sqrt(n)
    # Ranks: Spearman's correlation of a bivariate normal is (6 / pi) arcsin(rho / 2), and the
    # rate's ranks are the score's. Its sampling sd is at most 1 / sqrt(n - 1).
    spearman = stats.spearmanr(rate, z).statistic
    assert abs(spearman - 6 / np.pi * np.arcsin(rho / 2)) < 4 / np.sqrt(n - 1)


@pytest.mark.parametrize("base", [0.06, 0.22, 0.5, 0.9])
@pytest.mark.parametrize("slope", [0.5, 1.0, 2.0])
def test_open_offset_keeps_the_mean_open_rate(base: float, slope: float) -> None:
    offset = engagement.open_offset(base, slope)
    a = special.logit(base) + offset
    assert _normal_mean(lambda z: special.expit(a + slope * z)) == pytest.approx(base, abs=1e-9)
    # Without the offset the mean moves towards 1/2; at 1/2 no offset is needed.
    plain = _normal_mean(lambda z: special.expit(special.logit(base) + slope * z))
    assert (plain - base) * (0.5 - base) >= 0
    if base == 0.5:
        assert offset == pytest.approx(0.0, abs=1e-9)
    assert engagement.open_offset(base, 0.0) == 0.0


@pytest.mark.parametrize(("open_slope", "click_slope"), [(0.0, 1.0), (1.0, 0.0), (1.0, 1.5)])
def test_click_offset_keeps_clicks_per_delivered(open_slope: float, click_slope: float) -> None:
    o, k = 0.22, 0.026
    a_open = special.logit(o) + engagement.open_offset(o, open_slope)
    a_click = special.logit(k / o) + engagement.click_offset(o, k, open_slope, click_slope)

    def clicks(z: np.ndarray) -> np.ndarray:
        return special.expit(a_open + open_slope * z) * special.expit(a_click + click_slope * z)

    assert _normal_mean(clicks) == pytest.approx(k, abs=1e-9)


# --- in a run --------------------------------------------------------------------------------

WEEKLY = {"weekly": email_every(1)}


def _with_engagement(sc: Scenario, **fields: float) -> Scenario:
    """``sc`` with engagement given by ``fields``, every field not given 0 (off)."""
    data = sc.model_dump()
    data["behaviour"]["engagement"] = {"correlation": 0.0, "open_slope": 0.0, "click_slope": 0.0}
    data["behaviour"]["engagement"].update(fields)
    return Scenario.model_validate(data)


def test_on_by_default_at_the_documented_values() -> None:
    spec = nordic(10, WEEKLY).behaviour.engagement
    assert spec.on and (spec.correlation, spec.open_slope, spec.click_slope) == (0.3, 1.0, 0.0)


def test_members_draw_engagement_on_a_stream_of_its_own() -> None:
    base = _with_engagement(nordic(3000, WEEKLY, horizon_days=14))  # with members joining
    on = _with_engagement(base, correlation=0.5, open_slope=1.0)
    m_off = build_context(base, 0, base.seed).state.members
    m_on = build_context(on, 0, on.seed).state.members
    assert m_off.engagement.size == 0
    assert m_on.engagement.shape == m_on.rate.shape
    for name in ("rate", "dropout", "spend_mean", "opt_in", "tolerance", "sensitivity"):
        np.testing.assert_array_equal(getattr(m_on, name), getattr(m_off, name))
    np.testing.assert_array_equal(m_on.progress, m_off.progress)
    # Within each segment the factor correlates rho with the rate's normal score.
    segments = list(on.population.segments.values())
    for k, seg in enumerate(segments):
        idx = np.flatnonzero(m_on.segment == k)
        score = engagement.normal_score(m_on.rate[idx], seg.purchase.r, seg.purchase.alpha_days)
        r = np.corrcoef(score, m_on.engagement[idx])[0, 1]
        assert abs(r - 0.5) < 4 * 0.75 / np.sqrt(idx.size)


def test_off_reproduces_results_and_agent_refuses_on() -> None:
    base = _with_engagement(nordic(400, WEEKLY, horizon_days=28, replications=1))
    # A correlation without a slope does nothing: no draws, identical results.
    still_off = _with_engagement(base, correlation=0.7)
    a = sim.run(base, jobs=1).summary
    b = sim.run(still_off, jobs=1).summary
    pd.testing.assert_frame_equal(a, b)
    assert "behaviour.engagement" not in agent.unsupported(still_off)
    on = _with_engagement(base, correlation=0.7, open_slope=1.0)
    assert "behaviour.engagement" in agent.unsupported(on)


def test_correlation_inflates_last_touch_attribution() -> None:
    """Engaged members are heavy buyers: with rho = 0.6 the openers buy more anyway, so
    attributed revenue, and what it overstates (attributed - incremental), grow against
    rho = 0, as shares of revenue. Common random numbers pair the replications; the bound is a
    one-sided paired t-test at the 0.1% level."""
    reps = 4
    base = nordic(4000, WEEKLY, horizon_days=84, replications=reps)
    rows = {}
    for rho in (0.0, 0.6):
        summary = sim.run(_with_engagement(base, correlation=rho, open_slope=1.0), jobs=1).summary
        rows[rho] = summary[summary.strategy == "weekly"].set_index("replication")
    t = stats.t.ppf(0.999, reps - 1)
    for measure in ("attributed", "overstated"):
        share = {}
        for rho, r in rows.items():
            over = r.attributed_revenue - (r.incremental_revenue if measure == "overstated" else 0)
            share[rho] = over / r.revenue
        diff = share[0.6] - share[0.0]
        assert diff.mean() > t * diff.std(ddof=1) / np.sqrt(reps), (measure, diff)
