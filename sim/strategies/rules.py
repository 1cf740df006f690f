"""Contact rules of one strategy: caps, cooldowns and quiet hours (docs/strategies.md).

Rules hold back marketing messages only; exempt messages (transactional, service) neither
obey nor count towards them. A message a rule holds back is dropped, not rescheduled, and
counted by the first rule that stopped it, in the order cooldown, then caps. Quiet hours
are the exception that may hold: the message waits until the window ends.

Organisation: ``orchestrated`` counts every channel against the ``all`` and per-kind caps,
as one cross-channel plan does; ``siloed`` gives each channel team its own copy of them,
so each team stays within its caps while the member gets the sum of the teams' messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.spec.fields import CHANNELS
from sim.spec.strategy import Message, Strategy
from sim.strategies.calendar import Calendar
from sim.strategies.caps import SAME_INSTANT, CalendarCap, RollingCap, make_cap

# A cap's identity: its scope (a channel, "all" or a kind) and the channel team that owns it
# (None when one plan owns it).
CapKey = tuple[str, int | None]
# Messages still scheduled in a cap's window for members idx: (key, window end, idx) -> counts.
Scheduled = Callable[[CapKey, float, np.ndarray], np.ndarray | None]


def in_quiet_hours(start: float, end: float, t: float) -> bool:
    """Is time t (days) within quiet hours from ``start`` to ``end`` o'clock?"""
    hour = (t - math.floor(t)) * 24.0
    if start > end:  # the window wraps midnight
        return hour >= start - SAME_INSTANT or hour < end - SAME_INSTANT
    return start - SAME_INSTANT <= hour < end - SAME_INSTANT


def quiet_hours_end(start: float, end: float, t: float) -> float:
    """The time (days) the quiet hours that contain t end."""
    day = math.floor(t)
    hour = (t - day) * 24.0
    if start > end and hour >= start - SAME_INSTANT:
        day += 1
    return day + end / 24.0


class ContactRules:
    """Caps, cooldowns and quiet hours of one strategy, with per-member state."""

    def __init__(self, strategy: Strategy, n_members: int, calendar: Calendar) -> None:
        self.strategy = strategy
        self.n = n_members
        self.calendar = calendar
        self.siloed = strategy.organisation == "siloed"
        self.caps: dict[CapKey, RollingCap | CalendarCap] = {}
        self.cooldown = {CHANNELS.index(c): h / 24.0 for c, h in strategy.cooldown_hours.items()}
        # Personal limits under the ``all`` cap per member, owned by a policy (see
        # use_personal_caps): None while everyone has the cap's own.
        self.personal: np.ndarray | None = None
        # Last marketing message per channel and member (days), for cooldowns.
        self.last_sent = np.full((len(CHANNELS), n_members), -np.inf) if self.cooldown else None

    def use_personal_caps(self, limit: np.ndarray) -> None:
        """Apply ``limit`` (messages per member, indexed by member) under the ``all`` cap from
        now on. The array is shared, not copied: the policy that owns it moves members' caps
        in place and every later send reads them (sim.strategies.policy.PersonalCaps)."""
        self.personal = limit

    @property
    def active(self) -> bool:
        return bool(self.strategy.caps or self.cooldown)

    def keys(self, channel: int, kind: str) -> list[CapKey]:
        """Caps a message of ``kind`` on ``channel`` counts against."""
        team = channel if self.siloed else None
        keys: list[CapKey] = []
        for scope in self.strategy.caps:
            if scope == CHANNELS[channel]:
                keys.append((scope, None))
            elif scope in ("all", kind):
                keys.append((scope, team))
        return keys

    def cap(self, key: CapKey) -> RollingCap | CalendarCap:
        if key not in self.caps:
            self.caps[key] = make_cap(self.strategy.caps[key[0]], self.n, self.calendar)  # type: ignore[index]
        return self.caps[key]

    def quiet_release(self, message: Message, channel: int, t: float) -> float | None:
        """If quiet hours cover ``channel`` at t: when they end; else None."""
        quiet = self.strategy.quiet_hours
        if quiet is None or message.is_exempt or CHANNELS[channel] not in quiet.channels:
            return None
        if not in_quiet_hours(quiet.start, quiet.end, t):
            return None
        return quiet_hours_end(quiet.start, quiet.end, t)

    def admit(
        self,
        message: Message,
        channel: int,
        idx: np.ndarray,
        t: float,
        scheduled: Scheduled,
    ) -> tuple[np.ndarray, int, int]:
        """Members of idx the rules let receive ``message`` on ``channel`` at t, recorded as
        sent; and how many the cooldown and the caps held back."""
        if message.is_exempt or not self.active:
            return idx, 0, 0
        cooled = 0
        wait = self.cooldown.get(channel)
        if wait is not None and self.last_sent is not None:
            keep = self.last_sent[channel].take(idx) <= t - wait + SAME_INSTANT
            cooled = idx.size - int(np.count_nonzero(keep))
            idx = np.compress(keep, idx)
        keys = self.keys(channel, message.kind)
        if keys:
            keep = np.ones(idx.size, dtype=bool)
            for key in keys:
                cap = self.cap(key)
                pending = scheduled(key, cap.window_end(t), idx)
                mine = None
                if key[0] == "all" and self.personal is not None:
                    mine = self.personal.take(idx)
                keep &= cap.allows(idx, t, pending, mine)
            capped = idx.size - int(np.count_nonzero(keep))
            idx = np.compress(keep, idx)
        else:
            capped = 0
        for key in keys:
            self.cap(key).record(idx, t)
        if self.last_sent is not None:
            self.last_sent[channel, idx] = t
        return idx, cooled, capped
