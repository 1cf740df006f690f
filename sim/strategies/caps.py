"""Contact caps per member: at most ``max`` messages in a rolling window of ``days`` days, or
in each calendar day, week or month (day 0 is a Monday, so weeks run Monday to Sunday; months
are the calendar's, ``sim.strategies.calendar``).

A cap answers "how many has each member had in the window that contains t", and where that
window ends, so that the priority rule can count the messages still scheduled in it.
"""

from __future__ import annotations

import numpy as np

from sim.spec.strategy import Cap
from sim.strategies.calendar import Calendar

# Times closer than this (days, 0.1 s) are the same instant: a message exactly x days after
# another is outside that one's window of "m per x d", which day + hour / 24 in floating point
# can miss by a bit either way.
SAME_INSTANT = 1e-6


class _Window:
    """What both kinds of cap share: the rule count + pending < limit."""

    def __init__(self, cap: Cap, n_members: int) -> None:
        self.cap = cap
        self.max = cap.max
        self.n = n_members

    def count(self, idx: np.ndarray, t: float) -> np.ndarray:
        """Messages of members idx in the window that contains t."""
        raise NotImplementedError

    def allows(
        self,
        idx: np.ndarray,
        t: float,
        pending: np.ndarray | None = None,
        limit: np.ndarray | None = None,
    ) -> np.ndarray:
        """Mask over ``idx``: room for one more message at t, after ``pending`` more, under
        the cap or a lower personal ``limit`` per member."""
        cap = self.max if limit is None else np.minimum(limit, self.max)
        return self.count(idx, t) + (0 if pending is None else pending) < cap

    def count_within(self, t: float) -> np.ndarray:
        """Messages per member in the window that contains t (for the invariant tests)."""
        return self.count(np.arange(self.n), t)


class RollingCap(_Window):
    """A ring of the last ``max`` message times per member; the oldest sits at ``next``."""

    def __init__(self, cap: Cap, n_members: int) -> None:
        super().__init__(cap, n_members)
        self.days = float(cap.days or 0.0)
        # Slot-major and flat, so a member's oldest time is one element: slot * n + member.
        # Float64: float32 is coarser than a minute after day 8192.
        self.times = np.full(cap.max * n_members, -np.inf)
        self.next = np.zeros(n_members, dtype=np.int32)

    def _oldest(self, idx: np.ndarray) -> np.ndarray:
        return self.next.take(idx).astype(np.int64) * self.n + idx

    def allows(
        self,
        idx: np.ndarray,
        t: float,
        pending: np.ndarray | None = None,
        limit: np.ndarray | None = None,
    ) -> np.ndarray:
        if pending is None and limit is None:  # the oldest of the last max has left the window
            return self.times.take(self._oldest(idx)) <= t - self.days + SAME_INSTANT
        return super().allows(idx, t, pending, limit)

    def count(self, idx: np.ndarray, t: float) -> np.ndarray:
        """Messages of members idx within the window (t - days, t]."""
        start = t - self.days + SAME_INSTANT
        return (self.times.reshape(self.max, self.n)[:, idx] > start).sum(axis=0)

    def window_end(self, t: float) -> float:
        """A message at t shares a window with every message before t + days."""
        return t + self.days

    def record(self, idx: np.ndarray, t: float) -> None:
        """Record messages at t to members idx (unique), replacing each one's oldest."""
        self.times[self._oldest(idx)] = t
        self.next[idx] = (self.next.take(idx) + 1) % self.max


class CalendarCap(_Window):
    """A count per member in the current calendar period, reset lazily when it changes."""

    def __init__(self, cap: Cap, n_members: int, calendar: Calendar) -> None:
        super().__init__(cap, n_members)
        self.calendar = calendar if cap.per == "month" else None
        self.length = 1 if cap.per == "day" else 7  # days, for days and weeks
        self.counts = np.zeros(n_members, dtype=np.int16)
        self.period = np.full(n_members, -1, dtype=np.int32)  # period of each count

    def _period(self, t: float) -> int:
        if self.calendar is not None:
            return self.calendar.month(t)
        return int(t // self.length)

    def count(self, idx: np.ndarray, t: float) -> np.ndarray:
        current = self.period.take(idx) == self._period(t)
        return np.where(current, self.counts.take(idx), 0)

    def window_end(self, t: float) -> float:
        following = self._period(t) + 1
        if self.calendar is not None:
            return float(self.calendar.month_start(following))
        return float(following * self.length)

    def record(self, idx: np.ndarray, t: float) -> None:
        self.counts[idx] = self.count(idx, t) + 1
        self.period[idx] = self._period(t)


def make_cap(cap: Cap, n_members: int, calendar: Calendar) -> RollingCap | CalendarCap:
    if cap.days is not None:
        return RollingCap(cap, n_members)
    return CalendarCap(cap, n_members, calendar)
