"""How a message's extra purchases depend on the member's own rate (sim.model.lift,
docs/model.md section 6): the lift's rate elasticity, and a click's own purchases
(conversion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import CORE_BEHAVIOUR, email_every, nordic, scenario, segment
from scipy import stats

import sim
from sim.engine import agent
from sim.model.lift import conversion_rate, rate_weight
from sim.spec.scenario import Scenario


def test_rate_weight_closed_forms() -> None:
    rate = np.array([0.01, 0.1, 1.0, 0.0], dtype=np.float32)
    ref = np.full(4, 0.1)
    # Elasticity 1: the lift multiplies the member's own rate.
    np.testing.assert_array_equal(rate_weight(rate, ref, 1.0), [1, 1, 1, 0])
    # Elasticity 0: every member gains the reference rate times the lift.
    np.testing.assert_allclose(rate * rate_weight(rate, ref, 0.0), [0.1, 0.1, 0.1, 0], rtol=1e-6)
    # In between: the geometric mean rate^e * ref^(1 - e).
    expected = rate.astype(float) ** 0.5 * 0.1**0.5
    expected[3] = 0
    np.testing.assert_allclose(rate * rate_weight(rate, ref, 0.5), expected, rtol=1e-6)
    # A rate float32 barely represents keeps a finite weight.
    assert np.isfinite(rate_weight(np.array([1e-45], np.float32), np.array([0.1]), 0.0)).all()


def _with(sc: Scenario, elasticity: float, correlation: float | None = None) -> Scenario:
    data = sc.model_dump()
    data["behaviour"]["lift"]["rate_elasticity"] = elasticity
    if correlation is not None:
        data["behaviour"]["engagement"] = {"correlation": correlation, "open_slope": 1.0}
    return Scenario.model_validate(data)


WEEKLY = {"weekly": email_every(1)}


def test_default_is_proportional_and_agent_refuses_otherwise() -> None:
    base = nordic(300, WEEKLY, horizon_days=28, replications=1)
    explicit = _with(base, 1.0)
    pd.testing.assert_frame_equal(sim.run(base, jobs=1).summary, sim.run(explicit, jobs=1).summary)
    assert "behaviour.lift.rate_elasticity" not in agent.unsupported(explicit)
    assert "behaviour.lift.rate_elasticity" in agent.unsupported(_with(base, 0.5))


def test_attribution_overstates_more_when_engaged_members_buy_more() -> None:
    """With a lift that does not grow with the member's rate (elasticity 0), engaged members
    being heavy buyers inflates last-touch attribution against the true effect: the ratio
    attributed / incremental revenue grows from correlation 0 to 0.6. (With a proportional
    lift, the rate cancels from the ratio.) Paired by replication (common random numbers);
    one-sided paired t-test at the 0.1% level."""
    reps = 4
    # The core model otherwise: pull-forward, say, would shrink the incremental revenue and
    # make the ratio noisier without bearing on the selection effect tested here.
    base = nordic(4000, WEEKLY, horizon_days=84, replications=reps, behaviour=CORE_BEHAVIOUR)
    ratio = {}
    for rho in (0.0, 0.6):
        summary = sim.run(_with(base, 0.0, rho), jobs=1).summary
        r = summary[summary.strategy == "weekly"].set_index("replication")
        ratio[rho] = r.attributed_revenue / r.incremental_revenue
    diff = ratio[0.6] - ratio[0.0]
    t = stats.t.ppf(0.999, reps - 1)
    assert diff.mean() > t * diff.std(ddof=1) / np.sqrt(reps), diff


def test_a_clicks_conversion_rate_sums_to_its_purchases() -> None:
    """The rate added on the day of a click, faded a day at a time from the next day on,
    brings 2 r q purchases in all (q at relevance 0.5)."""
    for q, r, h in ((0.1, 0.5, 3.0), (0.4, 0.8, 1.5), (0.02, 0.25, 6.0)):
        c = conversion_rate(q, r, h)
        days = np.arange(1, 2000)
        assert float((c * 2.0 ** (-days / h)).sum()) == pytest.approx(2 * r * q, rel=1e-12)


def _one_email(q: float, size: int = 60_000, horizon: int = 60) -> Scenario:
    """Members who almost never buy on their own (a purchase in some 270 years), all opted in
    to email, one relevance-0.5 email on day 0, no leaving: what the email adds is its clicks'
    conversions, and the lift on an almost-zero rate."""
    rare = segment(0.01, 1000.0, 0.5, 10.0, v=100.0, opt_in={"email": 1.0})
    behaviour = {**CORE_BEHAVIOUR, "leave_per_year": 0.0}
    behaviour["lift"] = {**CORE_BEHAVIOUR.get("lift", {}), "conversion_per_click": q}
    strategies = {"one": {"campaigns": {"news": {"channel": "email", "every_days": 365}}}}
    return scenario(strategies, name="conversion", segments={"rare": rare}, size=size,
                    horizon=horizon, seed=3, behaviour=behaviour)  # fmt: skip


def test_each_click_brings_its_conversions_whatever_the_members_rate() -> None:
    """Extra purchases over silent (the same uniforms) are a Poisson count of mean q per click
    (relevance 0.5; the 59 days after the send leave 2^(-59/3) of it out): within 4 standard
    deviations. A slip of the factor 2^(1/h) - 1, or of the relevance's 2r, is 5 or more."""
    q = 0.5
    summary = sim.run(_one_email(q), jobs=1).summary.set_index("strategy")
    clicks = summary.at["one", "clicks_email"]
    extra = summary.at["one", "purchases"] - summary.at["silent", "purchases"]
    expected = q * clicks * (1 - 2.0 ** (-59 / 3.0))
    assert clicks > 1000
    assert abs(extra - expected) < 4 * np.sqrt(expected), (extra, expected)
    # Off, the same email adds almost nothing to these members: the lift multiplies a rate
    # near zero.
    off = sim.run(_one_email(0.0), jobs=1).summary.set_index("strategy")
    assert off.at["one", "purchases"] - off.at["silent", "purchases"] < 0.05 * expected


def test_more_conversion_more_purchases_and_the_agent_refuses_it() -> None:
    """Direction: purchases grow with conversion_per_click, on the same members and draws."""
    purchases = [
        sim.run(_one_email(q, size=20_000), jobs=1)
        .summary.set_index("strategy")
        .at["one", "purchases"]
        for q in (0.0, 0.1, 0.3)
    ]
    assert purchases[0] < purchases[1] < purchases[2]
    assert "behaviour.lift.conversion_per_click" in agent.unsupported(_one_email(0.1, size=100))
    assert "behaviour.lift.conversion_per_click" not in agent.unsupported(_one_email(0.0, 100))
