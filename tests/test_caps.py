"""Caps over rolling and calendar windows: the cap counters against a brute-force count of
every message they recorded, and caps in the engine binding exactly, every skipped message
accounted for against a twin strategy without rules (see contact_record.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from builders import contact_rules_scenario as scenario
from builders import daily_campaign
from contact_record import EMAIL, MINUTES_PER_DAY, SLACK, SMS, parse_cap, reachable, run
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.spec.strategy import Cap
from sim.strategies.calendar import Calendar
from sim.strategies.caps import CalendarCap, RollingCap, make_cap

# --- the cap counters against a brute-force count ---------------------------------------------

N_MEMBERS = 6
# Minutes to the next operation: often whole quarters of a day, so that times land exactly on
# window edges, sometimes any minute.
STEPS = st.one_of(st.integers(0, 12).map(lambda k: 360 * k), st.integers(0, 3 * MINUTES_PER_DAY))
OPERATIONS = st.lists(
    st.tuples(
        STEPS,
        st.lists(st.integers(0, N_MEMBERS - 1), unique=True),  # members to record
        st.lists(st.integers(0, 3), min_size=N_MEMBERS, max_size=N_MEMBERS),  # pending
        st.lists(st.integers(0, 5), min_size=N_MEMBERS, max_size=N_MEMBERS),  # personal limits
    ),
    min_size=1,
    max_size=40,
)
# Rolling windows of whole minutes (so that the brute count is exact in integers).
CAPS = st.one_of(
    st.builds(
        "{} per {}d".format, st.integers(1, 4), st.sampled_from(["0.25", "1", "2.5", "3", "7"])
    ),
    st.builds("{} per {}".format, st.integers(1, 4), st.sampled_from(["day", "week", "month"])),
)
# Day 0 on Mondays around the turn of a year, before a leap day and in 2100 (no leap day).
STARTS = st.sampled_from(
    [date(2024, 1, 1), date(2023, 12, 25), date(2024, 2, 26), date(2100, 2, 22)]
)


def _month(start: date, minute: int) -> tuple[int, int]:
    when = start + timedelta(days=minute // MINUTES_PER_DAY)
    return when.year, when.month


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    text=CAPS,
    # Far into a long horizon as well as from day 0, and not only from a Monday.
    start_minute=st.sampled_from([0, 1, 5 * MINUTES_PER_DAY + 17, 3000 * MINUTES_PER_DAY]),
    operations=OPERATIONS,
    start=STARTS,
)
@example(
    text="2 per 7d",
    start_minute=0,
    operations=[(0, [0], [0] * 6, [2] * 6), (10080, [0], [0] * 6, [1] * 6)],
    start=date(2024, 1, 1),
)
def test_cap_counters_match_a_brute_force_count(text, start_minute, operations, start):
    cap_spec = Cap.model_validate(text)
    cap = make_cap(cap_spec, N_MEMBERS, Calendar(start))
    most, days, length = parse_cap(text)
    assert isinstance(cap, RollingCap if days is not None else CalendarCap)
    recorded: list[list[int]] = [[] for _ in range(N_MEMBERS)]  # minutes of each message
    idx = np.arange(N_MEMBERS)
    minute = start_minute
    for step, who, pending, limits in operations:
        minute += step
        t = minute / MINUTES_PER_DAY
        if days is not None:  # in the window (t - days, t]
            window_start = minute - round(days * MINUTES_PER_DAY)
            brute = np.array([sum(m > window_start for m in ms) for ms in recorded])
            end = t + days
        elif length is None:  # in the calendar month of t, counted on real dates
            month = _month(start, minute)
            brute = np.array([sum(_month(start, m) == month for m in ms) for ms in recorded])
            year, number = divmod(month[0] * 12 + month[1], 12)  # the month after
            end = (date(year, number + 1, 1) - start).days
        else:  # in the calendar period of t
            period = minute // round(length * MINUTES_PER_DAY)
            brute = np.array(
                [sum(m // round(length * MINUTES_PER_DAY) == period for m in ms) for ms in recorded]
            )
            end = (period + 1) * length
        extra = np.array(pending)
        where = f"{text} at minute {minute}"
        assert cap.count_within(t).tolist() == brute.tolist(), where
        assert cap.count(idx, t).tolist() == brute.tolist(), where
        assert cap.allows(idx, t).tolist() == (brute < most).tolist(), where
        assert cap.allows(idx, t, extra).tolist() == (brute + extra < most).tolist(), where
        # A subset of members in any order: the answers follow the members asked about.
        subset = idx[::-2]
        assert (
            cap.allows(subset, t, extra[subset]).tolist()
            == (brute[subset] + extra[subset] < most).tolist()
        ), where
        # Personal limits (an adaptive policy's) apply where under the cap's maximum.
        limit = np.array(limits, dtype=np.int16)
        under = np.minimum(limit, most)
        assert cap.allows(idx, t, None, limit).tolist() == (brute < under).tolist(), where
        assert cap.allows(idx, t, extra, limit).tolist() == (brute + extra < under).tolist()
        assert cap.window_end(t) == pytest.approx(end, abs=SLACK), where
        # As in the engine, only members the cap allows are recorded.
        admitted = np.array(sorted(m for m in who if brute[m] < most), dtype=np.int64)
        cap.record(admitted, t)
        for m in admitted:
            recorded[m].append(minute)


def test_rolling_cap_resolves_minutes_late_in_a_long_horizon():
    # horizon_days may be up to 36500: times must be kept to the minute over the whole
    # horizon (float32 spacing exceeds a minute beyond day 8192), so that a message one
    # minute inside the window is refused and one exactly at its end let through.
    member = np.array([0])
    wrong = []
    for day in (100, 3650, 9000, 20000, 36000):
        for minute in range(0, MINUTES_PER_DAY, 7):
            cap = RollingCap(Cap.model_validate("1 per 7d"), 1)
            sent = day + minute / MINUTES_PER_DAY
            cap.record(member, sent)
            inside = sent + 7 - 1 / MINUTES_PER_DAY  # one minute before the window ends
            if cap.allows(member, inside)[0] or not cap.allows(member, sent + 7)[0]:
                wrong.append((day, minute))
    assert not wrong, f"{len(wrong)} wrong answers, first {wrong[:3]} (day, minute)"


# --- caps and cooldowns bind, and every skipped message is accounted for ------------------------


@pytest.mark.parametrize(
    ("cap", "per_member"),
    [
        ("2 per week", 2 * 4),  # Monday and Tuesday of each of 4 weeks
        ("1 per day", 28),
        ("3 per 7d", 3 * 4),  # days 0-2, 7-9, 14-16, 21-23
        ("1 per 3d", 10),  # days 0, 3, ..., 27: a message exactly 3 days back has left
        ("2 per 2.5d", 19),  # two days in every three: each third day has two within 2.5
    ],
)
def test_a_channel_cap_binds_exactly_and_skipped_messages_add_up(monkeypatch, cap, per_member):
    campaigns = {"news": daily_campaign("email", 9), "sms": daily_campaign("sms", 12)}
    sc = scenario(
        {
            "capped": {"caps": {"email": cap}, "campaigns": campaigns},
            "free": {"campaigns": campaigns},
        }
    )
    ctx, log = run(sc, monkeypatch)
    capped, free = ctx.strategies.index("capped"), ctx.strategies.index("free")
    n = ctx.state.members.size
    on_email = reachable(ctx, capped, EMAIL)
    emails = log.table(capped).where(log.table(capped).ch == EMAIL)
    # Every member reachable by email got exactly the cap's share of the 28 daily emails.
    assert on_email.sum() > 300
    assert emails.per_member(n)[on_email].tolist() == [per_member] * int(on_email.sum())
    assert emails.per_member(n)[~on_email].sum() == 0
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    assert sends[free, EMAIL] == 28 * on_email.sum()
    assert tally["skipped_capped"][capped] == (28 - per_member) * on_email.sum()
    assert sends[capped, EMAIL] + tally["skipped_capped"][capped] == sends[free, EMAIL]
    # A cap on email leaves the other channels alone.
    assert sends[capped, SMS] == sends[free, SMS] > 0
    assert tally["skipped_cooldown"][capped] == 0


def test_caps_and_cooldowns_together_count_each_skip_once(monkeypatch):
    # Every member is offered 3 emails a day; each skipped one is counted by exactly one rule
    # (the cooldown first), so sends and skips add up to the twin's sends.
    campaigns = {
        "morning": daily_campaign("email", 8),
        "noon": daily_campaign("email", 12, kind="promo"),
        "evening": daily_campaign("email", 20, kind="promo"),
        "sms": {"channel": "sms", "every_days": 0.5, "hour": 10, "kind": "promo"},
    }
    rules = {
        "caps": {"all": "5 per week", "promo": "3 per 7d", "sms": "1 per day"},
        "cooldown_hours": {"email": 8, "sms": 6},
    }
    sc = scenario({"ruled": {**rules, "campaigns": campaigns}, "free": {"campaigns": campaigns}})
    ctx, _ = run(sc, monkeypatch)
    ruled, free = ctx.strategies.index("ruled"), ctx.strategies.index("free")
    sends, tally = ctx.tally.channel["sends"], ctx.tally.total
    capped, cooled = tally["skipped_capped"][ruled], tally["skipped_cooldown"][ruled]
    assert capped > 0 and cooled > 0
    assert sends[ruled].sum() + capped + cooled == sends[free].sum()
    assert sends[ruled].sum() < 0.4 * sends[free].sum()
