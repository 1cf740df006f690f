"""Sunset: marketing stops for members who have not engaged for ``after_days``, and the
re-permission message goes once, on the day they reach it. Deliveries are recorded at ``send``
(sends.py) and the rule is checked against engagement kept by the test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import run_one, wrap
from builders import two_segment_scenario as scenario
from sends import DAILY_EMAIL, EMAIL, Deliveries, engaged, joined, message_of, reachable

import sim.engine.replication as replication
from sim.engine.outcomes import outcomes

SUNSET_DAYS = 14


def test_sunset_stops_marketing_and_re_permission_goes_once_on_the_day(monkeypatch):
    sc = scenario(
        {
            "sunset": {
                "sunset": {
                    "after_days": SUNSET_DAYS,
                    "re_permission": {"channel": "email", "hour": 10, "relevance": 0.9},
                },
                "campaigns": {
                    "news": {**DAILY_EMAIL, "relevance": 0.3},
                    "push": {"channel": "push", "kind": "promo", "every_days": 2, "hour": 12},
                },
            }
        },
        program={"control_group": 0.1},
    )
    s = 1
    due: dict[int, np.ndarray] = {}
    asked_while_engaged: list[tuple[float, np.ndarray]] = []

    def reaching_sunset(ctx, d):
        # Members whose last open, click or joining is after_days old today, at day start.
        who = joined(ctx, d)
        hit = np.floor(engaged(ctx, s, who)) == d - SUNSET_DAYS
        due[d] = np.compress(hit & ~ctx.state.left[s, who], who)

    def check(ctx, s_, message, ch, t, idx):
        if s_ != s:
            return
        last = engaged(ctx, s, idx)
        if message.kind == "re_permission":
            # Sent on the day the member reaches sunset: the last engagement, as it stands
            # at the send, is after_days days before today.
            wrong = np.floor(last) + SUNSET_DAYS != math.floor(t)
            if wrong.any():
                asked_while_engaged.append((t, np.compress(wrong, idx)))
        else:
            assert (t - last < SUNSET_DAYS).all(), (message.kind, t)

    wrap(monkeypatch, replication, "day", after=reaching_sunset)
    deliveries = Deliveries(monkeypatch, check)
    ctx = run_one(sc)
    journeys = ctx.levers[s].journeys
    assert journeys is not None
    asked = deliveries.of(s, journeys.journeys["sunset_re_permission"])
    assert len(asked) > 20
    assert all(d.t == pytest.approx(d.day + 10 / 24) and d.ch == EMAIL for d in asked)

    # Opens per member, to tell who engaged on the morning before the re-permission.
    opens: dict[int, list[float]] = {}
    for d in deliveries.of(s):
        for i in d.opened:
            opens.setdefault(int(i), []).append(d.t)

    # The re-permission message goes to those reaching sunset that day, but the control group.
    by_day = {d.day: d for d in asked}
    assert len(by_day) == len(asked)
    end_reachable = reachable(ctx, s, EMAIL, np.arange(ctx.state.members.size))
    for day_, who in due.items():
        d = by_day.get(day_)
        got = d.idx if d is not None else np.empty(0, dtype=np.intp)
        assert np.isin(got, who).all(), day_
        assert not ctx.control[got].any()
        still = [i for i in who if not any(day_ <= o < day_ + 10 / 24 for o in opens.get(i, []))]
        expected = np.array([i for i in still if not ctx.control[i]], dtype=np.intp)
        # Exits and leaving are for good: reachable at the end means reachable then.
        assert np.isin(np.compress(end_reachable[expected], expected), got).all(), day_
    # Once per member and sunset: a member asked twice must have engaged after the day whose
    # engagement the first ask counted from.
    asked_on: dict[int, int] = {}
    for d in asked:
        for i in d.idx.tolist():
            if i in asked_on:
                since = asked_on[i] - SUNSET_DAYS
                assert any(since < math.floor(o) for o in opens.get(i, [])), (i, d.t)
            asked_on[i] = d.day
    assert len(asked_on) < sum(d.idx.size for d in asked)  # some were asked again

    # Members who open it are back in the audience: each still reachable on email gets the
    # next morning's newsletter.
    news = {d.day: d for d in deliveries.of(s, message_of(ctx, s, "news"))}
    back = 0
    for d in asked:
        nxt = news.get(d.day + 1)
        if nxt is None:
            continue
        assert np.isin(np.compress(end_reachable[d.opened], d.opened), nxt.idx).all()
        back += np.count_nonzero(np.isin(d.opened, nxt.idx))
    assert back > 10

    # Sunset held many back, and the KPIs agree with the state at the horizon.
    assert ctx.tally.total["skipped_suppressed"][s] > 1000
    row = outcomes(ctx, s, sc.horizon_days)
    member = np.flatnonzero(~ctx.state.left[s])
    horizon_since = sc.horizon_days - engaged(ctx, s, member)
    assert row["sunset_end"] == np.count_nonzero(horizon_since >= SUNSET_DAYS) > 100
    assert row["journey_sends"] == sum(d.idx.size for d in asked)

    # A member who opened a message earlier on the day they would reach sunset has not
    # reached it: asking them to re-permission an hour after an open is wrong. (The journey
    # fires at day start and does not look again at the send.)
    assert not asked_while_engaged, [(t, idx.tolist()) for t, idx in asked_while_engaged]
