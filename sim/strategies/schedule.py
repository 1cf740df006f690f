"""When a campaign sends: every N days, on named weekdays, on days of the month or on weekdays
of the month (``sim.strategies.calendar``), at an hour."""

from __future__ import annotations

import math
from collections.abc import Iterator

from sim.spec.fields import WEEKDAYS
from sim.spec.strategy import Campaign
from sim.strategies.calendar import Calendar

# Day 0 of every scenario is a Monday, so weekdays are comparable across scenarios.
FIRST_WEEKDAY = "mon"


def send_times(campaign: Campaign, horizon_days: int, calendar: Calendar) -> Iterator[float]:
    """Send times in days since the start (hour as a day fraction), ascending, < horizon."""
    hour = campaign.hour / 24.0
    if campaign.every_days is not None:
        k = 0
        while (t := campaign.start_day + k * campaign.every_days + hour) < horizon_days:
            yield t
            k += 1
        return
    first = math.ceil(campaign.start_day)  # a day's sends are skipped if it starts part-way
    if campaign.weekdays is None:
        for day in calendar.monthly_days(campaign, first, horizon_days):
            yield day + hour
        return
    offset = WEEKDAYS.index(FIRST_WEEKDAY)
    wanted = {WEEKDAYS.index(d) for d in campaign.weekdays}
    for day in range(first, horizon_days):
        if (day + offset) % 7 in wanted:
            yield day + hour
