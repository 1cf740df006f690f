"""What a marketer observes of each member, and the views policies read it through.

Sends, opens and clicks per channel are kept per day over the last 28 days (a ring of daily
counts), as a platform's engagement reports are; opt-outs keep their day. A ``View`` offers
these and the member's profile (segment, tier, balance, last purchase), never the latent
pressure, tolerance or satisfaction; only the oracle's ``LatentView`` adds those.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.spec.fields import CHANNELS
from sim.world.state import State, reachable_mask

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


class View:
    """An observable-only view of the members under one strategy at time ``t`` (days).

    Members are identified by index; ``n`` members have joined so far. The view is built from
    the observable arrays (opt-ins and exits, the 28-day counts, profile, points, tier) and
    keeps no reference to the replication's state, so nothing in it leads to the latent
    pressure, tolerance or satisfaction."""

    __slots__ = (
        "_balance",
        "_consent",
        "_exited",
        "_joined",
        "_last_open",
        "_last_purchase",
        "_left",
        "_observations",
        "_segment",
        "_tier",
        "n",
        "t",
    )

    def __init__(self, state: State, s: int, observations: Observations, t: float) -> None:
        members, program = state.members, state.program
        self.t = t
        self.n = members.joined_by(t)
        self._observations = observations
        self._left, self._exited, self._consent = state.left[s], state.exited[s], state.consent[s]
        self._last_open, self._last_purchase = state.last_open[s], state.last_activity[s]
        self._joined, self._segment = members.join_day, members.segment
        self._balance = state.balance[s]
        self._tier: Callable[[np.ndarray], np.ndarray] = lambda idx: program.level(s, idx, t)

    def reachable(self, channel: str, idx: np.ndarray) -> np.ndarray:
        """Mask over idx: in the program, opted in to ``channel`` and not opted out."""
        c = CHANNELS.index(channel)
        return reachable_mask(self._left, self._consent[c], self._exited[c], idx)

    def sends(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("sends", idx, channel, days)

    def opens(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("opens", idx, channel, days)

    def clicks(self, idx: np.ndarray, channel: str | None = None, days: int = 28) -> np.ndarray:
        return self._count("clicks", idx, channel, days)

    def _count(self, metric: str, idx: np.ndarray, channel: str | None, days: int) -> np.ndarray:
        c = None if channel is None else CHANNELS.index(channel)
        return self._observations.count(metric, idx, c, days)

    def opted_out_within(self, idx: np.ndarray, days: float) -> np.ndarray:
        """Mask over idx: opted out of any channel within the last ``days`` days."""
        when = self._observations.opted_out[:, idx]  # +inf: never opted out
        return ((when > self.t - days) & (when <= self.t)).any(axis=0)

    def open_rate(self, channel: str, days: int = 28) -> float:
        """Opens per send on ``channel`` over all members, last ``days`` days (NaN if none)."""
        everyone = np.arange(self.n)
        sends = self.sends(everyone, channel, days).sum()
        return float(self.opens(everyone, channel, days).sum() / sends) if sends else float("nan")

    def last_open(self, idx: np.ndarray) -> np.ndarray:
        """Day of the last open or click (-inf: none yet)."""
        return self._last_open.take(idx)

    def last_purchase(self, idx: np.ndarray) -> np.ndarray:
        """Day of the last purchase, or of joining if none since."""
        return self._last_purchase.take(idx)

    def joined(self, idx: np.ndarray) -> np.ndarray:
        return self._joined.take(idx)

    def segment(self, idx: np.ndarray) -> np.ndarray:
        """Segment number (the order of population.segments)."""
        return self._segment.take(idx)

    def balance(self, idx: np.ndarray) -> np.ndarray:
        """Points balance."""
        return self._balance.take(idx)

    def tier(self, idx: np.ndarray) -> np.ndarray:
        """Tier level (0 = base)."""
        return self._tier(idx)


class LatentView(View):
    """A view that also sees what no marketer can: for the oracle policy only."""

    __slots__ = ("_pressure", "_tolerance", "message_pressure")

    def __init__(
        self,
        state: State,
        s: int,
        observations: Observations,
        t: float,
        message_pressure: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        super().__init__(state, s, observations, t)
        # Pressure units the message being sent would add to each member (its relevance, as
        # delivery judges it, may vary by member).
        self.message_pressure = message_pressure
        self._pressure: Callable[[np.ndarray], np.ndarray] = lambda idx: state.total_pressure_now(
            s, idx, t
        )
        self._tolerance = state.members.tolerance

    def pressure(self, idx: np.ndarray) -> np.ndarray:
        """Total contact pressure now, pressure units."""
        return self._pressure(idx)

    def tolerance(self, idx: np.ndarray) -> np.ndarray:
        """Pressure each member tolerates before fatigue sets in, pressure units."""
        return self._tolerance.take(idx)
