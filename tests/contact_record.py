"""A record of every delivery and every offer of a run, and checks of the contact rules
derived from that record alone (windows, gaps, hours of the day), for the contact-rule tests.

Every delivery is recorded where dispatch hands it to delivery, and every offer where dispatch
makes it (after audience, control group and reachability, before quiet hours and the rules).
The scenarios come from ``builders.contact_rules_scenario``: nobody exits or leaves, so that a
strategy and its twin without rules are offered every send to the same members.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from builders import run_one, wrap

import sim.engine.dispatch as dispatch
import sim.engine.replication as replication
from sim.spec.fields import CHANNELS

EMAIL, SMS, PUSH = (CHANNELS.index(c) for c in ("email", "sms", "push"))
EXEMPT_KINDS = ("transactional", "service")
MINUTES_PER_DAY = 1440
# Sends fall on whole minutes; this is far below a minute and far above float rounding.
SLACK = 1e-6


def is_exempt(kind: str, exempt: bool | None) -> bool:
    return kind in EXEMPT_KINDS if exempt is None else exempt


def minute_of_day(t: np.ndarray | float) -> np.ndarray:
    return np.round((np.asarray(t) % 1.0) * MINUTES_PER_DAY).astype(np.int64) % MINUTES_PER_DAY


def in_quiet(minutes: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mask: minutes of the day within quiet hours [start, end) (wrapping midnight)."""
    lo, hi = round(start * 60), round(end * 60)
    if lo > hi:
        return (minutes >= lo) | (minutes < hi)
    return (minutes >= lo) & (minutes < hi)


def release_minute(t: float, start: float, end: float) -> int:
    """The minute since day 0 at which quiet hours containing t end."""
    day = math.floor(t + SLACK)
    if start > end and minute_of_day(t) >= round(start * 60):
        day += 1
    return day * MINUTES_PER_DAY + round(end * 60)


def run(sc: Any, monkeypatch: Any) -> tuple[Any, Deliveries]:
    with monkeypatch.context() as patch:
        log = Deliveries(patch)
        ctx = run_one(sc)
    return ctx, log


# --- a record of every delivery ----------------------------------------------------------------


@dataclass
class Table:
    """Deliveries of one strategy, one row per member and message."""

    member: np.ndarray
    ch: np.ndarray
    t: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    exempt: np.ndarray
    released: np.ndarray  # sent when quiet hours ended, not at the campaign's own time

    def where(self, mask: np.ndarray) -> Table:
        return Table(**{k: v[mask] for k, v in vars(self).items()})

    def per_member(self, n: int) -> np.ndarray:
        return np.bincount(self.member, minlength=n)


class Deliveries:
    """Records what dispatch offers each channel step (``_send``: after audience, control
    group and reachability, before quiet hours and the rules) and what it delivers (``send``),
    and whether the step is a release at the end of quiet hours."""

    def __init__(self, monkeypatch: Any) -> None:
        self.offers: list[tuple[int, str, Any, int, float, bool, np.ndarray]] = []
        self.rows: list[tuple[int, str, str, bool, int, float, bool, np.ndarray]] = []
        self._releasing = False
        wrap(monkeypatch, dispatch, "_send", before=self._offered)
        wrap(monkeypatch, dispatch, "send", before=self._delivered)
        wrap(monkeypatch, replication, "release", before=self._release, after=self._released)

    def _release(self, *args: Any) -> None:
        self._releasing = True

    def _released(self, *args: Any) -> None:
        self._releasing = False

    def _offered(self, ctx, s, name, message, ch, t, idx) -> None:
        self.offers.append((s, name, message, ch, t, self._releasing, idx.copy()))

    def _delivered(self, ctx, s, name, message, ch, t, idx) -> None:
        exempt = is_exempt(message.kind, message.exempt)
        row = (s, name, message.kind, exempt, ch, t, self._releasing, idx.copy())
        self.rows.append(row)

    def table(self, s: int) -> Table:
        rows = [r for r in self.rows if r[0] == s]
        sizes = [r[-1].size for r in rows]

        def column(i: int, dtype: Any) -> np.ndarray:
            return np.repeat(np.array([r[i] for r in rows], dtype=dtype), sizes)

        return Table(
            member=np.concatenate([r[-1] for r in rows]).astype(np.int64)
            if rows
            else np.zeros(0, dtype=np.int64),
            ch=column(4, np.int64),
            t=column(5, np.float64),
            name=column(1, object),
            kind=column(2, object),
            exempt=column(3, bool),
            released=column(6, bool),
        )


def recipients(d: Table, name: str, n: int) -> np.ndarray:
    """Deliveries of message ``name`` per member."""
    return d.where(d.name == name).per_member(n)


def reachable(ctx: Any, s: int, ch: int) -> np.ndarray:
    """Members reachable on channel ch at the horizon: in these scenarios nobody exits or
    leaves, so these are the members opted in to it, reachable all along."""
    n = ctx.state.members.size
    return ctx.state.reachable(s, ch, n)


# --- independent checks on a record ------------------------------------------------------------


def parse_cap(text: str) -> tuple[int, float | None, float | None]:
    """(max, rolling days, calendar period length in days) of a cap's text."""
    if m := re.fullmatch(r"(\d+) per (\d+(?:\.\d+)?)d", text):
        return int(m[1]), float(m[2]), None
    m = re.fullmatch(r"(\d+) per (day|week|month)", text)
    assert m, text
    return int(m[1]), None, {"day": 1.0, "week": 7.0, "month": None}[m[2]]


def most_in_rolling_window(member: np.ndarray, t: np.ndarray, days: float) -> int:
    """The most deliveries any member had within any window (t - days, t]."""
    if member.size == 0:
        return 0
    # One sorted key per delivery: members far apart, times in order within a member.
    key = np.sort(member * 1e5 + t)
    upto = np.searchsorted(key, key + SLACK, "right")
    after_start = np.searchsorted(key, key - days + SLACK, "right")
    return int((upto - after_start).max())


def most_in_calendar_period(member: np.ndarray, t: np.ndarray, length: float) -> int:
    """The most deliveries any member had within one calendar day or week."""
    if member.size == 0:
        return 0
    period = np.floor(t / length + SLACK).astype(np.int64)
    _, counts = np.unique(np.stack([member, period]), axis=1, return_counts=True)
    return int(counts.max())


def capped_groups(d: Table, scope: str, siloed: bool) -> list[Table]:
    """The deliveries that count against the cap on ``scope``, per plan that owns a copy."""
    counted = ~d.exempt
    if scope in CHANNELS:
        return [d.where(counted & (d.ch == CHANNELS.index(scope)))]
    if scope != "all":
        counted &= d.kind == scope
    if siloed:  # each channel team its own copy
        return [d.where(counted & (d.ch == c)) for c in range(len(CHANNELS))]
    return [d.where(counted)]


def most_under_cap(d: Table, scope: str, text: str, siloed: bool) -> int:
    _, days, length = parse_cap(text)
    most = 0
    for g in capped_groups(d, scope, siloed):
        if days is not None:
            most = max(most, most_in_rolling_window(g.member, g.t, days))
        else:
            assert length is not None
            most = max(most, most_in_calendar_period(g.member, g.t, length))
    return most


def shortest_gap(member: np.ndarray, t: np.ndarray) -> float:
    """The shortest time between two deliveries to one member (inf if none had two)."""
    order = np.lexsort((t, member))
    m, tt = member[order], t[order]
    same = m[1:] == m[:-1]
    gaps = np.diff(tt)[same]
    return float(gaps.min()) if gaps.size else math.inf
