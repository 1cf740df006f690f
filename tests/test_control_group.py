"""The control group: it gets no marketing under any kind of strategy but gets every exempt
message; it is the same members under every strategy, with its configured share; and its
estimate of incremental revenue is unbiased. Deliveries are recorded at ``send`` (sends.py)."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from builders import run_one
from builders import two_segment_scenario as scenario
from sends import DAILY_EMAIL, Deliveries, joined, reachable

import sim
from sim.engine.outcomes import outcomes
from sim.engine.replication import build_context

# Exempt: contact rules, policies, sunset and the control group never hold it back.
RECEIPT = {"channel": "email", "kind": "transactional", "every_days": 7, "hour": 11}
SERVICE_PUSH = {"channel": "push", "kind": "promo", "exempt": True, "every_days": 10, "hour": 13}

EVERY_KIND_OF_STRATEGY: dict[str, Any] = {
    "daily": {"campaigns": {"news": DAILY_EMAIL, "receipt": RECEIPT, "service": SERVICE_PUSH}},
    "lifecycle": {
        "campaigns": {"receipt": RECEIPT},
        "journeys": {
            "welcome": {"trigger": "joined", "channel": "email", "delay_days": [0, 2]},
            "thanks": {"trigger": "purchased", "channel": "push", "delay_days": 1},
            "lapse": {"trigger": "no_purchase", "days": 12, "channel": "sms", "hour": 16},
        },
    },
    "capped": {
        "caps": {"all": "3 per 7d"},
        "quiet_hours": {"start": 20, "end": 8, "channels": ["sms"]},
        "campaigns": {
            "news": DAILY_EMAIL,
            "late_sms": {"channel": "sms", "kind": "promo", "every_days": 4, "hour": 21},
            "receipt": RECEIPT,
        },
    },
    "sunset": {
        "sunset": {"after_days": 14, "re_permission": {"relevance": 0.8}},
        "campaigns": {"news": DAILY_EMAIL, "receipt": RECEIPT},
    },
    "adaptive": {
        "policy": "adaptive",
        "caps": {"all": "5 per 7d"},
        "campaigns": {"news": DAILY_EMAIL, "receipt": RECEIPT},
    },
    "channel": {
        "policy": "engagement_channel",
        "campaigns": {"news": DAILY_EMAIL, "receipt": RECEIPT},
    },
    "oracle": {"policy": "oracle", "campaigns": {"news": DAILY_EMAIL, "receipt": RECEIPT}},
}


def test_the_control_group_gets_no_marketing_under_any_strategy_but_gets_exempt_messages(
    monkeypatch,
):
    sc = scenario(EVERY_KIND_OF_STRATEGY, program={"control_group": 0.2})
    skipped = np.zeros(len(sc.strategy_names), dtype=np.int64)
    checked = {"exempt": 0, "news": 0}

    def check(ctx, s, message, ch, t, idx):
        who = joined(ctx, t)
        on_channel = reachable(ctx, s, ch, who)
        if message.is_exempt:
            # Exempt messages reach everyone reachable, control group included: no rule,
            # policy or suppression stands between them and the members.
            np.testing.assert_array_equal(idx, np.compress(on_channel, who), err_msg=str(t))
            checked["exempt"] += 1
        elif ctx.strategies[s] == "daily":
            # Under the plain daily newsletter the members held back are exactly the control
            # group: every reachable member outside it gets every newsletter.
            expected = np.compress(on_channel & ~ctx.control[who], who)
            np.testing.assert_array_equal(idx, expected, err_msg=str(t))
            skipped[s] += np.count_nonzero(on_channel & ctx.control[who])
            checked["news"] += 1

    deliveries = Deliveries(monkeypatch, check)
    ctx = run_one(sc)
    control = ctx.control
    assert control is not None
    assert checked["news"] == sc.horizon_days

    for name in sc.strategy_names[1:]:
        s = ctx.strategies.index(name)
        marketing = [d for d in deliveries.of(s) if not d.message.is_exempt]
        exempt = [d for d in deliveries.of(s) if d.message.is_exempt]
        assert marketing and exempt, name
        for d in marketing:
            assert not control[d.idx].any(), (name, d.message.kind, d.t)
        assert sum(np.count_nonzero(control[d.idx]) for d in exempt) > 100, name
    assert checked["exempt"] == sum(d.message.is_exempt for d in deliveries)

    s = ctx.strategies.index("daily")
    assert ctx.tally.total["skipped_suppressed"][s] == skipped[s] > 0
    row = outcomes(ctx, s, sc.horizon_days)
    assert row["control_members"] == np.count_nonzero(control)


def test_the_control_group_is_the_same_members_under_every_strategy_and_has_its_share():
    share = 0.2
    sc = scenario(EVERY_KIND_OF_STRATEGY, program={"control_group": share})
    names = sc.strategy_names
    in_control, members = 0, 0
    masks = []
    for r in range(12):
        ctx = build_context(sc, r, sc.seed)
        assert ctx.control is not None and ctx.control.size == ctx.state.members.size
        # The strategies of a replication may run in separate processes, each with a subset:
        # the control group must not depend on which strategies, or their order.
        for subset in (names[-1:], names[::-1], ["daily", "oracle"]):
            other = build_context(sc, r, sc.seed, subset)
            np.testing.assert_array_equal(other.control, ctx.control)
        in_control += np.count_nonzero(ctx.control)
        members += ctx.control.size
        masks.append(ctx.control[: sc.population.size])
    # Pooled over replications, the share is the configured one within binomial error.
    se = math.sqrt(share * (1 - share) / members)
    assert abs(in_control / members - share) < 3 * se, (in_control / members, share, se)
    assert se < 0.005  # it would see a share off by 0.015
    # A fresh draw each replication, not the same members every time.
    overlap = np.mean([np.count_nonzero(a & b) / np.count_nonzero(a) for a, b in pairwise(masks)])
    assert abs(overlap - share) < 0.05
    # No control group: none is drawn.
    assert build_context(scenario(EVERY_KIND_OF_STRATEGY), 0, 1).control is None


@pytest.mark.slow
def test_the_control_group_estimate_of_incremental_revenue_is_unbiased():
    """Over replications, measured minus true incremental revenue averages to 0 within 3
    standard errors; the standard error is small against the effect, so that a bias of a tenth
    of the true incremental revenue (over 5 standard errors) would be seen with ~98%
    probability."""
    heavy = {
        "campaigns": {
            "mail": {"channel": "email", "every_days": 2, "hour": 9, "relevance": 0.8},
            "push": {"channel": "push", "kind": "promo", "every_days": 3, "hour": 12},
        }
    }
    # Members alike in purchase rate and spend, and a strong response to opened messages:
    # the effect stands out of the noise of a random half of 1,000 members.
    regular = {
        "share": 1.0,
        "purchase": {"r": 4.0, "alpha": 28.0, "a": 0.5, "b": 200.0},
        "spend": {"p": 6.0, "q": 20.0, "v": 600.0},
        "opt_in": {"email": 0.9, "sms": 0.5, "push": 0.8},
    }
    sc = scenario(
        {"heavy": heavy},
        horizon=56,
        population={"size": 1000, "acquisition_per_day": 3.0, "segments": {"regular": regular}},
        program={"control_group": 0.5},
        behaviour={"lift": {"on_open": 1.0, "on_click": 1.0}},
    )
    res = sim.run(sc, replications=30, jobs=1)
    summary = res.summary.set_index(["replication", "strategy"])
    treated = summary.xs("heavy", level="strategy")
    silent = summary.xs("silent", level="strategy")
    # The control members receive nothing, so with common random numbers they buy exactly as
    # under silent: their revenue is the same under both strategies.
    np.testing.assert_allclose(treated["control_revenue"], silent["control_revenue"], rtol=1e-9)
    assert (treated["control_members"] == silent["control_members"]).all()
    assert (treated["control_revenue"] > 0.3 * treated["revenue"]).all()

    true = treated["incremental_revenue"]
    error = treated["incremental_revenue_measured"] - true
    se = error.std(ddof=1) / math.sqrt(error.size)
    assert abs(error.mean()) < 3 * se, (error.mean(), se)
    assert 5 * se < 0.1 * true.mean(), (se, true.mean())
    assert (true > 0).all()
