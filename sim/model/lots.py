"""Lot-based points expiry: points earned in the same lot period expire together.

Lot k covers days [k * lot_days, (k + 1) * lot_days), counted from day 0, with
lot_days = year_days / lots_per_year. A lot expires ``lifetime`` lots after it ends, at day
(k + 1 + lifetime) * lot_days. The two policies are the same mechanism:

* ``months_after`` N: monthly lots (lots_per_year 12), lifetime N, so N months after the end of
  the month earned in;
* ``end_of_next_year``: yearly lots (lots_per_year 1), lifetime 1: a lot earned in year y
  expires at the end of year y + 1 (years are 365-day periods from day 0).

State: ``points`` (L, n) int64, a ring of L = lifetime + 1 slots; lot k lives in slot k % L,
and the lot expiring at the start of lot c is lot c - L, the one whose slot lot c reuses. A
member's balance is the sum over slots at all times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Policy = Literal["months_after", "end_of_next_year"]


@dataclass
class Lots:
    """Points of n members by lot. ``started`` (L,): the day each slot's lot started (NaN
    before first use); ``current``: the lot number of today's lot."""

    points: np.ndarray
    started: np.ndarray
    current: int
    lots_per_year: int
    lifetime: int
    year_days: float

    @property
    def lot_days(self) -> float:
        return self.year_days / self.lots_per_year

    def lot_of(self, day: float) -> int:
        """Lot number of a day."""
        # Multiply first: day * 12 / 365 is exact on lot boundaries, day / (365 / 12) is not.
        return math.floor(day * self.lots_per_year / self.year_days)

    def expiry_day(self, lot: int | np.ndarray) -> float | np.ndarray:
        """Day lot number ``lot`` expires: the start of lot lot + 1 + lifetime."""
        return (lot + 1 + self.lifetime) * self.year_days / self.lots_per_year

    def oldest_first(self) -> list[int]:
        """Slots from the oldest lot to the current one."""
        size = self.points.shape[0]
        return [(self.current + 1 + j) % size for j in range(size)]


def new_lots(
    n: int, policy: Policy = "months_after", months: int = 12, year_days: float = 365.0
) -> Lots:
    """Empty lots of n members at day 0; ``months`` is N of ``months_after``."""
    if policy == "months_after":
        if months < 0:
            raise ValueError("months must be non-negative")
        per_year, lifetime = 12, months
    else:
        per_year, lifetime = 1, 1
    started = np.full(lifetime + 1, np.nan)
    started[0] = 0.0
    points = np.zeros((lifetime + 1, n), dtype=np.int64)
    return Lots(points, started, 0, per_year, lifetime, year_days)


def balance(lots: Lots) -> np.ndarray:
    """Points per member: the sum over lots."""
    return lots.points.sum(axis=0)


def earn(lots: Lots, idx: np.ndarray, points: np.ndarray, day: float) -> None:
    """Add points to today's lot of members idx (unique). ``expire_due(lots, day)`` must have
    run first, so that no point lands in a lot that should already have been expired."""
    if lots.lot_of(day) != lots.current:
        raise ValueError(f"day {day} is not in the current lot; call expire_due first")
    lots.points[lots.current % lots.points.shape[0], idx] += points


def redeem(lots: Lots, idx: np.ndarray, points: np.ndarray) -> None:
    """Take points from members idx (unique), oldest lots first."""
    remaining = np.asarray(points, dtype=np.int64).copy()
    if np.any(remaining < 0) or np.any(lots.points[:, idx].sum(axis=0) < remaining):
        raise ValueError("cannot redeem more points than a member holds")
    for slot in lots.oldest_first():
        held = lots.points[slot, idx]
        take = np.minimum(held, remaining)
        lots.points[slot, idx] = held - take
        remaining -= take


def expire_due(lots: Lots, day: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance to the lot containing ``day``, forfeiting every lot that expires on the way
    (usually none, at a lot boundary one). Returns the members with points forfeited and
    their points; the caller takes them off its balances and books them as expired."""
    target = lots.lot_of(day)
    if target < lots.current:
        raise ValueError(f"day {day} is before the current lot")
    size = lots.points.shape[0]
    forfeited: np.ndarray | None = None
    # After L boundaries every slot has been expired once; later ones find them empty.
    for lot in range(max(lots.current + 1, target - size + 1), target + 1):
        slot = lot % size
        due = lots.points[slot]
        forfeited = due.copy() if forfeited is None else forfeited + due
        due[:] = 0
        lots.started[slot] = lot * lots.lot_days
    lots.current = target
    if forfeited is None:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
    idx = forfeited.nonzero()[0]
    return idx, forfeited[idx]


def forfeit(lots: Lots, idx: np.ndarray) -> np.ndarray:
    """Empty every lot of members idx (leaving the program, inactivity expiry); returns their
    points."""
    points = lots.points[:, idx].sum(axis=0)
    lots.points[:, idx] = 0
    return points


def next_expiry(lots: Lots) -> tuple[np.ndarray, np.ndarray]:
    """Each member's next expiry: (day float64, points int64) of the oldest non-empty lot;
    (inf, 0) for members without points. The day is the lot boundary; a daily step at whole
    days forfeits the points on day ceil(day)."""
    n = lots.points.shape[1]
    day = np.full(n, np.inf)
    points = np.zeros(n, dtype=np.int64)
    found = np.zeros(n, dtype=bool)
    size = lots.points.shape[0]
    for j, slot in enumerate(lots.oldest_first()):
        here = ~found & (lots.points[slot] > 0)
        day[here] = lots.expiry_day(lots.current - size + 1 + j)
        points[here] = lots.points[slot, here]
        found |= here
    return day, points
