"""The engagement-channel policy sends each message on the channel a member opens most (opens
per send, smoothed towards the channel's rate over everyone), among those reaching them."""

from __future__ import annotations

import math

import numpy as np
from builders import frequent_and_rare, run_one
from builders import two_segment_scenario as scenario
from sends import DAILY_EMAIL, EMAIL, PUSH, Deliveries, Delivery, joined, message_of, reachable

from sim.engine.replication import build_context
from sim.spec.fields import CHANNELS
from sim.strategies.observe import Observations, View
from sim.strategies.policy import ChannelChoice, Outgoing


def test_engagement_channel_picks_the_channel_a_member_opens_most():
    """A clear case: opens per send on each channel, smoothed with 2 pseudo-sends at the
    channel's rate over everyone, among the channels the member can be reached on."""
    everything = {"email": 1.0, "sms": 1.0, "push": 1.0}
    segments = {name: {**seg, "opt_in": everything} for name, seg in frequent_and_rare().items()}
    sc = scenario(
        {"channel": {"policy": "engagement_channel", "campaigns": {"news": DAILY_EMAIL}}},
        size=8,
        acquisition=0.0,
        population={"size": 8, "acquisition_per_day": 0.0, "segments": segments},
    )
    ctx = build_context(sc, 0, sc.seed)
    s = 1
    st_ = ctx.state
    observations = Observations(st_.members.size)
    history = {  # member: {channel: (sends, opens)}
        0: {EMAIL: (10, 0), PUSH: (10, 8)},  # opens push
        1: {EMAIL: (10, 9), PUSH: (10, 0)},  # opens email
        2: {EMAIL: (10, 0), PUSH: (10, 8)},  # opens push, but has opted out of it
        3: {EMAIL: (10, 9), PUSH: (10, 0)},  # opens email, but has opted out of it
        4: {EMAIL: (1, 0), PUSH: (1, 1)},  # one push opened: a weak signal, still push
        5: {EMAIL: (20, 3), PUSH: (20, 2)},  # email, narrowly
        6: {},  # no history: the higher rate over everyone (email 23/66, push 19/61)
        7: {EMAIL: (5, 2)},  # only SMS reachable: left on the message's own channel
    }
    for member, channels in history.items():
        for ch, (sent, opened) in channels.items():
            for k in range(sent):
                observations.add("sends", ch, np.array([member]))
                if k < opened:
                    observations.add("opens", ch, np.array([member]))
    st_.exited[s, PUSH, 2] = True
    st_.exited[s, EMAIL, 3] = True
    st_.exited[s, [EMAIL, PUSH], 7] = True
    policy = ctx.levers[s].policy
    assert isinstance(policy, ChannelChoice)
    news = message_of(ctx, s, "news")
    answer = policy.select(Outgoing("news", news, 0), np.arange(8), View(st_, s, observations, 0.4))
    assert set(answer) <= {"email", "push"}
    assert answer["push"].tolist() == [0, 3, 4]
    assert answer["email"].tolist() == [1, 2, 5, 6, 7]


def test_engagement_channel_sends_on_the_channel_with_the_best_observed_open_rate(monkeypatch):
    sc = scenario(
        {
            "channel": {
                "policy": {"kind": "engagement_channel", "channels": ["email", "push"]},
                "campaigns": {
                    "news": {**DAILY_EMAIL, "kind": "promo"},
                    # Exempt, so sent on push whatever the policy says: push history for all.
                    "app": {"channel": "push", "kind": "service", "every_days": 2, "hour": 12},
                },
            }
        },
        horizon=56,
        channels={"push": {"open": 0.25}},
    )
    s, horizon = 1, sc.horizon_days
    counted: list[np.ndarray] = []  # (metric, channel, day, member) counts so far
    on = {"email": 0, "push": 0}
    done = [0]  # deliveries counted so far
    deliveries: list[Delivery]

    def check(ctx, s_, message, ch, t, idx):
        if s_ != s:
            return
        n = ctx.state.members.size
        if not counted:
            counted.append(np.zeros((2, len(CHANNELS), horizon, n), dtype=np.int64))
        seen = counted[0]
        # What the policy saw: deliveries before this send's time (the same decision may
        # already have gone out on the other channel).
        while done[0] < len(deliveries) and deliveries[done[0]].t < t:
            d = deliveries[done[0]]
            if d.s == s:
                np.add.at(seen[0, d.ch, d.day], d.idx, 1)
                np.add.at(seen[1, d.ch, d.day], d.opened, 1)
            done[0] += 1
        if message.is_exempt:
            return
        day_ = math.floor(t)
        window = seen[:, :, max(0, day_ - 27) : day_ + 1].sum(axis=2)
        sends, opens = window[0], window[1]
        everyone = joined(ctx, t)
        score = np.full((2, idx.size), -np.inf)
        for k, c in enumerate((EMAIL, PUSH)):
            total = sends[c, everyone].sum()
            prior = opens[c, everyone].sum() / total if total else 0.0
            rate = (opens[c, idx] + 2.0 * prior) / (sends[c, idx] + 2.0)
            score[k] = np.where(reachable(ctx, s, c, idx), rate, -np.inf)
        best = np.array((EMAIL, PUSH))[score.argmax(axis=0)]
        wrong = best != ch
        assert not wrong.any(), (t, CHANNELS[ch], idx[wrong][:5], score[:, wrong][:, :5])
        on[CHANNELS[ch]] += idx.size

    deliveries = Deliveries(monkeypatch, check)
    ctx = run_one(sc)
    # Both channels are used, and every member reachable on either gets each newsletter.
    assert on["email"] > 5000 and on["push"] > 5000, on
    news = message_of(ctx, s, "news")
    by_time: dict[float, list[np.ndarray]] = {}
    for d in deliveries:
        if d.s == s and d.message is news:
            by_time.setdefault(d.t, []).append(d.idx)
    assert len(by_time) == horizon
    members = np.arange(ctx.state.members.size)
    either = reachable(ctx, s, EMAIL, members) | reachable(ctx, s, PUSH, members)
    for t, parts in by_time.items():
        got = np.concatenate(parts)
        assert np.unique(got).size == got.size
        due = np.flatnonzero(either & (ctx.state.members.join_day <= t))
        assert np.isin(due, got).all(), t
