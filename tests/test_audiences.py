"""Audiences: every delivery of a targeted campaign goes to exactly the members its audience
names (segments, tiers, balance, engagement and purchase recency), each of them reachable,
checked against purchases and opens kept by the test, not read from the engine's state."""

from __future__ import annotations

from typing import Any

import numpy as np
from builders import run_one, wrap
from builders import two_segment_scenario as scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sends import EMAIL, TIER_NAMES, TIERS, Deliveries, Delivery, joined, message_of, reachable

import sim.engine.daily as daily
import sim.engine.replication as replication
from sim.engine.context import Context


class Recency:
    """Each member's last purchase (or joining) and last open or click under strategy s,
    kept by the test from the purchases and deliveries it sees, not read from the state."""

    def __init__(self, monkeypatch: Any, deliveries: list[Delivery], s: int) -> None:
        self.s = s
        self.purchased: np.ndarray | None = None
        self.opened: np.ndarray | None = None
        self.deliveries = deliveries
        self.seen = 0

        def bought(ctx, s_, d, idx, counts):
            if self.purchased is None:
                self.start(ctx)
            if s_ == s:
                self.purchased[idx] = d

        wrap(monkeypatch, daily, "_purchases", before=bought)

    def start(self, ctx: Context) -> None:
        self.purchased = ctx.state.members.join_day.copy()
        self.opened = ctx.state.members.join_day.copy()

    def engaged(self, ctx: Context) -> np.ndarray:
        """Last open or click, or joining, of every member, up to now."""
        if self.opened is None:
            self.start(ctx)
        assert self.opened is not None
        for d in self.deliveries[self.seen :]:
            if d.s == self.s:
                self.opened[d.opened] = d.t
        self.seen = len(self.deliveries)
        return self.opened


def audience_members(
    ctx: Context, s: int, audience: dict[str, Any], t: float, recency: Recency, ch: int
) -> np.ndarray:
    """The members an audience names at time t, reachable on ``ch``, from the test's own
    records (recency) and the member profile and balance read from the state."""
    st_ = ctx.state
    who = joined(ctx, t)
    keep = reachable(ctx, s, ch, who)
    if "segments" in audience:
        names = list(ctx.scenario.population.segments)
        keep &= np.isin(st_.members.segment[who], [names.index(n) for n in audience["segments"]])
    if "tiers" in audience:
        wanted = [TIER_NAMES.index(n) for n in audience["tiers"]]
        keep &= np.isin(st_.program.level(s, who, t), wanted)
    balance = st_.balance[s, who]
    keep &= balance >= audience.get("balance", {}).get("min", 0)
    keep &= balance <= audience.get("balance", {}).get("max", np.inf)
    assert recency.purchased is not None
    since_open = t - recency.engaged(ctx)[who]
    since_purchase = t - recency.purchased[who]
    keep &= since_open <= audience.get("engaged_within_days", np.inf)
    keep &= since_open > audience.get("not_engaged_within_days", -np.inf)
    keep &= since_purchase <= audience.get("purchased_within_days", np.inf)
    keep &= since_purchase > audience.get("not_purchased_within_days", -np.inf)
    return np.compress(keep, who)


def targeted_run(monkeypatch: Any, audience: dict[str, Any], horizon: int) -> dict[str, int]:
    """A run with a newsletter to all (for engagement) and a daily email to ``audience``:
    every send of the latter goes to exactly the audience members reachable then."""
    sc = scenario(
        {
            "targeted": {
                "campaigns": {
                    "news": {"channel": "email", "every_days": 2, "hour": 9, "relevance": 0.6},
                    "push": {"channel": "push", "every_days": 3, "hour": 12, "relevance": 0.6},
                    "target": {
                        "channel": "email",
                        "kind": "promo",
                        "every_days": 1,
                        "hour": 15,
                        "audience": audience,
                    },
                }
            }
        },
        horizon=horizon,
        program={"redemption_threshold": 3000, "tiers": TIERS},
    )
    s = 1
    counts = {"sends": 0, "delivered": 0, "excluded": 0}
    pending: list[np.ndarray] = []
    recency: Recency

    def audience_now(ctx, s_, name, message, t, *candidates):
        if s_ == s and name == "target":
            pending.append(audience_members(ctx, s, audience, t, recency, EMAIL))

    def check(ctx, s_, message, ch, t, idx):
        if message is message_of(ctx, s, "target"):
            np.testing.assert_array_equal(idx, pending.pop(), err_msg=f"{audience} at {t}")
            counts["sends"] += 1
            counts["delivered"] += idx.size
            counts["excluded"] += np.count_nonzero(reachable(ctx, s, ch, joined(ctx, t)))
            counts["excluded"] -= idx.size

    def nobody_left_out(ctx, s_, name, message, t, *candidates):
        # A send that went to no one must have had no one to go to.
        if s_ == s and name == "target" and pending:
            assert pending.pop().size == 0, t

    wrap(monkeypatch, replication, "dispatch", before=audience_now, after=nobody_left_out)
    deliveries = Deliveries(monkeypatch, check)
    recency = Recency(monkeypatch, deliveries, s)
    run_one(sc)
    assert not pending
    return counts


def test_every_delivery_meets_its_audience_and_every_member_in_it_gets_it(monkeypatch):
    audience = {
        "segments": ["frequent"],
        "balance": {"min": 1000},
        "engaged_within_days": 10,
        "not_purchased_within_days": 3,
    }
    counts = targeted_run(monkeypatch, audience, horizon=56)
    assert counts["sends"] > 40
    assert counts["delivered"] > 2000
    assert counts["excluded"] > 5 * counts["delivered"]


AUDIENCES = st.fixed_dictionaries(
    {},
    optional={
        "segments": st.sampled_from([["frequent"], ["rare"], ["rare", "frequent"]]),
        "tiers": st.lists(st.sampled_from(TIER_NAMES), min_size=1, max_size=2, unique=True),
        "balance": st.fixed_dictionaries(
            {}, optional={"min": st.integers(0, 2500), "max": st.integers(500, 4000)}
        ),
        "engaged_within_days": st.integers(1, 20),
        "not_engaged_within_days": st.integers(1, 20),
        "purchased_within_days": st.integers(1, 20),
        "not_purchased_within_days": st.integers(1, 20),
    },
).filter(bool)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(audience=AUDIENCES)
def test_random_audiences_reach_exactly_their_members(monkeypatch, audience):
    with monkeypatch.context() as patch:
        targeted_run(patch, audience, horizon=35)
