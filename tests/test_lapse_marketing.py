"""Lapse under marketing (behaviour.lapse): win-back of lapsed members and contact lapse.

Pure functions against their closed forms; the state's bookkeeping of rates (the daily step's
candidate buyers); exactness (parameters 0 give today's results; silent, which sends nothing,
is unchanged when the mechanism is on; a strategy's results do not depend on which others
run); and directions, paired by replication as in test_directions.py.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import (
    CORE_BEHAVIOUR,
    daily_campaign,
    frequent_and_rare,
    scenario,
    weekly_campaign,
    wrap,
)
from scipy import stats

from sim.engine import daily, replication
from sim.engine.agent import unsupported
from sim.engine.replication import build_context, run_replication, simulate
from sim.engine.runner import run_replications
from sim.model import lapse
from sim.spec.scenario import Lapse, Scenario

SEED, REPLICATIONS = 5, 4
WINBACK = {"winback_per_open": 0.3, "winback_per_click": 0.3}
STRATEGIES: dict[str, Any] = {
    "weekly": {"campaigns": {"news": weekly_campaign("email", "tue", relevance=0.7)}},
    "daily": {"campaigns": {"news": daily_campaign("email", 10, relevance=0.3)}},
}


def lapse_scenario(params: dict[str, float] | None, size: int = 400, horizon: int = 60) -> Scenario:
    """Two lapsing segments (dropout after about 8 and 6 purchases), weekly and daily email,
    with ``behaviour.lapse`` set to ``params`` over all-zero parameters (None: off)."""
    behaviour: dict[str, Any] = {"lapse": {**CORE_BEHAVIOUR["lapse"], **(params or {})}}
    return scenario(
        copy.deepcopy(STRATEGIES),
        name="lapse",
        segments=frequent_and_rare(lapsing=True),
        size=size,
        horizon=horizon,
        seed=SEED,
        behaviour=behaviour,
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, pd.DataFrame]:
    """Summaries without the mechanism, with win-back only and with the contact hazard only."""
    cases = {"off": None, "winback": WINBACK, "hazard": {"contact_hazard": 0.01}}
    return {
        name: run_replications(lapse_scenario(params), REPLICATIONS, SEED, 1)[0]
        for name, params in cases.items()
    }


def values(frame: pd.DataFrame, strategy: str, kpi: str) -> np.ndarray:
    rows = frame[frame["strategy"] == strategy].sort_values("replication")
    return rows[kpi].to_numpy(dtype=float)


def assert_greater(a: np.ndarray, b: np.ndarray, label: str) -> None:
    """a > b: the one-sided 95% Student-t interval of the paired differences is above 0."""
    diffs = a - b
    half = stats.t.ppf(0.95, diffs.size - 1) * diffs.std(ddof=1) / math.sqrt(diffs.size)
    assert diffs.mean() - half > 0, f"{label}: paired differences {diffs}"


# --- pure functions ---------------------------------------------------------------------------


def test_winback_probability_grows_with_relevance_and_clicks() -> None:
    clicked = np.array([False, True])
    assert lapse.winback_probability(0.5, clicked, 0.1, 0.2) == pytest.approx([0.1, 0.3])
    assert lapse.winback_probability(0.25, clicked, 0.1, 0.2) == pytest.approx([0.05, 0.15])
    assert lapse.winback_probability(1.0, clicked, 0.4, 0.4) == pytest.approx([0.8, 1.0])
    r = np.array([0.0, 0.9])
    assert lapse.winback_probability(r, clicked, 0.1, 0.0) == pytest.approx([0.0, 0.18])


def test_contact_lapse_probability_is_the_hazard_times_the_multiplier() -> None:
    h = np.array([0.5, 1.0, 3.0, 1e6])
    assert lapse.contact_lapse_probability(h, 0.01) == pytest.approx([0.005, 0.01, 0.03, 1.0])
    assert not lapse.contact_lapse_probability(h, 0.0).any()


def test_switch_and_reference_engine() -> None:
    assert Lapse().enabled  # on by default, at the values of docs/model.md section 10
    assert (Lapse().winback_per_open, Lapse().winback_per_click) == (0.02, 0.05)
    assert Lapse().contact_hazard == 0.0005
    assert not Lapse.model_validate(CORE_BEHAVIOUR["lapse"]).enabled
    for field in ("winback_per_open", "winback_per_click", "contact_hazard"):
        assert Lapse.model_validate({field: 0.01}).enabled
    assert "behaviour.lapse" in unsupported(lapse_scenario({"contact_hazard": 0.01}))
    assert "behaviour.lapse" not in unsupported(lapse_scenario(None))


# --- state bookkeeping --------------------------------------------------------------------------


def test_rates_follow_the_lapse_of_every_strategy() -> None:
    """A member buys (is a candidate) while active at baseline or under some strategy: its
    rate and bound are zeroed only when it is lapsed everywhere, and restored exactly."""
    ctx = build_context(lapse_scenario(WINBACK | {"contact_hazard": 0.01}), 0, SEED)
    st = ctx.state
    rate, bound = st.rate.copy(), st.rate_bound.copy()
    assert st.lapsed_under is not None and st.lapsed_under.shape == (3, st.members.size)
    idx = np.array([3, 7])
    st.contact_lapse(1, idx)  # active at baseline: still a candidate
    assert st.lapsed_of(1)[idx].all() and not st.lapsed_of(0)[idx].any()
    assert (st.rate[idx] == rate[idx]).all()
    st.lapse(idx)  # BG/NBD dropout: lapsed everywhere
    assert st.lapsed_under[:, idx].all() and (st.rate[idx] == 0).all()
    assert (st.rate_bound[idx] == 0).all()
    st.revive(2, idx)
    assert not st.lapsed_of(2)[idx].any() and st.lapsed_of(1)[idx].all()
    assert (st.rate == rate).all() and (st.rate_bound == bound).all()
    st.contact_lapse(2, idx)  # lapsed at baseline and under every strategy again
    assert (st.rate[idx] == 0).all() and (st.rate_bound[idx] == 0).all()


def test_lapsed_members_never_buy_and_active_ones_stay_candidates(monkeypatch) -> None:
    """Through a run with win-back and contact lapse: a member lapsed under a strategy buys
    nothing under it, and every day a member active at baseline or under some strategy keeps
    its rate (so its purchases are drawn), one lapsed everywhere has none."""
    sc = lapse_scenario(WINBACK | {"contact_hazard": 0.02}, size=300, horizon=28)
    bought = np.zeros(3, dtype=np.int64)

    def not_lapsed(ctx, s, d, idx, counts):
        assert not ctx.state.lapsed_of(s)[idx].any(), "a lapsed member bought"
        bought[s] += counts.sum()

    def rates(ctx, d):
        st = ctx.state
        active = ~st.lapsed | ~st.lapsed_under.all(axis=0)
        assert (st.rate == np.where(active, st.members.rate, 0)).all()
        assert (st.rate_bound[active] > 0).all() and (st.rate_bound[~active] == 0).all()

    wrap(monkeypatch, daily, "_purchases", before=not_lapsed)
    wrap(monkeypatch, replication, "day", before=rates, after=rates)
    ctx = build_context(sc, 0, SEED)
    simulate(ctx)
    assert (bought > 0).all()
    totals = ctx.tally.total
    assert totals["winbacks"][1:].min() > 0 and totals["contact_lapses"][1:].min() > 0
    assert totals["winbacks"][0] == totals["contact_lapses"][0] == 0  # silent sends nothing


# --- exactness ----------------------------------------------------------------------------------


def test_silent_is_unchanged_and_strategies_do_not_depend_on_each_other() -> None:
    """Silent sends nothing, so with the mechanism on it keeps the BG/NBD baseline exactly;
    and a strategy's results are the same whichever strategies run beside it."""
    params = WINBACK | {"contact_hazard": 0.02}
    off = run_replication(lapse_scenario(None, horizon=42), 0, SEED).summary
    on = run_replication(lapse_scenario(params, horizon=42), 0, SEED).summary
    pd.testing.assert_frame_equal(on.iloc[:1], off.iloc[:1])
    assert (on["active_end"].iloc[1:].to_numpy() != off["active_end"].iloc[1:].to_numpy()).any()
    alone = run_replication(lapse_scenario(params, horizon=42), 0, SEED, strategies=["daily"])
    together = on[on["strategy"] == "daily"].drop(columns="incremental_revenue")
    pd.testing.assert_frame_equal(
        alone.summary.drop(columns="incremental_revenue").reset_index(drop=True),
        together.reset_index(drop=True),
    )


# --- directions ---------------------------------------------------------------------------------


def test_winback_raises_active_members_and_revenue(runs: dict[str, pd.DataFrame]) -> None:
    off, on = runs["off"], runs["winback"]
    for strategy in ("weekly", "daily"):
        for kpi in ("active_end", "revenue"):
            assert_greater(values(on, strategy, kpi), values(off, strategy, kpi), kpi)
    # Silent sends nothing, so there is nobody to revive.
    for kpi in ("active_end", "revenue"):
        assert (values(on, "silent", kpi) == values(off, "silent", kpi)).all()


def test_contact_hazard_lowers_retention_of_a_heavy_sender(runs: dict[str, pd.DataFrame]) -> None:
    off, on = runs["off"], runs["hazard"]
    daily = values(on, "daily", "retention_rate")
    assert_greater(values(on, "silent", "retention_rate"), daily, "silent over daily")
    assert_greater(values(off, "daily", "retention_rate"), daily, "without over with the hazard")
    # The daily sender lapses more members than the weekly one.
    assert_greater(values(on, "weekly", "retention_rate"), daily, "weekly over daily")
