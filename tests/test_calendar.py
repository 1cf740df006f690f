"""Calendar scheduling: days and weekdays of the month, caps per calendar month, day 0's date.

The send days are checked against Python's own calendar (``calendar.monthrange`` and
``datetime``), not the recurrence library the scheduler uses; month ends, leap days and a
century year without one are in every check. Both engines run the same calendar scenario
and must send exactly the count the calendar allows.
"""

from __future__ import annotations

import calendar as pycalendar
from datetime import date, timedelta

import pytest
from builders import ONE_SEGMENT, STAY, invoke, scenario_data, write
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.agent import run_replication_agent
from sim.engine.replication import run_replication
from sim.errors import SimInputError
from sim.io.loader import load_scenario, scenario_from_dict
from sim.spec.fields import WEEKDAYS as WEEKDAY_NAMES
from sim.spec.strategy import Campaign, Cap
from sim.strategies.calendar import Calendar
from sim.strategies.caps import CalendarCap
from sim.strategies.schedule import send_times

# Mondays: in a leap year's January and just before its leap day, in a common year, and in
# 2100 (divisible by 4, no leap day).
MONDAYS = [date(2024, 1, 1), date(2024, 2, 26), date(2023, 1, 30), date(2100, 2, 22)]
ORDINAL = {"first": 1, "2nd": 2, "third": 3, "4th": 4, "last": -1}


def _dates(campaign: dict, start: date, horizon: int) -> list[date]:
    times = send_times(Campaign.model_validate(campaign), horizon, Calendar(start))
    return [start + timedelta(days=int(t)) for t in times]


def _days_in_range(start: date, horizon: int) -> list[date]:
    return [start + timedelta(days=k) for k in range(horizon)]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    start=st.sampled_from(MONDAYS),
    days=st.lists(st.integers(-31, 31).filter(bool), min_size=1, max_size=4, unique=True),
    horizon=st.integers(1, 800),
)
def test_month_days_fall_on_those_days_and_skip_months_without_them(start, days, horizon):
    expected = []
    for day in _days_in_range(start, horizon):
        length = pycalendar.monthrange(day.year, day.month)[1]
        wanted = {d if d > 0 else length + 1 + d for d in days if abs(d) <= length}
        if day.day in wanted:
            expected.append(day)
    campaign = {"channel": "email", "month_days": days, "hour": 9}
    assert _dates(campaign, start, horizon) == expected


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    start=st.sampled_from(MONDAYS),
    rules=st.lists(
        st.tuples(st.sampled_from(list(ORDINAL)), st.sampled_from(WEEKDAY_NAMES)),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    horizon=st.integers(1, 800),
)
def test_month_weekdays_are_the_nth_or_last_of_their_month(start, rules, horizon):
    expected = []
    for day in _days_in_range(start, horizon):
        length = pycalendar.monthrange(day.year, day.month)[1]
        nth = (day.day - 1) // 7 + 1  # this weekday's count in the month so far
        last = day.day + 7 > length
        for ordinal, weekday in rules:
            n = ORDINAL[ordinal]
            if WEEKDAY_NAMES[day.weekday()] == weekday and (n == nth or (n == -1 and last)):
                expected.append(day)
                break
    campaign = {"channel": "sms", "month_weekdays": [f"{o} {w}" for o, w in rules], "hour": 18}
    assert _dates(campaign, start, horizon) == expected


def test_month_ends_and_leap_days_by_name():
    last = {"channel": "email", "month_days": [-1], "hour": 9}
    assert _dates(last, date(2024, 1, 1), 90) == [date(2024, 1, 31), date(2024, 2, 29)]
    assert _dates(last, date(2023, 1, 30), 60) == [date(2023, 1, 31), date(2023, 2, 28)]
    assert _dates(last, date(2100, 2, 22), 14) == [date(2100, 2, 28)]  # 2100 is no leap year
    thirty_first = {"channel": "email", "month_days": [31], "hour": 9}
    sent = _dates(thirty_first, date(2024, 1, 1), 366)
    assert [d.month for d in sent] == [1, 3, 5, 7, 8, 10, 12]
    leap_day = {"channel": "email", "month_days": [29], "hour": 9}
    assert date(2024, 2, 29) in _dates(leap_day, date(2024, 1, 1), 366)
    assert all(d.month != 2 for d in _dates(leap_day, date(2023, 1, 30), 365))
    first_thursday = {"channel": "push", "month_weekdays": ["first thu"], "hour": 12}
    assert _dates(first_thursday, date(2024, 1, 1), 70) == [
        date(2024, 1, 4),
        date(2024, 2, 1),
        date(2024, 3, 7),
    ]


def test_start_day_and_hour_apply_to_monthly_cadences():
    campaign = {"channel": "email", "month_days": [1, 15], "hour": 9.5, "start_day": 14.5}
    times = list(send_times(Campaign.model_validate(campaign), 60, Calendar(date(2024, 1, 1))))
    # 2024-01-15 is day 14, which starts part-way (14.5): skipped; then 1 Feb, 15 Feb.
    assert times == pytest.approx([31 + 9.5 / 24, 45 + 9.5 / 24])


def _month_cap_scenario(start: date, horizon: int) -> dict:
    strategies = {
        "daily": {"campaigns": {"news": {"channel": "email", "every_days": 1, "hour": 9}}},
        "capped": {
            "campaigns": {"news": {"channel": "email", "every_days": 1, "hour": 9}},
            "caps": {"email": "5 per month"},
        },
        "month_ends": {
            "campaigns": {"news": {"channel": "email", "month_days": [-1, 29], "hour": 9}}
        },
    }
    return scenario_data(
        strategies,
        name="calendar",
        segments=ONE_SEGMENT,
        size=40,
        horizon=horizon,
        seed=5,
        start_date=start.isoformat(),
        **STAY,
    )


@pytest.mark.parametrize(
    ("start", "capped_days", "month_end_days"),
    [
        # 29-31 Jan (3 days), all of leap February (5 of 29), 1-3 Mar (3): 11 sends each;
        # 29 Jan (the 29th), 31 Jan (the last), 29 Feb (both: one send).
        (date(2024, 1, 29), 3 + 5 + 3, 3),
        # 30-31 Jan (2), February of a common year (5 of 28), 1-5 Mar (5): 12;
        # 31 Jan, 28 Feb (no 29th in February).
        (date(2023, 1, 30), 2 + 5 + 5, 2),
    ],
)
@pytest.mark.parametrize("engine", [run_replication, run_replication_agent])
def test_both_engines_send_what_the_calendar_allows(engine, start, capped_days, month_end_days):
    sc = scenario_from_dict(_month_cap_scenario(start, 35))
    summary = engine(sc, 0, sc.seed).summary.set_index("strategy")["sends_email"]
    reachable = summary["daily"] / 35  # every opted-in member gets the daily email
    assert reachable > 0 and reachable == int(reachable)
    assert summary["capped"] == reachable * capped_days
    assert summary["month_ends"] == reachable * month_end_days


def test_a_month_cap_reads_and_ends_on_the_first_of_the_next_month():
    cap = Cap.model_validate("6 per month")
    assert (cap.max, cap.per, cap.days) == (6, "month", None)
    bound = CalendarCap(cap, 3, Calendar(date(2024, 1, 29)))
    assert bound.window_end(0.5) == 3.0  # 29 Jan -> 1 Feb
    assert bound.window_end(3.0) == 32.0  # 1 Feb -> 1 Mar (29 days of leap February)


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"start_date": "2024-01-02"}, "start_date", "is a Tuesday"),
        ({"month_days": [0]}, "campaigns.news", "0 is no day of the month"),
        ({"month_days": [32]}, "month_days[0]", "less than or equal to 31"),
        ({"month_weekdays": ["fifth thu"]}, "month_weekdays", "must read like 'first thu'"),
        ({"month_weekdays": []}, "campaigns.news", "must name at least one day"),
        ({"month_days": [1], "weekdays": ["mon"]}, "campaigns.news", "exactly one cadence"),
        ({"caps": {"email": "3 per fortnight"}}, "caps.email", "'6 per month'"),
    ],
)
def test_bad_calendar_fields_are_named(tmp_path, change, path, message):
    data = _month_cap_scenario(date(2024, 1, 1), 35)
    campaign = data["strategies"]["month_ends"]["campaigns"]["news"]
    if "start_date" in change:
        data.update(change)
    elif "caps" in change:
        data["strategies"]["month_ends"].update(change)
    else:
        campaign.pop("month_days")
        campaign.update(change)
    with pytest.raises(SimInputError) as raised:
        load_scenario(write(tmp_path, data))
    text = str(raised.value)
    assert "small.yaml" in text and path in text and message in text, text


def test_the_report_says_calendar_cadences_and_caps_in_words():
    from sim.report.html import _cadence, _rules

    scenario = scenario_from_dict(_month_cap_scenario(date(2024, 1, 1), 35))
    dumped = scenario.model_dump(mode="json")["strategies"]
    news = dumped["month_ends"]["campaigns"]["news"]
    assert _cadence(news) == "day last, 29 of each month at 09:00"
    assert _cadence({**news, "month_days": None, "month_weekdays": ["first thu"]}) == (
        "first thu of each month at 09:00"
    )
    assert _rules(dumped["capped"]) == ["at most 5 email per month"]
    weekly = {"caps": {"sms": {"max": 2, "days": None, "per": "week"}}}
    assert _rules(weekly) == ["at most 2 sms per week"]


@pytest.mark.parametrize("via", ["start_date", "--events-start"])
def test_the_event_log_dates_monthly_sends_on_their_days(tmp_path, via):
    import pandas as pd

    data = _month_cap_scenario(date(2024, 1, 1), 70)
    args = ["--events-start", "2025-01-27"] if via == "--events-start" else []
    if via == "start_date":
        data["start_date"] = "2025-01-27"
    events = tmp_path / "events"
    result = invoke("run", write(tmp_path, data), "--quiet", "--replications", "1",
                    "--out", tmp_path / "out", "--events", events, *args)  # fmt: skip
    assert result.exit_code == 0, result.output
    members = pd.read_parquet(events / "month_ends" / "0" / "members.parquet")
    assert (members["joined"] == date(2025, 1, 27)).all()
    sends = pd.read_parquet(events / "month_ends" / "0" / "sends.parquet")
    # 27 Jan 2025 + 70 days: the 29th and last of January, 28 February (no 29th), 29 and 31
    # March; every member opted into email gets each.
    assert sorted(sends["time"].dt.strftime("%Y-%m-%d %H:%M").unique()) == [
        "2025-01-29 09:00", "2025-01-31 09:00", "2025-02-28 09:00",
        "2025-03-29 09:00", "2025-03-31 09:00",
    ]  # fmt: skip
