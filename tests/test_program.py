"""The loyalty program in the engine: conservation with every mechanic on, tier edge cases,
the goal gradient measured against its parameter, and random program rules (hypothesis)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from builders import nordic, nordic_data, run_one, scenario, wrap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.engine.daily as daily
import sim.engine.replication as replication
from sim.model import lots as lot_model
from sim.model.rewards import goal_mean
from sim.world.program import ProgramState

PUSH = {"channel": "push", "kind": "bonus_points", "every_days": 7, "hour": 12, "relevance": 0.6}
CATEGORIES = {"fresh": 0.4, "dry": 0.35, "other": 0.25}
TIERS = {
    "qualify_on": "spend",
    "window": "calendar",
    "levels": {
        "silver": {"threshold": 8000.0, "earn_multiplier": 1.25, "satisfaction": 1.0},
        "gold": {"threshold": 20000.0, "earn_multiplier": 1.5, "leave_hazard": 0.7},
    },
}


def push(offer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"campaigns": {"push": {**PUSH, "offer": offer}}, **extra}


def with_categories(size: int, strategies: dict[str, Any], **changes: Any) -> Any:
    """The demo scenario with product categories (for category offers)."""
    data = nordic_data()
    data["population"]["categories"] = CATEGORIES
    return nordic(size, strategies, data=data, **changes)


def every_mechanic() -> dict[str, Any]:
    """Strategies using every offer kind and expiry rule."""
    return {
        "multiplier": push({"kind": "points_multiplier", "multiplier": 2.0, "days": 5}),
        "category": push(
            {"kind": "points_multiplier", "multiplier": 3.0, "days": 5, "category": "preferred"}
        ),
        "bonus": push({"kind": "bonus_points", "points": 300, "days": 10}),
        "target": push({"kind": "spend_target", "spend": 600.0, "points": 500, "days": 10}),
        "lots": push(
            {"kind": "points_multiplier", "multiplier": 2.0, "days": 5},
            expiry={"kind": "lots", "months": 3},
        ),
        "year_end": push(
            {"kind": "discount", "percent": 10.0, "days": 5},
            expiry={"kind": "end_of_next_year"},
        ),
    }


def check_books(ctx: Any, d: int) -> None:
    """Points are conserved, balances equal their lots, the ledger agrees and is sound."""
    total, st_ = ctx.tally.total, ctx.state
    prog = st_.program
    for s, name in enumerate(ctx.strategies):
        issued = int(total["points_issued"][s]) + prog.opening_total
        redeemed, expired = int(total["points_redeemed"][s]), int(total["points_expired"][s])
        balance = st_.balance[s]
        assert issued == redeemed + expired + int(balance.sum()), (name, d)
        assert (balance >= 0).all(), (name, d)
        if prog.lots[s] is not None:
            np.testing.assert_array_equal(lot_model.balance(prog.lots[s]), balance)
        ledger = prog.ledgers[s]
        assert (ledger.issued, ledger.redeemed, ledger.expired) == (issued, redeemed, expired)
        ledger.recognise()
        assert 0.0 <= ledger.recognised <= ledger.allocated + 1e-6
        assert ledger.liability >= 0.0


def test_points_are_conserved_with_every_mechanic_on(monkeypatch):
    data_changes = {
        "horizon_days": 800,  # past day 730, where the first year's points expire
        "program": {
            "redemption_threshold": 2000,
            "expiry": {"kind": "inactivity", "days": 60},
            "tiers": TIERS,
        },
    }
    sc = with_categories(3000, every_mechanic(), **data_changes)
    days: list[int] = []
    wrap(
        monkeypatch, replication, "day", after=lambda ctx, d: (check_books(ctx, d), days.append(d))
    )
    ctx = run_one(sc)
    check_books(ctx, sc.horizon_days)
    assert days == list(range(sc.horizon_days))

    # Every mechanic happened, so no check above held vacuously.
    total, names = ctx.tally.total, ctx.strategies
    at = names.index
    assert total["tier_upgrades"].min() > 0 and total["tier_downgrades"].min() > 0
    assert total["offers_met"][at("target")] > 0 and total["offers_missed"][at("target")] > 0
    for name in ("lots", "year_end", "multiplier"):
        assert total["points_expired"][at(name)] > 0, name
    assert total["points_redeemed"].min() > 0
    # The category offer gives less than the full multiplier to each taker.
    multipliers = ctx.state.multiplier[at("category")]
    taken = multipliers[np.isfinite(ctx.state.multiplier_until[at("category")])]
    assert taken.size > 100 and taken.min() > 1.0 and taken.max() < 3.0


def test_next_expiry_under_each_rule():
    """The date and amount a reminder would announce, under each expiry rule."""
    strategies = every_mechanic()
    strategies["no_expiry"] = push({"kind": "bonus_points", "points": 1}, expiry={"kind": "none"})
    sc = with_categories(500, strategies, horizon_days=200, program={"redemption_threshold": 2000})
    ctx = run_one(sc)
    st_, at = ctx.state, ctx.strategies.index
    held = st_.balance[at("multiplier")] > 0
    day, points = st_.next_expiry(at("multiplier"))  # inactivity, 365 days
    np.testing.assert_array_equal(points[held], st_.balance[at("multiplier")][held])
    np.testing.assert_array_equal(day[held], st_.last_activity[at("multiplier")][held] + 365)
    assert np.isinf(day[~held]).all()
    day, points = st_.next_expiry(at("lots"))  # 3 months after the month earned
    due = points > 0
    assert due.any() and (points <= st_.balance[at("lots")]).all()
    assert (day[due] > 200).all() and (day[due] <= 200 + 4 * 365 / 12).all()
    day, points = st_.next_expiry(at("year_end"))  # all of it at the end of year 1
    np.testing.assert_array_equal(points, st_.balance[at("year_end")])
    assert set(day[points > 0]) == {730.0}
    day, points = st_.next_expiry(at("no_expiry"))
    assert np.isinf(day).all() and not points.any()


# --- tiers: edge cases, through the engine's program state ------------------------------------


def tier_program(window: str) -> ProgramState:
    sc = nordic(
        5,
        {"plan": push({"kind": "bonus_points", "points": 1, "days": 1})},
        program={"tiers": {**TIERS, "window": window}, "opening_balance": "zero"},
    )
    return ProgramState(sc, sc.strategy_names, 5)


def spend(prog: ProgramState, day: float, amounts: dict[int, float]) -> int:
    idx = np.array(sorted(amounts))
    return prog.qualify(0, idx, np.array([amounts[i] for i in idx]), day).size


def test_tier_threshold_is_inclusive():
    prog = tier_program("calendar")
    assert spend(prog, 10, {0: 8000.0, 1: 7999.99}) == 1
    assert prog.level(0, np.arange(2), 10).tolist() == [1, 0]
    assert spend(prog, 11, {1: 0.01}) == 1  # reaches 8,000 exactly with the second purchase
    assert prog.level(0, np.arange(2), 11).tolist() == [1, 1]


def test_calendar_status_is_kept_for_the_next_year_then_lost_and_regained():
    prog = tier_program("calendar")
    member, in_program = np.array([0]), np.zeros(5, dtype=bool)
    spend(prog, 300, {0: 20000.0})  # gold in year 0 ...
    downgrades = [prog.start_day(0, day, in_program).size for day in range(301, 730)]
    assert prog.windows[0].total[0] == 0.0  # ... the sum reset at day 365 ...
    assert prog.level(0, member, 729).tolist() == [2]  # ... the status held through year 1
    assert sum(downgrades) == 0
    assert prog.start_day(0, 730, in_program).size == 1  # no purchase in year 1: gold ends
    assert prog.level(0, member, 730).tolist() == [0]
    for day in range(731, 801):
        prog.start_day(0, day, in_program)
    assert spend(prog, 800, {0: 9000.0}) == 1  # requalifies for silver in year 2
    assert prog.level(0, member, 800).tolist() == [1]


def test_members_who_left_are_not_downgraded():
    prog = tier_program("rolling")
    spend(prog, 10, {0: 9000.0, 1: 9000.0})
    left = np.array([True, False, False, False, False])
    assert sum(prog.start_day(0, day, left).size for day in range(11, 400)) == 1


def test_rolling_window_drops_amounts_older_than_twelve_months():
    prog = tier_program("rolling")
    member = np.array([0])
    spend(prog, 10, {0: 5000.0})  # month 0
    for day in range(11, 351):
        prog.start_day(0, day, np.zeros(5, dtype=bool))
    assert spend(prog, 350, {0: 3000.0}) == 1  # month 11: 8,000 within the window, silver
    # In month 13 (day 400) month 0 has left the window: 3,000 alone does not requalify, and
    # silver is held for 365 days from the qualifying purchase.
    for day in range(351, 401):
        prog.start_day(0, day, np.zeros(5, dtype=bool))
    assert prog.windows[0].total[0] == 3000.0
    assert prog.level(0, member, 714).tolist() == [1]
    assert prog.level(0, member, 715).tolist() == [0]


# --- the goal gradient, measured in the engine -----------------------------------------------


@pytest.mark.slow
def test_goal_gradient_in_the_engine_matches_its_parameter(monkeypatch):
    """Members close to a reward buy faster by the factor the goal gradient prescribes.

    One homogeneous segment (near-constant rates and baskets of ~100 NOK, so ~10 purchases
    fill a 1,000-point card, like a stamp card), no lapse, no leaving, no marketing, and every
    other reward mechanic off. The purchase rate per member-day is measured by progress
    towards the next reward; the ratio of the top to the bottom tenth of progress must match
    (1 + s p_top) / (1 + s p_bottom) at the bins' mean progress, within 4 standard errors of
    the log ratio (Poisson counts: se = sqrt(1 / n_top + 1 / n_bottom))."""
    segment = {
        "share": 1.0,
        "purchase": {"r": 200.0, "alpha": 1400.0, "a": 0.01, "b": 1.0e6},  # ~1 a week
        "spend": {"p": 400.0, "q": 400.0, "v": 100.0},  # ~100 NOK, little variation
        "opt_in": {},
    }
    sc = scenario(
        {"silent": {}},
        name="goal_gradient",
        segments={"all": segment},
        size=3000,
        horizon=730,
        seed=3,
        program={"redemption_threshold": 1000, "expiry": {"kind": "none"}},
        behaviour={
            "leave_per_year": 0.0,
            "rewards": {"reset_depth": 0.0, "rewarded_lift": 0.0},
            "satisfaction": {"redemption_lift": 0.0},
        },
    )
    bins = 10
    exposure, bought, progress_sum = np.zeros(bins), np.zeros(bins), np.zeros(bins)

    def before_day(ctx: Any, d: int) -> None:
        n = ctx.state.members.joined_by(d)
        progress = ctx.state.balance[0, :n] % 1000 / 1000
        b = np.minimum((progress * bins).astype(int), bins - 1)
        exposure[:] += np.bincount(b, minlength=bins)
        progress_sum[:] += np.bincount(b, weights=progress, minlength=bins)
        ctx.test_bins = b

    def before_purchases(ctx: Any, s: int, d: int, idx: Any, counts: Any) -> None:
        bought[:] += np.bincount(ctx.test_bins[idx], weights=counts, minlength=bins)

    wrap(monkeypatch, replication, "day", before=before_day)
    wrap(monkeypatch, daily, "_purchases", before=before_purchases)
    run_one(sc)

    strength = sc.behaviour.rewards.goal_strength
    mean_progress = progress_sum / exposure
    rate = bought / exposure
    observed = math.log(rate[-1] / rate[0])
    expected = math.log((1 + strength * mean_progress[-1]) / (1 + strength * mean_progress[0]))
    se = math.sqrt(1 / bought[-1] + 1 / bought[0])
    assert abs(observed - expected) < 4 * se, (observed, expected, se)
    assert expected > 8 * se  # the test can tell the gradient from none
    # Rates rise with progress across the bins (direction, not just the ends).
    assert np.corrcoef(mean_progress, rate)[0, 1] > 0.9
    # Normalised: the mean multiplier over a card is close to 1 (harmonic mean over progress).
    assert goal_mean(strength) > 1.0


# --- random program rules -----------------------------------------------------------------------

EXPIRIES = st.sampled_from(
    [
        {"kind": "inactivity", "days": 30},
        {"kind": "lots", "months": 2},
        {"kind": "end_of_next_year"},
        {"kind": "none"},
    ]
)
OFFERS = st.sampled_from(
    [
        {"kind": "points_multiplier", "multiplier": 3.0, "days": 7},
        {"kind": "points_multiplier", "multiplier": 2.0, "days": 7, "category": "fresh"},
        {"kind": "bonus_points", "points": 150, "days": 7},
        {"kind": "spend_target", "spend": 300.0, "points": 200, "days": 7},
        {"kind": "discount", "percent": 20.0, "days": 7},
    ]
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    threshold=st.integers(50, 3000),
    per_currency=st.sampled_from([0.5, 1.0, 2.5]),
    expiry=EXPIRIES,
    offer=OFFERS,
    tiers=st.booleans(),
    window=st.sampled_from(["rolling", "calendar"]),
    qualify_on=st.sampled_from(["spend", "points"]),
    opening=st.sampled_from(["steady", "zero"]),
)
def test_random_program_rules_keep_the_books(
    monkeypatch, threshold, per_currency, expiry, offer, tiers, window, qualify_on, opening
):
    program: dict[str, Any] = {
        "redemption_threshold": threshold,
        "points_per_currency": per_currency,
        "expiry": expiry,
        "opening_balance": opening,
    }
    if tiers:
        program["tiers"] = {**copy.deepcopy(TIERS), "window": window, "qualify_on": qualify_on}
        program["tiers"]["window_days"] = 60.0  # several periods within the horizon
    sc = with_categories(400, {"plan": push(offer)}, horizon_days=150, program=program)
    with monkeypatch.context() as patch:
        wrap(patch, replication, "day", after=check_books)
        ctx = run_one(sc)
    check_books(ctx, sc.horizon_days)
    assert ctx.tally.total["points_issued"].min() > 0
