"""Rolling-window contact caps: at most ``max`` deliveries on a channel in any ``days`` days.

Each capped channel keeps, per member, the times of the last ``max`` deliveries; a member may
receive another only if the oldest of them is at least ``days`` old.
"""

from __future__ import annotations

import numpy as np

from sim.io.scenario import Cap


class RollingCap:
    def __init__(self, cap: Cap, n_members: int) -> None:
        self.cap = cap
        self.times = np.full((cap.max, n_members), -np.inf, dtype=np.float32)

    def allows(self, idx: np.ndarray, t: float) -> np.ndarray:
        """Mask over ``idx``: members whose window has room for one more delivery at t."""
        return self.times[:, idx].min(axis=0) <= t - self.cap.days

    def record(self, idx: np.ndarray, t: float) -> None:
        """Record deliveries at t, replacing each member's oldest."""
        slot = self.times[:, idx].argmin(axis=0)
        self.times[slot, idx] = t

    def count_within(self, t: float) -> np.ndarray:
        """Deliveries per member within the window ending at t (for the invariant tests)."""
        return (self.times > t - self.cap.days).sum(axis=0)
