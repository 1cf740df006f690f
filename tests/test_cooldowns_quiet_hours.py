"""Cooldowns and quiet hours: a cooldown binds exactly at its edge; quiet hours hold messages
until they end, or drop them, and held messages meet the other rules when released. Checked
from a record of every delivery (see contact_record.py)."""

from __future__ import annotations

import pytest
from builders import contact_rules_scenario as scenario
from builders import daily_campaign
from contact_record import (
    EMAIL,
    PUSH,
    SLACK,
    SMS,
    minute_of_day,
    reachable,
    recipients,
    run,
    shortest_gap,
)

# --- cooldowns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "per_member"),
    [
        (6, 56),  # 09:00 and 15:00 are exactly 6 hours apart: both go out
        (16, 28),  # only 09:00
        (24, 28),  # 09:00 each day, exactly 24 hours apart
        (25, 19),  # 09:00 on days 0, 3, ..., 27 and 15:00 on days 1, 4, ..., 25
    ],
)
def test_a_cooldown_binds_exactly_at_its_edge(monkeypatch, hours, per_member):
    campaigns = {"morning": daily_campaign("email", 9), "afternoon": daily_campaign("email", 15)}
    sc = scenario(
        {
            "cooled": {"cooldown_hours": {"email": hours}, "campaigns": campaigns},
            "free": {"campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    cooled, free = ctx.strategies.index("cooled"), ctx.strategies.index("free")
    on_email = reachable(ctx, cooled, EMAIL)
    d = log.table(cooled)
    counts = d.per_member(ctx.state.members.size)
    assert counts[on_email].tolist() == [per_member] * int(on_email.sum())
    assert shortest_gap(d.member, d.t) >= hours / 24 - SLACK
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    assert tally["skipped_cooldown"][cooled] == (56 - per_member) * on_email.sum()
    assert sends[cooled].sum() + tally["skipped_cooldown"][cooled] == sends[free].sum()
    assert tally["skipped_capped"][cooled] == 0


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["hold", "drop"])
def test_quiet_hours_hold_until_they_end_or_drop(monkeypatch, action):
    campaigns = {
        "late": daily_campaign("sms", 22),  # inside 21-8, held to 08:00 the next day
        "start": daily_campaign("push", 12),  # inside 12-14 (the start is inside): held to 14:00
        "end": daily_campaign("push", 14, kind="promo"),  # 14:00 is outside (the end is not inside)
        "email": daily_campaign("email", 23),  # email has no quiet hours
    }
    quiet = {"channels": ["sms"], "start": 21, "end": 8, "action": action}
    sc = scenario(
        {
            "night": {"quiet_hours": quiet, "campaigns": campaigns},
            "midday": {
                "quiet_hours": {**quiet, "channels": ["push"], "start": 12, "end": 14},
                "campaigns": campaigns,
            },
        }
    )
    ctx, log = run(sc, monkeypatch)
    night, midday = ctx.strategies.index("night"), ctx.strategies.index("midday")
    n = ctx.state.members.size
    on_sms, on_push = reachable(ctx, night, SMS).sum(), reachable(ctx, night, PUSH).sum()
    tally = ctx.tally.total
    hold = action == "hold"
    key, other = ("held_quiet_hours", "skipped_quiet_hours")[:: 1 if hold else -1]

    d = log.table(night)
    late = d.where(d.name == "late")
    # Held every night; released each morning but the last, which falls after the horizon.
    assert tally[key][night] == 28 * on_sms and tally[other][night] == 0
    assert late.member.size == (27 * on_sms if hold else 0)
    if hold:
        assert (minute_of_day(late.t) == 8 * 60).all() and late.released.all()
        assert late.per_member(n).max() == 27
    for name in ("start", "end", "email"):  # untouched by the night's quiet hours
        assert not d.where(d.name == name).released.any()
        assert d.where(d.name == name).member.size > 0

    d = log.table(midday)
    start, end = d.where(d.name == "start"), d.where(d.name == "end")
    # Released at 14:00 the same day, so none is lost to the horizon.
    assert tally[key][midday] == 28 * on_push and tally[other][midday] == 0
    assert start.member.size == (28 * on_push if hold else 0)
    assert (minute_of_day(start.t) == 14 * 60).all()
    assert end.member.size == 28 * on_push and not end.released.any()
    assert d.where(d.name == "late").member.size == 28 * on_sms


def test_held_messages_meet_the_other_rules_when_released(monkeypatch):
    # The 13:00 sms is held to 14:00, three hours after the 11:00 sms: inside a 4-hour
    # cooldown, and over a cap of one sms a day. Released messages obey both.
    campaigns = {
        "before": daily_campaign("sms", 11),
        "noon": daily_campaign("sms", 13, kind="promo"),
    }
    quiet = {"start": 12, "end": 14, "channels": ["sms"], "action": "hold"}
    sc = scenario(
        {
            "cooled": {"quiet_hours": quiet, "cooldown_hours": {"sms": 4}, "campaigns": campaigns},
            "capped": {"quiet_hours": quiet, "caps": {"sms": "1 per day"}, "campaigns": campaigns},
            "free": {"quiet_hours": quiet, "campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    n = ctx.state.members.size
    for name, skipped in (("cooled", "skipped_cooldown"), ("capped", "skipped_capped")):
        s = ctx.strategies.index(name)
        on_sms = reachable(ctx, s, SMS)
        d = log.table(s)
        assert recipients(d, "noon", n).sum() == 0, name
        assert recipients(d, "before", n)[on_sms].tolist() == [28] * int(on_sms.sum())
        assert ctx.tally.total["held_quiet_hours"][s] == 28 * on_sms.sum()
        assert ctx.tally.total[skipped][s] == 28 * on_sms.sum(), name
    # Without those rules every held message goes out at 14:00.
    s = ctx.strategies.index("free")
    noon = log.table(s).where(log.table(s).name == "noon")
    assert noon.member.size == 28 * reachable(ctx, s, SMS).sum() > 0
    assert (minute_of_day(noon.t) == 14 * 60).all() and noon.released.all()
