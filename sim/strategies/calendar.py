"""The calendar behind the day numbers: day 0 is the scenario's ``start_date`` (a Monday), so a
day number is a date, and days of the month, weekdays of the month and calendar months follow
the real calendar (month lengths, leap years).

Recurrence follows RFC 5545 (iCalendar) through dateutil's ``rrule``: a day of the month a
month does not have (the 31st of April) is skipped, a negative day counts from the month's end
(-1 its last day), and "first thu" / "last fri" are BYDAY=1TH / -1FR.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil import rrule

from sim.spec.fields import WEEKDAYS
from sim.spec.strategy import ORDINALS, Campaign

_RRULE_DAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)


@dataclass(frozen=True)
class Calendar:
    """Dates of day numbers counted from ``start`` (day 0)."""

    start: date

    def date(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def month(self, t: float) -> int:
        """Calendar months from the start's month to the one holding time t (days)."""
        d = self.date(math.floor(t))
        return (d.year - self.start.year) * 12 + d.month - self.start.month

    def month_start(self, k: int) -> int:
        """Day number of the first day of month k (``month``'s count; day <= 0 for k = 0)."""
        year, month = divmod(self.start.month - 1 + k, 12)
        return (date(self.start.year + year, month + 1, 1) - self.start).days

    def monthly_days(self, campaign: Campaign, first: int, horizon_days: int) -> Iterator[int]:
        """Day numbers in [first, horizon_days) on which a campaign with ``month_days`` or
        ``month_weekdays`` sends, ascending."""
        if first >= horizon_days:
            return
        if campaign.month_days is not None:
            rule = {"bymonthday": campaign.month_days}
        else:
            days = []
            for text in campaign.month_weekdays or ():
                ordinal, weekday = text.split()
                days.append(_RRULE_DAYS[WEEKDAYS.index(weekday)](ORDINALS[ordinal]))
            rule = {"byweekday": days}
        begin = datetime.combine(self.date(first), datetime.min.time())
        end = datetime.combine(self.date(horizon_days - 1), datetime.min.time())
        for when in rrule.rrule(rrule.MONTHLY, dtstart=begin, until=end, **rule):
            yield (when.date() - self.start).days
