"""A strategy's calendar campaigns as one plan: sends in order, and what is still scheduled.

Sends at the same minute go in order of priority, highest first, then as declared. The plan
also answers the priority rule's question (Adobe Campaign pressure rules): how many messages
of higher priority are scheduled for a member within a cap's window.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

import numpy as np

from sim.spec.fields import CHANNELS
from sim.spec.strategy import Campaign, Message
from sim.strategies.calendar import Calendar
from sim.strategies.rules import CapKey
from sim.strategies.schedule import send_times

# Members idx a campaign would reach now (its audience, reachable, not suppressed): a mask.
Eligible = Callable[[Campaign, np.ndarray], np.ndarray]


class Plan:
    def __init__(
        self, campaigns: dict[str, Campaign], horizon_days: int, calendar: Calendar
    ) -> None:
        self.campaigns = campaigns
        self.horizon = horizon_days
        self.times = {
            name: np.fromiter(send_times(c, horizon_days, calendar), dtype=np.float64)
            for name, c in campaigns.items()
        }
        # Sends of each campaign made (or being made): the rest are still scheduled.
        self.done = dict.fromkeys(campaigns, 0)

    def sends(self) -> Iterator[tuple[float, str, Campaign]]:
        """(time, name, campaign) in send order."""

        def keyed(order: int, name: str) -> Iterator[tuple[float, int, int, str]]:
            priority = self.campaigns[name].priority
            return ((float(t), -priority, order, name) for t in self.times[name])

        streams = [keyed(i, name) for i, name in enumerate(self.campaigns)]
        for t, _, _, name in heapq.merge(*streams):
            yield t, name, self.campaigns[name]

    def sending(self, name: str) -> None:
        """Campaign ``name`` makes its next send now: it is no longer scheduled."""
        self.done[name] += 1

    def scheduled(
        self,
        message: Message,
        key: CapKey,
        t: float,
        end: float,
        idx: np.ndarray,
        eligible: Eligible,
    ) -> np.ndarray | None:
        """Messages of higher priority than ``message`` still scheduled from t (not yet sent,
        so a same-minute one counts until it goes) and before ``end``, for members idx, that
        count against the cap ``key``; None when there are none."""
        scope, team = key
        total: np.ndarray | None = None
        for name, c in self.campaigns.items():
            if c.priority <= message.priority or c.is_exempt:
                continue
            if team is not None and CHANNELS.index(c.channel) != team:
                continue
            if scope != "all" and scope not in (c.channel, c.kind):
                continue
            times = self.times[name]
            first = max(self.done[name], int(np.searchsorted(times, t, "left")))
            k = int(np.searchsorted(times, end, "left")) - first
            if k:
                counts = k * eligible(c, idx).astype(np.int64)
                total = counts if total is None else total + counts
        return total
