"""Siloed against orchestrated channel teams: siloed, each channel team keeps its own copy of
a cap on all channels or on a kind of message, and members get the sum. Checked from a record
of every delivery (see contact_record.py)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import contact_rules_scenario as scenario
from builders import daily_campaign
from contact_record import EMAIL, SMS, reachable, recipients, run

from sim.spec.fields import CHANNELS


def test_siloed_teams_each_keep_the_all_cap_while_members_get_the_sum(monkeypatch):
    campaigns = {
        "email": daily_campaign("email", 9),
        "sms": daily_campaign("sms", 12),
        "push": daily_campaign("push", 15),
    }
    caps = {"all": "2 per week"}
    sc = scenario(
        {
            "orchestrated": {"organisation": "orchestrated", "caps": caps, "campaigns": campaigns},
            "siloed": {"organisation": "siloed", "caps": caps, "campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    n = ctx.state.members.size
    o, s = ctx.strategies.index("orchestrated"), ctx.strategies.index("siloed")
    opted = np.stack([reachable(ctx, o, c) for c in range(len(CHANNELS))])
    channels_per_member = opted.sum(axis=0)
    for name, strategy in (("orchestrated", o), ("siloed", s)):
        d = log.table(strategy)
        week = np.floor(d.t / 7).astype(np.int64)
        for w in range(4):
            this_week = d.where(week == w)
            total = this_week.per_member(n)
            if name == "orchestrated":
                # Two a week in all, whatever the number of channels (daily on each).
                assert total.tolist() == (2 * (channels_per_member > 0)).tolist()
            else:
                for c in range(len(CHANNELS)):
                    assert this_week.where(this_week.ch == c).per_member(n).max() == 2
                # Each channel team sends its own two: up to six a week in all.
                assert total.tolist() == (2 * channels_per_member).tolist()
                assert (total > 2).sum() > 100 and total.max() == 6


@pytest.mark.parametrize("organisation", ["orchestrated", "siloed"])
def test_a_kind_cap_counts_that_kind_across_channels_or_per_team(monkeypatch, organisation):
    campaigns = {
        "email_promo": daily_campaign("email", 9, kind="promo"),
        "sms_promo": daily_campaign("sms", 12, kind="promo"),
        "news": daily_campaign("email", 15),  # another kind: not counted
    }
    sc = scenario(
        {
            "kinds": {
                "organisation": organisation,
                "caps": {"promo": "1 per day"},
                "campaigns": campaigns,
            }
        }
    )
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("kinds"), ctx.state.members.size
    on_email, on_sms = reachable(ctx, s, EMAIL), reachable(ctx, s, SMS)
    d = log.table(s)
    email_promo, sms_promo = recipients(d, "email_promo", n), recipients(d, "sms_promo", n)
    assert (on_email & on_sms).sum() > 100
    assert email_promo.tolist() == (28 * on_email).tolist()
    assert recipients(d, "news", n).tolist() == (28 * on_email).tolist()
    if organisation == "orchestrated":  # one promo a day in all: the earlier one, by email
        assert sms_promo.tolist() == (28 * (on_sms & ~on_email)).tolist()
    else:  # the sms team has its own promo a day
        assert sms_promo.tolist() == (28 * on_sms).tolist()
