"""Rolling-window contact caps: at most ``max`` deliveries on a channel in any ``days`` days.

Each capped channel keeps, per member, the times of the last ``max`` deliveries; a member may
receive another only if the oldest of them is at least ``days`` old.
"""

from __future__ import annotations

import numpy as np

from sim.io.scenario import Cap


class RollingCap:
    """A ring of the last ``max`` delivery times per member; the oldest sits at ``next``."""

    def __init__(self, cap: Cap, n_members: int) -> None:
        self.cap = cap
        self.n = n_members
        # Slot-major and flat, so a member's oldest time is one element: slot * n + member.
        self.times = np.full(cap.max * n_members, -np.inf, dtype=np.float32)
        self.next = np.zeros(n_members, dtype=np.int32)

    def _oldest(self, idx: np.ndarray) -> np.ndarray:
        return self.next[idx].astype(np.int64) * self.n + idx

    def allows(self, idx: np.ndarray, t: float) -> np.ndarray:
        """Mask over ``idx``: members whose window has room for one more delivery at t."""
        return self.times[self._oldest(idx)] <= t - self.cap.days

    def record(self, idx: np.ndarray, t: float) -> None:
        """Record deliveries at t, replacing each member's oldest."""
        self.times[self._oldest(idx)] = t
        self.next[idx] = (self.next[idx] + 1) % self.cap.max

    def count_within(self, t: float) -> np.ndarray:
        """Deliveries per member within the window ending at t (for the invariant tests)."""
        return (self.times.reshape(self.cap.max, self.n) > t - self.cap.days).sum(axis=0)
