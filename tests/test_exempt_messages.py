"""Exempt messages (transactional and service, or declared exempt) ignore every contact rule
and the control group, and do not count against caps or start cooldowns. Checked from a
record of every delivery (see contact_record.py)."""

from __future__ import annotations

from builders import contact_rules_scenario as scenario
from builders import daily_campaign
from contact_record import EMAIL, PUSH, SMS, minute_of_day, reachable, run


def test_exempt_messages_ignore_every_rule_and_do_not_count(monkeypatch):
    rules = {
        "caps": {"all": "1 per week", "sms": "1 per week", "push": "1 per 7d"},
        "cooldown_hours": {"email": 24, "sms": 24, "push": 24},
        "quiet_hours": {"start": 21, "end": 8, "channels": ["sms", "push"], "action": "drop"},
    }
    marketing = {"sms": daily_campaign("sms", 12, kind="promo"), "push": daily_campaign("push", 13)}
    exempt = {
        # Inside quiet hours, within the cooldown of the marketing message and past every cap.
        "receipt": daily_campaign("sms", 23, kind="transactional"),
        "account": daily_campaign("push", 22.5, kind="service"),
        # Marketing kinds may be declared exempt; they go out however often they are sent.
        "alert": {"channel": "email", "every_days": 0.5, "hour": 6, "exempt": True},
    }
    sc = scenario(
        {
            "marketing": {**rules, "campaigns": marketing},
            "with_exempt": {**rules, "campaigns": {**marketing, **exempt}},
        },
        program={"control_group": 0.1},
    )
    ctx, log = run(sc, monkeypatch)
    plain, mixed = ctx.strategies.index("marketing"), ctx.strategies.index("with_exempt")
    n = ctx.state.members.size
    assert ctx.control is not None
    control = ctx.control[:n]
    d = log.table(mixed)
    for name, ch, per_member, minute in (
        ("receipt", SMS, 28, 23 * 60),
        ("account", PUSH, 28, 22 * 60 + 30),
        ("alert", EMAIL, 56, None),
    ):
        got = d.where(d.name == name)
        on = reachable(ctx, mixed, ch)
        # Everyone reachable, the control group included, got every one, on time.
        assert on.sum() > 100 and (on & control).any()
        assert got.per_member(n)[on].tolist() == [per_member] * int(on.sum()), name
        if minute is not None:
            assert (minute_of_day(got.t) == minute).all(), name
    # The marketing messages went out exactly as without the exempt ones: these neither
    # used up a cap nor started a cooldown; the control group got none of them.
    a = log.table(plain)
    b = d.where(~d.exempt)
    assert sorted(zip(a.member, a.ch, a.t, strict=True)) == sorted(
        zip(b.member, b.ch, b.t, strict=True)
    )
    assert not control[b.member].any()
    for k in ("skipped_capped", "skipped_cooldown", "skipped_quiet_hours", "skipped_suppressed"):
        assert ctx.tally.total[k][mixed] == ctx.tally.total[k][plain], k
    # ...and the marketing messages were capped, so the exempt ones did meet binding rules.
    assert ctx.tally.total["skipped_capped"][plain] > 0
