"""What a marketer observes of each member, and the views policies read it through.

Sends, opens and clicks per channel are kept per day over the last 28 days (a ring of daily
counts), as a platform's engagement reports are; opt-outs keep their day. A ``View`` offers
these and the member's profile (segment, tier, balance, last purchase), never the latent
pressure, tolerance or satisfaction; only the oracle's ``LatentView`` adds those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.spec.fields import CHANNELS
from sim.world.state import State

WINDOW_DAYS = 28
METRICS: tuple[str, ...] = ("sends", "opens", "clicks")


class Observations:
    """Daily counts per metric, channel and member over the last WINDOW_DAYS days."""

    def __init__(self, n_members: int) -> None:
        shape = (WINDOW_DAYS, len(METRICS), len(CHANNELS), n_members)
        self.ring = np.zeros(shape, dtype=np.uint8)
        self.day = 0
        self.opted_out = np.full((len(CHANNELS), n_members), np.inf, dtype=np.float32)

    def start_day(self, d: int) -> None:
        """Clear the slots of the days from the last one seen to d."""
        for day in range(self.day + 1, min(d, self.day + WINDOW_DAYS) + 1):
            self.ring[day % WINDOW_DAYS] = 0
        self.day = max(self.day, d)

    def add(self, metric: str, channel: int, idx: np.ndarray) -> None:
        """Count one event today for members idx (unique); a day holds at most 255."""
        row = self.ring[self.day % WINDOW_DAYS, METRICS.index(metric), channel]
        row[idx] = np.minimum(row.take(idx), 254) + 1

    def count(
        self, metric: str, idx: np.ndarray, channel: int | None = None, days: int = WINDOW_DAYS
    ) -> np.ndarray:
        """Events of members idx over the last ``days`` days (today included)."""
        if not 1 <= days <= WINDOW_DAYS:
            raise ValueError(f"days must be 1-{WINDOW_DAYS}, not {days}")
        slots = [(self.day - k) % WINDOW_DAYS for k in range(days)]
        m = METRICS.index(metric)
        block = self.ring[slots, m] if channel is None else self.ring[slots, m, channel]
        summed = block[..., idx].sum(axis=0, dtype=np.int64)
        return summed.sum(axis=0) if channel is None else summed


@dataclass
class View:
    """An observable-only view of the members under one strategy at time ``t`` (days).

    Members are identified by index; ``n`` members have joined so far."""

    state: State
    s: int
    observations: Observations
    t: float

    @property
    def n(self) -> int:
        return self.state.members.joined_by(self.t)

    def reachable(self, channel: str, idx: np.ndarray) -> np.ndarray:
        """Mask over idx: in the program, opted in to ``channel`` and not opted out."""
        return self.state.reachable_among(self.s, CHANNELS.index(channel), idx)

    def sends(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("sends", idx, channel, days)

    def opens(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("opens", idx, channel, days)

    def clicks(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("clicks", idx, channel, days)

    def _count(self, metric: str, idx: np.ndarray, channel: str | None, days: int) -> np.ndarray:
        c = None if channel is None else CHANNELS.index(channel)
        return self.observations.count(metric, idx, c, days)

    def opted_out_within(self, idx: np.ndarray, days: float) -> np.ndarray:
        """Mask over idx: opted out of any channel within the last ``days`` days."""
        when = self.observations.opted_out[:, idx]  # +inf: never opted out
        return ((when > self.t - days) & (when <= self.t)).any(axis=0)

    def open_rate(self, channel: str, days: int = 28) -> float:
        """Opens per send on ``channel`` over all members, last ``days`` days (NaN if none)."""
        everyone = np.arange(self.n)
        sends = self.sends(everyone, channel, days).sum()
        return float(self.opens(everyone, channel, days).sum() / sends) if sends else float("nan")

    def last_open(self, idx: np.ndarray) -> np.ndarray:
        """Day of the last open or click (-inf: none yet)."""
        return self.state.last_open[self.s].take(idx)

    def last_purchase(self, idx: np.ndarray) -> np.ndarray:
        """Day of the last purchase, or of joining if none since."""
        return self.state.last_activity[self.s].take(idx)

    def joined(self, idx: np.ndarray) -> np.ndarray:
        return self.state.members.join_day.take(idx)

    def segment(self, idx: np.ndarray) -> np.ndarray:
        """Segment number (the order of population.segments)."""
        return self.state.members.segment.take(idx)

    def balance(self, idx: np.ndarray) -> np.ndarray:
        """Points balance."""
        return self.state.balance[self.s].take(idx)

    def tier(self, idx: np.ndarray) -> np.ndarray:
        """Tier level (0 = base)."""
        return self.state.program.level(self.s, idx, self.t)


@dataclass
class LatentView(View):
    """A view that also sees what no marketer can: for the oracle policy only."""

    # Pressure units the message being sent would add to each member (its relevance, as
    # delivery judges it, may vary by member).
    message_pressure: Callable[[np.ndarray], np.ndarray] = lambda idx: np.zeros(idx.size)

    def pressure(self, idx: np.ndarray) -> np.ndarray:
        """Total contact pressure now, pressure units."""
        return self.state.total_pressure_now(self.s, idx, self.t)

    def tolerance(self, idx: np.ndarray) -> np.ndarray:
        """Pressure each member tolerates before fatigue sets in, pressure units."""
        return self.state.members.tolerance.take(idx)
