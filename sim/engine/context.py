"""Everything one replication's event handlers share: scenario, state, streams, tallies."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.engine.rng import Streams
from sim.engine.state import State
from sim.engine.tally import Tally
from sim.io.scenario import CHANNELS, Scenario
from sim.model.reputation import RollingComplaints
from sim.strategies.caps import RollingCap

EMAIL = CHANNELS.index("email")


@dataclass
class Context:
    scenario: Scenario
    strategies: list[str]
    state: State
    streams: Streams
    tally: Tally
    caps: list[dict[int, RollingCap]] = field(default_factory=list)
    complaints: list[RollingComplaints] = field(default_factory=list)
    placement: np.ndarray = field(init=False)
    sends_at: dict[tuple[int, int, int], int] = field(default_factory=dict)
    offer_kinds: list[set[str]] = field(default_factory=list)
    _drawn: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict)
    _drawn_minute: int = -1

    def __post_init__(self) -> None:
        n = self.state.members.size
        rep = self.scenario.channels.email.reputation
        for name in self.strategies:
            caps = self.scenario.strategies[name].caps
            self.caps.append({CHANNELS.index(c): RollingCap(cap, n) for c, cap in caps.items()})
            self.complaints.append(RollingComplaints(rep.window_days if rep else 1))
            self.offer_kinds.append(
                {c.offer.kind for c in self.scenario.strategies[name].campaigns.values() if c.offer}
            )
        self.placement = np.ones(len(self.strategies))

    def discount(self, t: float) -> float:
        """CLV discount factor at t days: (1 + annual rate)^(-t / 365)."""
        return (1.0 + self.scenario.economics.discount_rate_annual) ** (-t / 365.0)

    def week(self, t: float) -> int:
        return min(int(t // 7), self.tally.weekly["sends"].shape[1] - 1)

    def message_uniforms(self, s: int, channel: int, t: float, rows: int, n: int) -> np.ndarray:
        """Uniforms (rows, n) for a send of strategy s: its k-th send on a channel at one
        minute gets the k-th stream of that minute, the same one any other strategy's k-th
        send gets. Draws of the current minute are kept, so strategies in this process that
        send at the same minute share one draw."""
        minute = round(t * 1440)
        occurrence = self.sends_at.get((s, channel, minute), 0)
        self.sends_at[(s, channel, minute)] = occurrence + 1
        key = (channel, minute, occurrence)
        if self._drawn_minute != minute:
            self._drawn.clear()
            self._drawn_minute = minute
        u = self._drawn.get(key)
        if u is None:
            u = self.streams.message(channel, minute, occurrence).random((rows, n))
            self._drawn[key] = u
        return u
