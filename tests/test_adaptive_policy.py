"""The adaptive policy: personal caps hold in every 7-day window, and move down for saturated
and up for undersaturated members, re-derived week by week from the recorded deliveries."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from builders import run_one, wrap
from builders import two_segment_scenario as scenario
from scipy import stats
from sends import DAILY_EMAIL, EMAIL, Deliveries

import sim.engine.dispatch as dispatch
import sim.engine.replication as replication
from sim.engine.context import Context
from sim.spec.fields import CHANNELS

CAP_ALL = 5  # caps.all: at most 5 marketing messages in any 7 days
ADAPTIVE = {
    "policy": {"kind": "adaptive", "start_per_week": 3, "min_per_week": 1, "max_per_week": 7},
    "caps": {"all": f"{CAP_ALL} per 7d"},
    "campaigns": {
        "news": DAILY_EMAIL,
        "push": {"channel": "push", "kind": "promo", "every_days": 1, "hour": 15},
        # SMS has the highest opt-out rate: some members are saturated by opting out.
        "sms": {"channel": "sms", "kind": "promo", "every_days": 3, "hour": 17},
    },
}


class Recent:
    """The last few delivery times of each member (enough for any 7-day window here)."""

    def __init__(self, n: int, keep: int = 16) -> None:
        self.times = np.full((n, keep), -np.inf)

    def add(self, idx: np.ndarray, t: float) -> None:
        self.times[idx, 1:] = self.times[idx, :-1]
        self.times[idx, 0] = t

    def within(self, idx: np.ndarray, t: float, days: float) -> np.ndarray:
        """Deliveries of members idx in (t - days, t]."""
        return (self.times[idx] > t - days + 1e-6).sum(axis=1)


@dataclass
class Watched:
    """One run of the adaptive strategy for 12 weeks, and what was seen during it."""

    ctx: Context
    deliveries: Deliveries
    worst: dict[str, int]  # sends over, or at, a member's personal limit; sends on low limits
    limits: dict[int, np.ndarray]  # every member's personal limit at the start of each day
    opted_out: np.ndarray  # (channel, member): when they opted out, NaN: never
    clicked: list[tuple[int, np.ndarray]]  # (day, members who clicked a message)


@pytest.fixture(scope="module")
def watched() -> Watched:
    """The run both tests below check (each the same run they would make alone: watching it
    changes nothing in it): the personal limit of each member as each send is decided, and
    the limits, opt-outs and clicks the weekly reclassing is re-derived from."""
    sc = scenario({"adaptive": ADAPTIVE}, horizon=84)
    s = 1
    recent: list[Recent] = []
    worst = {"over_personal": 0, "at_personal": 0, "low_limit_sends": 0}

    def check(ctx, s_, message, ch, t, idx):
        if s_ != s or message.is_exempt:
            return
        if not recent:
            recent.append(Recent(ctx.state.members.size))
        limit = np.minimum(ctx.levers[s].policy.limit[idx], CAP_ALL)
        count = recent[0].within(idx, t, 7) + 1  # with this one
        worst["over_personal"] += np.count_nonzero(count > limit)
        worst["at_personal"] += np.count_nonzero((count == limit) & (limit < CAP_ALL))
        worst["low_limit_sends"] += np.count_nonzero(limit <= 2)
        recent[0].add(idx, t)

    limits: dict[int, np.ndarray] = {}
    opted_out: list[np.ndarray] = []  # (channel, member): when they opted out, NaN: never
    exits_before: list[np.ndarray] = []

    def at_day_start(ctx, d):
        limits[d] = ctx.levers[s].policy.limit.copy()

    clicks_before: list[np.ndarray] = []
    clicked: list[tuple[int, np.ndarray]] = []  # (day, members who clicked a message)

    def clicks_today(ctx, s_, ch, t, idx):
        ring = ctx.levers[s_].observations.ring  # (day slot, metric, channel, member)
        return ring[math.floor(t) % 28, 2, ch].take(idx).astype(np.int64)

    def before(ctx, s_, name, message, ch, t, idx):
        exits_before.append(ctx.state.exited[s_, ch, idx])
        clicks_before.append(clicks_today(ctx, s_, ch, t, idx))

    def after(ctx, s_, name, message, ch, t, idx):
        more = clicks_today(ctx, s_, ch, t, idx) > clicks_before.pop()
        if s_ == s:
            clicked.append((math.floor(t), np.compress(more, idx)))
        exited = np.compress(ctx.state.exited[s_, ch, idx] & ~exits_before.pop(), idx)
        if s_ == s:
            if not opted_out:
                opted_out.append(np.full((len(CHANNELS), ctx.state.members.size), np.nan))
            opted_out[0][ch, exited] = t

    with pytest.MonkeyPatch.context() as monkeypatch:
        wrap(monkeypatch, replication, "day", after=at_day_start)
        deliveries = Deliveries(monkeypatch, check)
        wrap(monkeypatch, dispatch, "send", before=before, after=after)
        ctx = run_one(sc)
    return Watched(ctx, deliveries, worst, limits, opted_out[0], clicked)


def test_adaptive_personal_caps_hold_in_every_7_day_window(watched):
    ctx, deliveries, worst = watched.ctx, watched.deliveries, watched.worst
    s = 1
    assert worst["over_personal"] == 0
    # Personal limits under the cap bound some members, and many members are on low limits.
    assert worst["at_personal"] > 500 and worst["low_limit_sends"] > 500
    assert ctx.tally.total["skipped_capped"][s] > 1000

    # Independently of the limits: no 7-day window holds more than the cap's maximum.
    times: dict[int, list[float]] = {}
    for d in deliveries.of(s):
        if not d.message.is_exempt:
            for i in d.idx.tolist():
                times.setdefault(i, []).append(d.t)
    most = 0
    for ts in times.values():
        ts.sort()
        k = np.searchsorted(ts, np.asarray(ts) + 7 - 1e-6, side="right") - np.arange(len(ts))
        most = max(most, int(k.max()))
    assert most == CAP_ALL


def test_adaptive_moves_caps_down_for_saturated_and_up_for_undersaturated_members(watched):
    """Each week, members sent anything in the last 28 days are classed by their opens against
    the opens the strategy's rate per channel (over everyone) predicts for their sends: below
    0.5x without a click, or opted out of a channel within the 28 days, moves the personal cap
    down one; above 1.5x up one (within 1 to 7)."""
    ctx, deliveries, limits = watched.ctx, watched.deliveries, watched.limits
    opted_out, clicked = [watched.opted_out], watched.clicked
    s, horizon = 1, ctx.scenario.horizon_days
    n = ctx.state.members.size
    sends = np.zeros((len(CHANNELS), horizon, n), dtype=np.int64)
    opens = np.zeros((len(CHANNELS), horizon, n), dtype=np.int64)
    for d in deliveries.of(s):
        np.add.at(sends[d.ch, d.day], d.idx, 1)
        np.add.at(opens[d.ch, d.day], d.opened, 1)
    assert all(d.t == pytest.approx(d.day + 9 / 24) for d in deliveries.of(s) if d.ch == EMAIL)

    spec = ADAPTIVE["policy"]
    moved = {"down": 0, "up": 0}
    for week in range(1, horizon // 7):
        d = 7 * week  # the week's first send, the 09:00 email, reclasses before it goes
        t = d + 9 / 24
        window = slice(max(0, d - 27), d)  # the 28 days to today; none sent yet today
        sent, opened = sends[:, window].sum(axis=1), opens[:, window].sum(axis=1)
        totals = sent.sum(axis=1)
        rate = np.divide(opened.sum(axis=1), totals, out=np.zeros(len(CHANNELS)), where=totals > 0)
        expected = (rate[:, None] * sent).sum(axis=0)
        seen = expected > 0
        ratio = np.divide(opened.sum(axis=0), expected, out=np.zeros(n), where=seen)
        with np.errstate(invalid="ignore"):
            left_a_channel = ((opted_out[0] > t - 28) & (opted_out[0] < t)).any(axis=0)
        click_days = np.zeros(n, dtype=bool)
        for day, who in clicked:
            if max(0, d - 27) <= day < d:
                click_days[who] = True
        saturated = seen & (((ratio < 0.5) & ~click_days) | left_a_channel)
        under = seen & ~saturated & (ratio > 1.5)
        before_ = limits[d].astype(np.int64)
        want = np.clip(before_ + under - saturated, spec["min_per_week"], spec["max_per_week"])
        got = limits[d + 1]
        wrong = np.flatnonzero(got != want)
        # Members who never opted out must not count as "opted out within 28 days": a never
        # is kept as +inf, which is not within any window.
        assert wrong.size == 0, (week, wrong[:10], got[wrong[:10]], want[wrong[:10]])
        moved["down"] += np.count_nonzero(got < before_)
        moved["up"] += np.count_nonzero(got > before_)
    assert moved["down"] > 300 and moved["up"] > 300, moved

    # At the end: members on low caps opened less, against what their channels predict.
    final = ctx.levers[s].policy.limit
    sent, opened = sends.sum(axis=1), opens.sum(axis=1)
    rate = opened.sum(axis=1) / np.maximum(sent.sum(axis=1), 1)
    expected = (rate[:, None] * sent).sum(axis=0)
    ratio = np.divide(opened.sum(axis=0), expected, out=np.zeros(n), where=expected > 0)
    low, high = final <= 1, final >= 4
    assert low.sum() > 50 and high.sum() > 50
    # The direction, by a rank test (one-sided): not a size, which the run does not pin down.
    assert ratio[high].mean() > ratio[low].mean()
    p = stats.mannwhitneyu(ratio[high], ratio[low], alternative="greater").pvalue
    assert p < 1e-6
