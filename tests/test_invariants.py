"""Invariants that must hold at every step of a replication, checked white-box.

Each test wraps an engine function (``day``, ``deliver``, ``_respond``, ``_purchases``) with
a checker, runs a small replication through ``build_context`` + ``simulate``, and also asserts
that the behaviour under test actually happened, so that no invariant holds vacuously.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from builders import daily_campaign, run_one, two_segment_scenario, wrap

import sim.engine.daily as daily
import sim.engine.delivery as delivery
import sim.engine.replication as replication
from sim.engine.outcomes import outcomes
from sim.engine.replication import build_context, simulate
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Scenario

EMAIL, SMS, PUSH = (CHANNELS.index(c) for c in ("email", "sms", "push"))


def scenario(strategies: dict[str, Any], **changes: Any) -> Scenario:
    """A small scenario of two lapsing segments (1,500 members, 12 weeks) with the given
    strategies (``builders.frequent_and_rare``)."""
    return two_segment_scenario(
        strategies, name="invariants", lapsing=True, horizon=84, seed=7, **changes
    )


# --- nothing is delivered after an exit -------------------------------------------------------


def test_nothing_is_seen_after_a_channel_exit_or_leaving(monkeypatch):
    sc = scenario(
        {
            "flood": {
                "campaigns": {
                    "morning": daily_campaign("email", 9, relevance=0.2),
                    "evening": daily_campaign("email", 18, relevance=0.3),
                    "sms": daily_campaign("sms", 12, relevance=0.2),
                    "push": daily_campaign(
                        "push",
                        15,
                        kind="bonus_points",
                        offer={"kind": "bonus_points", "points": 100},
                    ),
                }
            }
        },
        # High exit rates so that most opted-in members exit during the horizon, and a high
        # leaving rate so that members also leave while still opted in.
        channels={
            "email": {"exit": 0.03, "complaint": 0.001},
            "sms": {"exit": 0.05},
            "push": {"exit": 0.03},
        },
        behaviour={"leave_per_year": 0.6},
    )
    seen = np.zeros(len(CHANNELS), dtype=np.int64)

    def check(ctx, s, ch, campaign, t, idx, *uniforms):
        assert not ctx.state.exited[s, ch, idx].any(), f"{campaign.channel} seen after an exit"
        assert not ctx.state.left[s, idx].any(), f"{campaign.channel} seen after leaving"
        seen[ch] += idx.size

    wrap(monkeypatch, delivery, "_respond", before=check)
    ctx = run_one(sc)

    flood = ctx.strategies.index("flood")
    exits = ctx.tally.channel["exits"][flood]
    assert (seen > 0).all()
    # Many exits on every channel and many leavers: the checks above were not vacuous.
    for ch in (EMAIL, SMS, PUSH):
        opted_in = np.count_nonzero(ctx.state.members.opt_in[ch])
        assert exits[ch] > 0.3 * opted_in
        assert exits[ch] == np.count_nonzero(ctx.state.exited[flood, ch])
    assert ctx.tally.total["leavers"][flood] > 50


# --- the points ledger balances at every step --------------------------------------------------


def test_points_are_conserved_after_every_day(monkeypatch):
    sc = scenario(
        {
            "multiplier": {
                "campaigns": {
                    "double": {
                        "channel": "email",
                        "every_days": 7,
                        "hour": 9,
                        "relevance": 0.8,
                        "offer": {"kind": "points_multiplier", "multiplier": 3, "days": 5},
                    }
                }
            },
            "bonus": {
                "campaigns": {
                    "bonus": {
                        "channel": "push",
                        "every_days": 5,
                        "hour": 12,
                        "relevance": 0.8,
                        "offer": {"kind": "bonus_points", "points": 250, "days": 10},
                    }
                }
            },
        },
        # Baskets earn ~400 points, so a 300-point threshold redeems often; two weeks without
        # a purchase expire the balance, which many of the rare shoppers reach.
        program={
            "points_per_currency": 1.0,
            "redemption_threshold": 300,
            "expiry": {"kind": "inactivity", "days": 14},
        },
        behaviour={"leave_per_year": 0.3},
    )
    days_checked = []

    def check(ctx, d):
        total, balance = ctx.tally.total, ctx.state.balance
        for s in range(len(ctx.strategies)):
            issued = int(total["points_issued"][s]) + ctx.state.program.opening_total
            redeemed = int(total["points_redeemed"][s])
            expired = int(total["points_expired"][s])
            outstanding = int(balance[s].sum())
            assert issued == redeemed + expired + outstanding, (ctx.strategies[s], d)
            assert (balance[s] >= 0).all()
        days_checked.append(d)

    wrap(monkeypatch, replication, "day", after=check)
    ctx = run_one(sc)
    check(ctx, sc.horizon_days)

    assert days_checked == [*range(sc.horizon_days), sc.horizon_days]
    total = ctx.tally.total
    for s, name in enumerate(ctx.strategies):
        for flow in ("points_issued", "points_redeemed", "points_expired"):
            assert total[flow][s] > 0, (name, flow)
    # The offers were taken up, so the multiplier and bonus flows were exercised.
    st = ctx.state
    assert np.isfinite(st.multiplier_until[ctx.strategies.index("multiplier")]).sum() > 100
    assert np.isfinite(st.bonus_until[ctx.strategies.index("bonus")]).sum() > 100


# --- members: conservation, leaving and lapse are absorbing ------------------------------------


def test_members_are_conserved_and_leaving_and_lapse_are_absorbing(monkeypatch):
    sc = scenario(
        {
            "weekly": {
                "campaigns": {
                    "news": {"channel": "email", "weekdays": ["thu"], "hour": 9},
                    "sms": {"channel": "sms", "every_days": 3, "hour": 16, "relevance": 0.2},
                }
            }
        },
        behaviour={"leave_per_year": 0.5},
    )
    seen: dict[str, np.ndarray] = {}
    bought = np.zeros(2, dtype=np.int64)  # purchases checked, per strategy

    def no_purchase_by_lapsed_or_left(ctx, s, d, idx, counts):
        assert not ctx.state.lapsed[idx].any(), "a lapsed member bought"
        assert not ctx.state.left[s, idx].any(), "a member who left bought"
        assert (idx < ctx.state.members.joined_by(d)).all(), "a member bought before joining"
        bought[s] += int(np.sum(counts))

    def absorbing(ctx, d):
        st, n = ctx.state, ctx.state.members.joined_by(d)
        assert not st.left[:, n:].any(), "a member left before joining"
        if seen:
            assert not (seen["left"] & ~st.left).any(), "a member came back to the program"
            assert not (seen["lapsed"] & ~st.lapsed).any(), "a lapsed member became active"
        seen["left"], seen["lapsed"] = st.left.copy(), st.lapsed.copy()

    wrap(monkeypatch, daily, "_purchases", before=no_purchase_by_lapsed_or_left)
    wrap(monkeypatch, replication, "day", after=absorbing)
    ctx = build_context(sc, 0, sc.seed)
    weeks = simulate(ctx)

    st, horizon = ctx.state, sc.horizon_days
    joined = st.members.size
    assert joined == st.members.joined_by(horizon)
    last_week = {row["strategy"]: row for row in weeks if row["week"] == math.ceil(horizon / 7)}
    for s, name in enumerate(ctx.strategies):
        kpi = outcomes(ctx, s, horizon)
        leavers = ctx.tally.total["leavers"][s]
        assert kpi["members_start"] + kpi["members_joined"] == kpi["members_end"] + leavers
        assert kpi["members_joined"] > 0

        left = st.left[s]
        active_in = np.count_nonzero(~left & ~st.lapsed)
        lapsed_in = np.count_nonzero(~left & st.lapsed)
        assert active_in + lapsed_in + np.count_nonzero(left) == joined
        assert kpi["members_end"] == active_in + lapsed_in
        assert kpi["active_end"] == active_in
        assert leavers == np.count_nonzero(left)
        assert last_week[name]["members"] == kpi["members_end"]
        assert last_week[name]["active"] == kpi["active_end"]
        # Both absorbing states were reached by many members.
        assert np.count_nonzero(left) > 50 and lapsed_in > 50, name
    assert (bought > 0).all()


# --- contact caps are never exceeded -----------------------------------------------------------


def test_caps_are_never_exceeded_and_do_bind(monkeypatch):
    campaigns = {
        "daily": daily_campaign("email", 9),
        "alternate": {"channel": "email", "every_days": 2, "hour": 15},
        "sms": daily_campaign("sms", 12),
    }
    caps = {"email": "2 per 7d", "sms": "1 per 5d"}
    sc = scenario(
        {"capped": {"caps": caps, "campaigns": campaigns}, "uncapped": {"campaigns": campaigns}},
        # No reputation: every email sent reaches the inbox, so ``_respond`` sees every send.
        # Rare exits, not raised by fatigue, so that uncapped members stay reachable and the
        # difference in sends is the caps' doing.
        channels={
            "email": {"reputation": None, "exit": 0.0005, "complaint": 0.0},
            "sms": {"exit": 0.001},
        },
        behaviour={"fatigue": {"exit_slope": 0.0}},
        horizon_days=42,
    )
    # Our own record of every delivery (time, members) per (strategy, channel).
    history: dict[tuple[int, int], list[tuple[float, np.ndarray]]] = {}
    this_send = {"seen": 0, "sends_before": 0, "reachable": 0}
    checked = np.zeros(len(CHANNELS), dtype=np.int64)
    blocked = np.zeros((2, len(CHANNELS)), dtype=np.int64)  # reachable but not sent

    def record(ctx, s, ch, campaign, t, idx, *uniforms):
        history.setdefault((s, ch), []).append((t, idx.copy()))
        this_send["seen"] += idx.size

    def before_send(ctx, s, name, campaign, t, *candidates):
        ch, n = CHANNELS.index(campaign.channel), ctx.state.members.joined_by(t)
        reachable = np.count_nonzero(ctx.state.reachable(s, ch, n))
        this_send.update(
            seen=0, sends_before=int(ctx.tally.channel["sends"][s].sum()), reachable=reachable
        )

    def after_send(ctx, s, name, campaign, t, *candidates):
        sends = int(ctx.tally.channel["sends"][s].sum()) - this_send["sends_before"]
        assert sends == this_send["seen"], "our delivery record is incomplete"
        blocked[s - 1, CHANNELS.index(campaign.channel)] += this_send["reachable"] - sends
        n = ctx.state.members.size
        for (scope, _), cap in ctx.levers[s].rules.caps.items():
            ch = CHANNELS.index(scope)
            assert (cap.count_within(t) <= cap.cap.max).all()
            # Independent count: deliveries in the window (t - days, t] from our record.
            recent = [idx for when, idx in history.get((s, ch), []) if when > t - cap.cap.days]
            counts = np.bincount(np.concatenate([[], *recent]).astype(np.int64), minlength=n)
            assert counts.max(initial=0) <= cap.cap.max, (ctx.strategies[s], ch, t)
            checked[ch] += 1

    wrap(monkeypatch, delivery, "_respond", before=record)
    wrap(monkeypatch, replication, "dispatch", before=before_send, after=after_send)
    ctx = run_one(sc)

    assert checked[EMAIL] > 0 and checked[SMS] > 0
    capped, uncapped = ctx.strategies.index("capped"), ctx.strategies.index("uncapped")
    assert (capped, uncapped) == (1, 2)
    # Without caps every reachable member gets every send; with them many did not.
    assert (blocked[uncapped - 1] == 0).all()
    assert blocked[capped - 1, EMAIL] > 0 and blocked[capped - 1, SMS] > 0
    sends = ctx.tally.channel["sends"]
    # The caps bound: the capped strategy sent far less on both capped channels.
    assert sends[capped, EMAIL] < 0.5 * sends[uncapped, EMAIL]
    assert sends[capped, SMS] < 0.5 * sends[uncapped, SMS]
    # ...and the most-contacted members did reach the cap (two emails in some 7 days).
    per_member = np.bincount(
        np.concatenate([idx for _, idx in history[(capped, EMAIL)]]),
        minlength=ctx.state.members.size,
    )
    assert per_member.max() >= 2 * (sc.horizon_days // 7)
