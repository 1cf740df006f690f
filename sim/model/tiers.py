"""Tier qualification and status over a 12-month window, vectorised over members.

Tiers are levels 0..T: level 0 is the base tier (threshold 0), level j >= 1 needs a qualifying
amount (spend in currency, or points) of at least ``thresholds[j - 1]`` within the window.
Windows are ``window_days`` long (default 365), counted from day 0, and either

* rolling: 12 monthly buckets of ``window_days / 12`` days; the window is the current bucket
  plus the 11 before it, so an amount counts for 11 to 12 months, or
* calendar: one bucket per period [k * window_days, (k + 1) * window_days), reset at each
  period boundary.

Status: a qualification for level q at time t holds q until ``hold_end``: t + window_days for a
rolling window; for a calendar window, the end of the period after the one qualified in ("a
status stays valid for the next period too"). State is ``held`` (T, n) float64: held[j - 1] is
the day until which level j is held (exclusive; -inf if never). A qualification for q holds
every level up to q, so held is non-increasing down the tiers and the status is the number of
levels still held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["rolling", "calendar"]
MONTHS = 12


def qualified_level(amount: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Highest level whose threshold <= amount (int8); 0 below the first threshold.
    thresholds: 1-D increasing thresholds of levels 1..T, in the amount's unit."""
    return np.searchsorted(thresholds, amount, side="right").astype(np.int8)


@dataclass
class Window:
    """Qualifying amounts of n members in a ring of buckets.

    ``buckets`` (k, n): slot b % k holds bucket number b (k = 12 rolling, 1 calendar); float32
    by default to halve memory. ``total`` (n,) float64: the window sum, i.e. the sum over slots.
    ``bucket``: the current bucket number, counted from day 0.
    """

    buckets: np.ndarray
    total: np.ndarray
    bucket: int
    window_days: float

    @property
    def kind(self) -> Kind:
        return "calendar" if self.buckets.shape[0] == 1 else "rolling"


def new_window(
    n: int, kind: Kind = "rolling", window_days: float = 365.0, dtype: type = np.float32
) -> Window:
    """An empty window for n members at day 0."""
    k = MONTHS if kind == "rolling" else 1
    return Window(np.zeros((k, n), dtype=dtype), np.zeros(n), 0, window_days)


def bucket_of(day: float, n_buckets: int, window_days: float = 365.0) -> int:
    """Bucket number of a day: floor(day * n_buckets / window_days)."""
    # Multiplying first keeps integer days exact: day * 12 / 365 is an integer only when it
    # should be, whereas day / (365 / 12) can land just under one.
    return math.floor(day * n_buckets / window_days)


def add(window: Window, idx: np.ndarray, amount: np.ndarray) -> None:
    """Add qualifying amounts of members idx (unique) to the current bucket and the sum."""
    window.buckets[window.bucket % window.buckets.shape[0], idx] += amount
    window.total[idx] += amount


def roll(window: Window) -> None:
    """Start the next bucket: the bucket k older falls out of the window and its slot is zeroed
    (for a calendar window: the sum resets)."""
    window.bucket += 1
    window.buckets[window.bucket % window.buckets.shape[0]] = 0
    # Recomputed rather than subtracted, so float rounding cannot accumulate over the years.
    window.total[:] = window.buckets.sum(axis=0, dtype=np.float64)


def advance(window: Window, day: float) -> int:
    """Roll the window up to the bucket containing ``day``; call before adding the day's
    amounts. Returns the number of buckets started (0 on most days)."""
    k = window.buckets.shape[0]
    target = bucket_of(day, k, window.window_days)
    if target < window.bucket:
        raise ValueError(f"day {day} is before the window's current bucket")
    rolls = target - window.bucket
    # More than k rolls clear every slot; only the bucket number needs to catch up.
    for _ in range(min(rolls, k)):
        roll(window)
    window.bucket = target
    return rolls


def hold_end(now: float, kind: Kind, window_days: float = 365.0) -> float:
    """Day until which a qualification at ``now`` holds its level (exclusive)."""
    if kind == "rolling":
        return now + window_days
    return (bucket_of(now, 1, window_days) + 2) * window_days


def new_held(n: int, n_tiers: int) -> np.ndarray:
    """Status state for n members who hold no tier above the base: (T, n) of -inf."""
    return np.full((n_tiers, n), -np.inf)


def level_at(held: np.ndarray, now: float) -> np.ndarray:
    """Status at ``now`` (int8): the number of levels held beyond now."""
    return (held > now).sum(axis=0, dtype=np.int8)


def status_expiry(held: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Day the current level lapses unless renewed (inf for the base level). A lapse can
    leave a lower level still held, until its own later (or equal) expiry."""
    lv = np.asarray(level, dtype=np.intp)
    top = held[np.maximum(lv - 1, 0), np.arange(held.shape[1])]
    return np.where(lv > 0, top, np.inf)


def next_status(
    level: np.ndarray,
    held: np.ndarray,
    qualified: np.ndarray,
    now: float,
    hold_until: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Status after members qualify for ``qualified`` at ``now``; arrays over the same members.

    Specification:

    * A qualification for q > 0 holds every level 1..q until ``hold_until`` (see ``hold_end``),
      extending but never shortening an existing hold; q = 0 changes no hold.
    * The status is the highest level held beyond ``now``. Hence an upgrade is immediate
      (qualified > level), a level is never lost before its hold ends, and at the end of a
      hold the member falls to the highest level still held: the level qualified at that
      moment, or a lower one reached while the higher was held (so a calendar member who
      reached a lower tier last period keeps it when the window has just reset).

    Returns (new level int8, new held, upgraded mask, downgraded mask); inputs are unchanged.
    Pass the levels qualified by members whose qualifying amount just changed (a purchase)
    and 0 for the rest: renewing every day a member stays above a threshold would keep a
    rolling status for up to 24 months after the purchase that earned it.
    """
    tiers = np.arange(1, held.shape[0] + 1)[:, None]
    renew = tiers <= np.asarray(qualified)[None, :]
    new_held = np.where(renew, np.maximum(held, hold_until), held)
    new_level = level_at(new_held, now)
    return new_level, new_held, new_level > level, new_level < level
