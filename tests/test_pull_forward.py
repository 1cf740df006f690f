"""Pull-forward of lift-driven purchases (sim.model.pull_forward, docs/model.md section 6).

A share of the purchases a message's lift adds is taken from the member's later purchases: a
purchase debt repaid as it decays with a half-life, off the daily purchase mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import scenario, segment
from scipy import stats

import sim
from sim.engine import agent
from sim.engine.replication import build_context
from sim.model import pull_forward
from sim.spec.scenario import Scenario


def test_debt_is_repaid_in_full_as_it_decays() -> None:
    """Debt a_d taken on day d decays with half-life h; the due of a day is what the debt lost
    since yesterday. Over days 1..T the dues sum to sum_d a_d (1 - 2^(-(T - d)/h)), all of it
    as T grows."""
    h, days = 7.0, 60
    added = np.random.default_rng(3).random(days) * (np.arange(days) < 20)
    debt, paid = 0.0, []
    for d in range(days):
        if d:
            paid.append(float(pull_forward.due(np.array(debt), h)))
        debt = (debt + added[d]) * 2 ** (-1 / h)  # its value tomorrow
    expected = np.sum(added * (1 - 2.0 ** (-((days - 1) - np.arange(days)) / h)))
    assert sum(paid) == pytest.approx(expected, rel=1e-6)
    # A single debt: x (2^(1/h) - 1) 2^(-k/h) on day k, summing to x.
    k = np.arange(1, 2000)
    schedule = pull_forward.due(2.0 ** (-k / h), h)
    assert schedule.sum() == pytest.approx(1.0, rel=1e-5)


def test_lowered_mean_never_negative() -> None:
    mean = np.array([0.5, 0.1, 0.0])
    np.testing.assert_allclose(pull_forward.lowered(mean, np.array([0.2, 0.3, 0.1])), [0.3, 0, 0])


# --- in a run --------------------------------------------------------------------------------

REPS = 6
SHOPPERS = {
    "shoppers": segment(3.0, 17.5, 0.5, 250.0, v=200.0, opt_in={"email": 1, "sms": 1, "push": 1})
}
# A one-off SMS promotion with a discount on day 7, and a message-heavy email plan.
STRATEGIES = {
    "once": {
        "campaigns": {
            "promo": {
                "channel": "sms",
                "kind": "promo",
                "every_days": 1000,
                "start_day": 7,
                "relevance": 1.0,
                "offer": {"kind": "discount", "percent": 10, "days": 7},
            }
        }
    },
    "heavy": {"campaigns": {"news": {"channel": "email", "every_days": 2, "relevance": 0.5}}},
}


def _scenario(**lift: Any) -> Scenario:
    sc = scenario(STRATEGIES, name="pull", segments=SHOPPERS, size=2000, horizon=49, seed=5)
    data = sc.model_dump()
    data["replications"] = REPS
    data["behaviour"]["lift"].update({"pull_forward": 0.0, **lift})  # off unless given
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
def runs() -> dict[str, sim.Results]:
    return {
        "off": sim.run(_scenario(), jobs=1),
        "on": sim.run(_scenario(pull_forward=0.5), jobs=1),
    }


def _by_replication(results: sim.Results, strategy: str, kpi: str) -> pd.Series:
    s = results.summary
    return s[s.strategy == strategy].set_index("replication")[kpi]


def _significant(diff: pd.Series, sign: float) -> bool:
    """One-sided paired t-test over replications at the 0.1% level: sign * mean > 0."""
    t = stats.t.ppf(0.999, diff.size - 1)
    return bool(sign * diff.mean() > t * diff.std(ddof=1) / np.sqrt(diff.size))


def test_a_share_of_lift_driven_purchases_is_removed(runs: dict[str, sim.Results]) -> None:
    """The one-off promotion's extra purchases fall by the share 0.5, less the debt still owed
    at the horizon: the lift of the open on day 7 acts on days 7 + k (k >= 1) in proportion to
    2^(-k/3), and a debt taken on day 7 + k is repaid by day 48 but for 2^(-(41 - k)/7). The
    bound is the replications' spread (two-sided t at 0.1%)."""

    def extra(key: str) -> pd.Series:
        return _by_replication(runs[key], "once", "purchases") - _by_replication(
            runs[key], "silent", "purchases"
        )

    k = np.arange(1, 42)
    lifted = 2.0 ** (-k / 3)
    expected = 0.5 * np.sum(lifted * (1 - 2.0 ** (-(41 - k) / 7))) / lifted.sum()
    removed = 1 - extra("on") / extra("off")
    t = stats.t.ppf(0.9995, REPS - 1)
    assert abs(removed.mean() - expected) < t * removed.std(ddof=1) / np.sqrt(REPS), removed


def test_message_heavy_strategy_earns_less(runs: dict[str, sim.Results]) -> None:
    off = _by_replication(runs["off"], "heavy", "incremental_revenue")
    on = _by_replication(runs["on"], "heavy", "incremental_revenue")
    assert _significant(on - off, -1.0), (off, on)


def test_purchases_dip_below_silent_after_a_campaign(runs: dict[str, sim.Results]) -> None:
    """Weeks 4 and 5 (days 21-34, 14-27 days after the promotion of day 7): fewer purchases than
    silent with pull-forward, more without (the lift's tail). For one open at share 0.5 and
    half-lives 3 (lift) and 7 (debt) days, the lift minus the day's due turns negative 11 days
    after the open and is lowest 16-18 days after; these two weeks hold 70% of the dip after
    week 3 (sim.model.pull_forward's schedule, computed by hand)."""

    def after(results: sim.Results) -> pd.Series:
        ts = results.timeseries
        ts = ts[ts.week.isin([4, 5])].groupby(["strategy", "replication"]).purchases.sum()
        return ts["once"] - ts["silent"]

    assert _significant(after(runs["on"]), -1.0), after(runs["on"])
    assert _significant(after(runs["off"]), 1.0), after(runs["off"])


def test_on_by_default_at_the_documented_share() -> None:
    lift = scenario(STRATEGIES, name="pull", segments=SHOPPERS, size=10, horizon=7, seed=5)
    assert (lift.behaviour.lift.pull_forward, lift.behaviour.lift.pull_forward_half_life_days) == (
        0.3,
        7.0,
    )


def test_off_reproduces_results_and_agent_refuses_on() -> None:
    base = _scenario()
    still_off = _scenario(pull_forward_half_life_days=2.0)
    assert build_context(still_off, 0, still_off.seed).state.debt.size == 0
    one = {"replications": 1, "horizon_days": 21}
    a = sim.run(base.model_copy(update=one), jobs=1).summary
    b = sim.run(still_off.model_copy(update=one), jobs=1).summary
    pd.testing.assert_frame_equal(a, b)
    assert "behaviour.lift.pull_forward" not in agent.unsupported(still_off)
    assert "behaviour.lift.pull_forward" in agent.unsupported(_scenario(pull_forward=0.3))
