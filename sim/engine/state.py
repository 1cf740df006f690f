"""Member state of one replication: NumPy arrays shaped (strategy, member).

Static attributes (``Members``) and the BG/NBD lapse are shared by all strategies; everything a
strategy can change has a leading strategy axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.io.scenario import CHANNELS
from sim.model.decay import retention
from sim.model.population import Members
from sim.model.satisfaction import DRIVERS

# Time of an event that has not happened: comparisons with it are always 'long ago'.
NEVER = np.float32(-np.inf)


@dataclass
class State:
    members: Members
    n_strategies: int
    lapsed: np.ndarray = field(init=False)
    left: np.ndarray = field(init=False)
    exited: np.ndarray = field(init=False)
    pressure: np.ndarray = field(init=False)
    pressure_total: np.ndarray = field(init=False)
    drivers: np.ndarray = field(init=False)
    satisfaction: np.ndarray = field(init=False)
    lift: np.ndarray = field(init=False)
    last_open: np.ndarray = field(init=False)
    balance: np.ndarray = field(init=False)
    last_activity: np.ndarray = field(init=False)
    multiplier: np.ndarray = field(init=False)
    multiplier_until: np.ndarray = field(init=False)
    bonus: np.ndarray = field(init=False)
    bonus_until: np.ndarray = field(init=False)
    discount: np.ndarray = field(init=False)
    discount_until: np.ndarray = field(init=False)

    today: int = field(init=False)
    floor: np.ndarray = field(init=False)
    ceiling: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        s, n, c = self.n_strategies, self.members.size, len(CHANNELS)

        def zeros(*shape: int, dtype: type = np.float32) -> np.ndarray:
            return np.zeros(shape, dtype=dtype)

        def never() -> np.ndarray:
            return np.full((s, n), NEVER, dtype=np.float32)

        self.lapsed = zeros(n, dtype=bool)
        self.left = zeros(s, n, dtype=bool)
        self.exited = zeros(s, c, n, dtype=bool)
        # Pressure units per channel and in total, as of the start of day ``today``: decaying
        # them in place once a day is cheaper than tracking each member's last update, and a
        # send within the day needs only one scalar factor for its hour.
        self.pressure = zeros(s, c, n)
        self.pressure_total = zeros(s, n)
        # Satisfaction drivers (index points) and their sum, which purchases and leaving read
        # for every member every day, so it is kept rather than summed each time.
        self.satisfaction = zeros(s, n)
        self.drivers = zeros(s, len(DRIVERS), n)
        self.today = 0
        self.floor = -self.members.satisfaction0  # the index cannot go below 0 ...
        self.ceiling = 100.0 - self.members.satisfaction0  # ... nor above 100
        self.lift = zeros(s, n)  # relative increase of the purchase rate
        self.last_open = never()  # day
        self.balance = zeros(s, n, dtype=np.int64)  # points
        self.last_activity = np.broadcast_to(self.members.join_day, (s, n)).astype(np.float32)
        self.multiplier = np.ones((s, n), dtype=np.float32)
        self.multiplier_until = never()
        self.bonus = zeros(s, n, dtype=np.int64)  # points on the next purchase
        self.bonus_until = never()
        self.discount = zeros(s, n)  # fraction off the next purchases
        self.discount_until = never()

    def satisfaction_delta(self, s: int, idx: np.ndarray | slice) -> np.ndarray:
        """Index minus baseline, index points, with the index clipped to 0-100."""
        return np.clip(self.satisfaction[s, idx], self.floor[idx], self.ceiling[idx])

    def add_to_drivers(
        self, s: int, idx: np.ndarray, changes: dict[int, np.ndarray | float]
    ) -> None:
        """Add index points to drivers of members idx (unique): ``{driver: change}``."""
        total: np.ndarray | float = 0.0
        for driver, change in changes.items():
            self.drivers[s, driver, idx] += change
            total = total + change
        self.satisfaction[s, idx] += total

    def in_program(self, s: int, n: int) -> np.ndarray:
        """Mask of the first n members (those joined) still in the program under strategy s."""
        return ~self.left[s, :n]

    def reachable(self, s: int, channel: int, n: int) -> np.ndarray:
        """Mask of joined members who can receive on ``channel``: in program, opted in, no exit."""
        return ~self.left[s, :n] & self.members.opt_in[channel, :n] & ~self.exited[s, channel, :n]

    def decay_factor(self, t: float, half_life: float) -> float:
        """Decay of pressure from the start of today to time t (days): 2^(-(t - today) / h)."""
        return retention(t - self.today, half_life)

    def pressure_now(self, s: int, idx: np.ndarray, t: float, half_life: float) -> np.ndarray:
        """Pressure per channel (channel, member) of members idx at time t >= today."""
        return self.pressure[s][:, idx] * np.float32(self.decay_factor(t, half_life))

    def total_pressure_now(self, s: int, idx: np.ndarray, t: float, half_life: float) -> np.ndarray:
        """Total pressure of members idx at time t >= today, pressure units."""
        return self.pressure_total[s, idx] * np.float32(self.decay_factor(t, half_life))

    def add_pressure(
        self,
        s: int,
        channel: int,
        idx: np.ndarray,
        amount: np.ndarray,
        t: float,
        half_life: float,
    ) -> None:
        """Add ``amount`` (pressure units, at time t) to members idx on one channel."""
        at_day_start = amount / np.float32(self.decay_factor(t, half_life))
        self.pressure[s, channel, idx] += at_day_start
        self.pressure_total[s, idx] += at_day_start
