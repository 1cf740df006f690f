"""The priority rule (Adobe Campaign pressure rules): a cap keeps room for a later, higher
message still scheduled within its window, and sends at the same minute go in priority order.
Checked from a record of every delivery (see contact_record.py)."""

from __future__ import annotations

from typing import Any

import pytest
from builders import contact_rules_scenario as scenario
from builders import daily_campaign, weekly_campaign
from contact_record import EMAIL, PUSH, SMS, reachable, recipients, run


@pytest.mark.parametrize("cap", ["1 per week", "1 per 7d"])
@pytest.mark.parametrize(("low", "high"), [(10, 90), (50, 50)])
def test_priority_keeps_the_slot_for_a_later_higher_message(monkeypatch, cap, low, high):
    campaigns = {
        "monday": weekly_campaign("email", "mon", priority=low),
        "thursday": weekly_campaign("email", "thu", priority=high),
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    monday, thursday = recipients(d, "monday", n), recipients(d, "thursday", n)
    weeks = 4
    winner, loser = (thursday, monday) if high > low else (monday, thursday)
    # With priorities the later, higher message reaches everyone reachable each week and the
    # earlier one nobody; with equal priorities the earlier one takes each week's slot.
    assert winner[on_email].tolist() == [weeks] * int(on_email.sum())
    assert loser.sum() == 0
    assert ctx.tally.total["skipped_capped"][s] == weeks * on_email.sum()


@pytest.mark.parametrize(("cap", "monday_sent"), [("2 per week", False), ("3 per week", True)])
def test_priority_counts_every_higher_message_still_scheduled(monkeypatch, cap, monday_sent):
    campaigns = {
        "monday": weekly_campaign("email", "mon", priority=10),
        "later": {"channel": "email", "weekdays": ["tue", "thu"], "hour": 9, "priority": 90},
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    # Tuesday's and Thursday's of each of 4 weeks; Monday's only if the cap has room for 3.
    assert recipients(d, "later", n).tolist() == (8 * on_email).tolist()
    assert recipients(d, "monday", n)[on_email].tolist() == [4 * monday_sent] * int(on_email.sum())


@pytest.mark.parametrize(
    ("cap", "low", "high", "expected"),
    [
        # The higher message exactly 7 days after the lower: its window (t - 7, t] does not
        # hold the lower one, so nothing is reserved and all four go out.
        (
            "1 per 7d",
            {"every_days": 14, "hour": 9},
            {"every_days": 14, "start_day": 7, "hour": 9},
            (2, 2),
        ),
        # The higher message at Monday 00:00 is in the next week: Sunday's lower one of the
        # first week goes out; in later weeks Monday's took the week's slot.
        (
            "1 per week",
            {"weekdays": ["sun"], "hour": 9},
            {"weekdays": ["mon"], "hour": 0, "start_day": 1},
            (1, 3),
        ),
    ],
)
def test_priority_reserves_nothing_beyond_the_window(monkeypatch, cap, low, high, expected):
    campaigns = {
        "low": {"channel": "email", **low, "priority": 10},
        "high": {"channel": "email", **high, "priority": 90},
    }
    sc = scenario({"pressure": {"caps": {"email": cap}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email = reachable(ctx, s, EMAIL)
    d = log.table(s)
    for name, count in zip(("low", "high"), expected, strict=True):
        assert recipients(d, name, n).tolist() == (count * on_email).tolist(), name


@pytest.mark.parametrize("organisation", ["orchestrated", "siloed"])
def test_priority_reserves_room_only_where_the_higher_message_counts(monkeypatch, organisation):
    # The higher message goes by sms. One plan keeps room for it only for members it reaches:
    # those not opted in to sms keep the earlier email. Siloed, the email team does not see
    # the sms team's campaigns and each team has its own cap: everyone gets both.
    campaigns = {
        "email": weekly_campaign("email", "mon", priority=10),
        "sms": weekly_campaign("sms", "thu", priority=90),
    }
    rules = {"organisation": organisation, "caps": {"all": "1 per week"}}
    sc = scenario({"pressure": {**rules, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_email, on_sms = reachable(ctx, s, EMAIL), reachable(ctx, s, SMS)
    d = log.table(s)
    email, sms = recipients(d, "email", n), recipients(d, "sms", n)
    assert (on_email & ~on_sms).sum() > 50 and (on_email & on_sms).sum() > 50
    gets_email = on_email & ~on_sms if organisation == "orchestrated" else on_email
    assert email.tolist() == (4 * gets_email).tolist()
    assert sms.tolist() == (4 * on_sms).tolist()


@pytest.mark.parametrize(("first", "second"), [(10, 90), (0, 0)])
def test_sends_at_the_same_minute_go_in_priority_order(monkeypatch, first, second):
    campaigns = {
        "declared_first": daily_campaign("push", 9, priority=first),
        "declared_second": daily_campaign("push", 9, priority=second),
    }
    sc = scenario({"pressure": {"caps": {"push": "1 per day"}, "campaigns": campaigns}})
    ctx, log = run(sc, monkeypatch)
    s, n = ctx.strategies.index("pressure"), ctx.state.members.size
    on_push = reachable(ctx, s, PUSH)
    d = log.table(s)
    winner = "declared_second" if second > first else "declared_first"
    loser = "declared_first" if winner == "declared_second" else "declared_second"
    assert recipients(d, winner, n)[on_push].tolist() == [28] * int(on_push.sum())
    assert recipients(d, loser, n).sum() == 0


def test_a_released_message_does_not_jump_a_higher_one_at_the_same_minute(monkeypatch):
    # A low-priority sms held by quiet hours is released at 08:00, the minute a priority-90
    # sms campaign sends, under a cap of one sms a day. The higher one is still scheduled
    # when the release is judged, whichever of the two the clock reaches first, so the 08:00
    # campaign wins every day, and an unrelated email campaign (which changes the order of
    # the clock's events) must not change who gets which sms.
    quiet = {"start": 21, "end": 8, "channels": ["sms"], "action": "hold"}
    morning: dict[Any, list[int]] = {}
    late: dict[Any, int] = {}
    for unrelated in (None, 23, 7.5):
        campaigns: dict[str, Any] = {
            "late": daily_campaign("sms", 22, priority=10),
            "morning": daily_campaign("sms", 8, priority=90),
        }
        if unrelated is not None:
            campaigns["unrelated"] = daily_campaign("email", unrelated)
        rules = {"caps": {"sms": "1 per day"}, "quiet_hours": quiet}
        sc = scenario({"pressure": {**rules, "campaigns": campaigns}})
        ctx, log = run(sc, monkeypatch)
        s, n = ctx.strategies.index("pressure"), ctx.state.members.size
        on_sms = reachable(ctx, s, SMS)
        d = log.table(s)
        morning[unrelated] = recipients(d, "morning", n)[on_sms].tolist()
        late[unrelated] = int(recipients(d, "late", n).sum())
    assert morning[23] == morning[7.5] == morning[None], "an email campaign moved sms sends"
    assert late[23] == late[7.5] == late[None]
    assert morning[None] == [28] * len(morning[None]) and late[None] == 0
