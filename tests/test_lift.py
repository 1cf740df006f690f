"""How a message's extra purchases depend on the member's own rate (sim.model.lift,
docs/model.md section 6): the lift's rate elasticity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from builders import CORE_BEHAVIOUR, email_every, nordic
from scipy import stats

import sim
from sim.engine import agent
from sim.model.lift import rate_weight
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
