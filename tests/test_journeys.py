"""Lifecycle journeys (welcome, thanks, win-back, expiry reminder, tier-up) reach the right
members on the right day, against purchases, expiries and tier levels kept by the test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import run_one, wrap
from builders import two_segment_scenario as scenario
from sends import DAILY_EMAIL, TIERS, Deliveries, joined, reachable

import sim.engine.daily as daily
import sim.engine.replication as replication
from sim.spec.fields import CHANNELS
from sim.spec.strategy import Journey

WELCOME_DELAYS = (0, 3, 7)
WIN_BACK_DAYS = 10
EXPIRY_DAYS, REMIND_DAYS = 30, 5
LIFECYCLE: dict[str, Any] = {
    "welcome": {
        "trigger": "joined",
        "channel": "email",
        "delay_days": list(WELCOME_DELAYS),
        "hour": 8,
    },
    "thanks": {"trigger": "purchased", "channel": "push", "delay_days": 1, "hour": 10},
    "win_back": {"trigger": "no_purchase", "days": WIN_BACK_DAYS, "channel": "sms", "hour": 16},
    "expiry": {"trigger": "expiry_due", "days": REMIND_DAYS, "channel": "email", "hour": 12},
    "tier_up": {"trigger": "tier_up", "channel": "push", "hour": 18},
}


def test_lifecycle_journeys_reach_the_right_members_on_the_right_day(monkeypatch):
    sc = scenario(
        {
            "lifecycle": {"journeys": LIFECYCLE},
            # With a newsletter too: its opens change purchases, so the two strategies' events
            # differ and a journey acting on another strategy's events would show.
            "with_news": {
                "journeys": LIFECYCLE,
                "campaigns": {"news": {**DAILY_EMAIL, "relevance": 0.8}},
            },
        },
        horizon=56,
        acquisition=8.0,
        program={
            "redemption_threshold": 3000,
            "expiry": {"kind": "inactivity", "days": EXPIRY_DAYS},
            "tiers": TIERS,
        },
    )
    strategies = range(1, len(sc.strategy_names))
    size, horizon = sc.population.size, sc.horizon_days
    nobody = np.empty(0, dtype=np.intp)
    # Whom each journey should reach, by (strategy, day), from the test's own records.
    expected: dict[str, dict[tuple[int, int], np.ndarray]] = {name: {} for name in LIFECYCLE}
    buyers: dict[tuple[int, int], np.ndarray] = {}
    expired: dict[tuple[int, int], np.ndarray] = {}
    last_purchase: dict[int, np.ndarray] = {}
    levels: dict[int, np.ndarray] = {}

    def bought(ctx, s, d, idx, counts):
        if s not in last_purchase:
            last_purchase[s] = ctx.state.members.join_day.copy()  # or joining
        buyers[s, d] = idx.copy()
        last_purchase[s][idx] = d

    def forfeited(ctx, s, d, idx):
        expired[s, d] = np.union1d(expired.get((s, d), nobody), idx)

    def after_day(ctx, d):
        members, everyone = ctx.state.members, np.arange(ctx.state.members.size)
        who = joined(ctx, d)
        joiners = who[(members.join_day[who] == d) & (who >= size)]
        for k in WELCOME_DELAYS:
            if d + k < horizon:
                expected["welcome"][0, d + k] = np.union1d(
                    expected["welcome"].get((0, d + k), nobody), joiners
                )
        for s in strategies:
            last = last_purchase.setdefault(s, members.join_day.copy())[who]
            staying = ~ctx.state.left[s, who]
            expected["thanks"][s, d + 1] = buyers.get((s, d), nobody)
            expected["win_back"][s, d] = np.compress((last == d - WIN_BACK_DAYS) & staying, who)
            # Under inactivity expiry a positive balance expires EXPIRY_DAYS after the last
            # purchase (or joining): the reminder goes REMIND_DAYS before that.
            due = (last + EXPIRY_DAYS - REMIND_DAYS == d) & (ctx.state.balance[s, who] > 0)
            expected["expiry"][s, d] = np.compress(due & staying, who)
            level = ctx.state.program.level(s, everyone, d)
            expected["tier_up"][s, d] = np.flatnonzero(level > levels.get(s, 0))
            levels[s] = level

    wrap(monkeypatch, daily, "_purchases", before=bought)
    wrap(monkeypatch, daily, "_forfeit", before=forfeited)
    wrap(monkeypatch, replication, "day", after=after_day)
    deliveries = Deliveries(monkeypatch)
    ctx = run_one(sc)
    join_day = ctx.state.members.join_day

    for s in strategies:
        journeys = ctx.levers[s].strategy.journeys
        received: dict[str, dict[int, list[np.ndarray]]] = {name: {} for name in LIFECYCLE}
        for d in deliveries.of(s):
            if isinstance(d.message, Journey):
                name = next(k for k, j in journeys.items() if j is d.message)
                # At the journey's hour, on its channel (no policy or rules here).
                assert d.t == pytest.approx(d.day + d.message.hour / 24), (name, d.t)
                assert d.ch == CHANNELS.index(d.message.channel)
                received[name].setdefault(d.day, []).append(d.idx)
        for name, journey in journeys.items():
            end_reachable = reachable(
                ctx, s, CHANNELS.index(journey.channel), np.arange(join_day.size)
            )
            total = 0
            for day_ in range(horizon):
                sent = received[name].get(day_, [])
                if name == "welcome":
                    want = expected[name].get((0, day_), nobody)
                    # One send per step: each to the joiners of one day, a step's delay ago.
                    steps = []
                    for idx in sent:
                        (joined_on,) = set(join_day[idx].tolist())
                        steps.append(day_ - joined_on)
                    assert set(steps) <= set(WELCOME_DELAYS), (day_, steps)
                    assert len(set(steps)) == len(steps), (day_, steps)
                else:
                    want = expected[name].get((s, day_), nobody)
                    assert len(sent) <= 1, (name, day_)
                got = np.concatenate([*sent, nobody])
                where = (ctx.strategies[s], name, day_)
                assert np.isin(got, want).all(), where
                # Exits and leaving are for good: reachable at the end means reachable then.
                assert np.isin(np.compress(end_reachable[want], want), got).all(), where
                total += got.size
            assert total > 300, (ctx.strategies[s], name, total)
        journey_sends = sum(d.idx.size for d in deliveries.of(s) if isinstance(d.message, Journey))
        assert ctx.tally.total["journey_sends"][s] == journey_sends

        # A reminded member who then buys nothing and stays in the program loses the balance
        # on the day the reminder announced.
        checked = 0
        for d in deliveries.of(s, journeys["expiry"]):
            on = d.day + REMIND_DAYS
            if on < horizon:
                later = [buyers.get((s, k), nobody) for k in range(d.day + 1, on + 1)]
                idle = ~np.isin(d.idx, np.concatenate(later)) & ~ctx.state.left[s, d.idx]
                assert np.isin(np.compress(idle, d.idx), expired.get((s, on), nobody)).all()
                checked += np.count_nonzero(idle)
        assert checked > 200, checked

    # The two strategies' purchases differ, so their journeys went to different members.
    a, b = (ctx.tally.total["journey_sends"][s] for s in strategies)
    assert a != b
