"""Member state of one replication: NumPy arrays shaped (strategy, member).

Static attributes (``Members``) and the BG/NBD lapse are shared by all strategies; everything a
strategy can change has a leading strategy axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.io.scenario import CHANNELS
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
    pressure_time: np.ndarray = field(init=False)
    drivers: np.ndarray = field(init=False)
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

    def __post_init__(self) -> None:
        s, n, c = self.n_strategies, self.members.size, len(CHANNELS)

        def zeros(*shape: int, dtype: type = np.float32) -> np.ndarray:
            return np.zeros(shape, dtype=dtype)

        def never() -> np.ndarray:
            return np.full((s, n), NEVER, dtype=np.float32)

        self.lapsed = zeros(n, dtype=bool)
        self.left = zeros(s, n, dtype=bool)
        self.exited = zeros(s, c, n, dtype=bool)
        self.pressure = zeros(s, c, n)  # pressure units, as of pressure_time
        self.pressure_time = np.broadcast_to(self.members.join_day, (s, n)).astype(np.float32)
        self.drivers = zeros(s, len(DRIVERS), n)  # index points
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

    def in_program(self, s: int, n: int) -> np.ndarray:
        """Mask of the first n members (those joined) still in the program under strategy s."""
        return ~self.left[s, :n]

    def reachable(self, s: int, channel: int, n: int) -> np.ndarray:
        """Mask of joined members who can receive on ``channel``: in program, opted in, no exit."""
        return (
            ~self.left[s, :n] & self.members.opt_in[channel, :n] & ~self.exited[s, channel, :n]
        )

    def pressure_now(self, s: int, idx: np.ndarray, t: float, half_life: float) -> np.ndarray:
        """Pressure per channel of members ``idx`` at time t (decay applied lazily)."""
        elapsed = t - self.pressure_time[s, idx]
        return self.pressure[s][:, idx] * np.exp2(-elapsed / half_life).astype(np.float32)
