"""When a campaign sends: every N days at an hour, or on named weekdays at an hour."""

from __future__ import annotations

from collections.abc import Iterator

from sim.spec.fields import WEEKDAYS
from sim.spec.strategy import Campaign

# Day 0 of every scenario is a Monday, so weekdays are comparable across scenarios.
FIRST_WEEKDAY = "mon"


def send_times(campaign: Campaign, horizon_days: int) -> Iterator[float]:
    """Send times in days since the start (hour as a day fraction), ascending, < horizon."""
    hour = campaign.hour / 24.0
    if campaign.every_days is not None:
        k = 0
        while (t := campaign.start_day + k * campaign.every_days + hour) < horizon_days:
            yield t
            k += 1
        return
    offset = WEEKDAYS.index(FIRST_WEEKDAY)
    wanted = {WEEKDAYS.index(d) for d in campaign.weekdays or ()}
    first = int(campaign.start_day) + (1 if campaign.start_day % 1 else 0)
    for day in range(first, horizon_days):
        if (day + offset) % 7 in wanted:
            yield day + hour
