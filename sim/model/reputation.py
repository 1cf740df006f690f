"""Email sender reputation: the complaint rate over a rolling window sets inbox placement.

Mailbox providers judge the sender, not the message: above 0.10% complaints placement starts
to suffer, and 0.30% must never be reached (Gmail bulk-sender rules).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Reputation(Protocol):
    """Complaint-rate thresholds (fractions of emails placed) and the placement they give."""

    good_below: float
    limit: float
    placement_at_limit: float
    placement_floor: float


def inbox_placement(complaint_rate: float, rep: Reputation) -> float:
    """Share of the sender's emails placed in the inbox (the rest go to spam).

    1 up to ``good_below``; falls linearly to ``placement_at_limit`` at ``limit``; then on to
    ``placement_floor`` at twice the limit, and stays there.
    """
    if complaint_rate <= rep.good_below:
        return 1.0
    if complaint_rate <= rep.limit:
        frac = (complaint_rate - rep.good_below) / (rep.limit - rep.good_below)
        return 1.0 - frac * (1.0 - rep.placement_at_limit)
    frac = min((complaint_rate - rep.limit) / rep.limit, 1.0)
    return rep.placement_at_limit - frac * (rep.placement_at_limit - rep.placement_floor)


class RollingComplaints:
    """Email deliveries and complaints per day over the last ``window_days`` days."""

    def __init__(self, window_days: int) -> None:
        self.delivered = np.zeros(window_days, dtype=np.int64)
        self.complaints = np.zeros(window_days, dtype=np.int64)

    def add(self, day: int, delivered: int, complaints: int) -> None:
        slot = day % self.delivered.size
        self.delivered[slot] += delivered
        self.complaints[slot] += complaints

    def start_day(self, day: int) -> None:
        """Free today's slot, which held the day now ``window_days`` old. Read ``rate`` first:
        it then covers exactly the last ``window_days`` complete days."""
        slot = day % self.delivered.size
        self.delivered[slot] = 0
        self.complaints[slot] = 0

    def rate(self) -> float:
        total = int(self.delivered.sum())
        return float(self.complaints.sum()) / total if total else 0.0
