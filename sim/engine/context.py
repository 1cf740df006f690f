"""Everything one replication's event handlers share: scenario, state, streams, tallies."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.engine.events import PurchaseSink, SendSink
from sim.engine.rng import MESSAGE, REQUEST, Streams
from sim.engine.tally import Tally
from sim.model import satisfaction as sat
from sim.model.reputation import RollingComplaints, inbox_placement
from sim.model.terminal import WINDOW_DAYS
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Scenario
from sim.strategies.audience import control_group
from sim.strategies.compiled import Levers, compile_strategy
from sim.world.state import State

EMAIL = CHANNELS.index("email")
_EDGES = np.array(sat.BAND_EDGES, dtype=np.float32)


@dataclass
class Context:
    scenario: Scenario
    strategies: list[str]
    state: State
    streams: Streams
    tally: Tally
    levers: list[Levers] = field(default_factory=list)
    sink: PurchaseSink | None = None  # receives each day's purchases (sim.engine.events)
    send_sink: SendSink | None = None  # receives sends and opt-ins (sim.engine.events)
    control: np.ndarray | None = field(init=False)  # members in the control group
    complaints: list[RollingComplaints] = field(default_factory=list)
    placement: np.ndarray = field(init=False)
    sends_at: dict[tuple[int, int, int], int] = field(default_factory=dict)
    offer_kinds: list[frozenset[str]] = field(default_factory=list)
    # Hazard multipliers by satisfaction band (normalised; None when the effect is off).
    level_leave: np.ndarray | None = field(init=False)
    level_exit: np.ndarray | None = field(init=False)
    leave_level: float = field(init=False)
    leave_max: float = field(init=False)
    # Starting members reachable on some channel at the start of the final window, per strategy.
    reachable_at_window: np.ndarray | None = None
    # In the final window, with messages acting on lapse: each starting member's expected
    # win-backs and contact lapses from the messages it saw (2, strategy, member), and its days
    # reachable on some channel (strategy, member).
    window_lapse: np.ndarray | None = None
    window_reachable_days: np.ndarray | None = None
    _reachable_before: tuple[np.ndarray, np.ndarray] | None = None  # yesterday's, in the window

    def __post_init__(self) -> None:
        n = self.state.members.size
        rep = self.scenario.channels.email.reputation
        self.control = control_group(self.scenario.program.control_group, n, self.streams.control)
        for name in self.strategies:
            compiled = compile_strategy(self.scenario, name)
            self.levers.append(compiled.levers(n))
            self.complaints.append(RollingComplaints(rep.window_days if rep else 1))
            self.offer_kinds.append(compiled.offer_kinds)
        self.placement = np.ones(len(self.strategies))
        levels = self.scenario.behaviour.satisfaction.levels
        baselines = [
            (g.share, g.satisfaction.mean, g.satisfaction.sd)
            for g in self.scenario.population.segments.values()
        ]
        self.level_leave, self.level_exit = (
            sat.level_multipliers(band.table, baselines) if band.on else None
            for band in (levels.leave, levels.exit)
        )
        # The largest band multiplier of leaving, and the largest probability of leaving on
        # any day (at a satisfaction change of -100 points): both fixed for the run.
        self.leave_level = 1.0 if self.level_leave is None else float(self.level_leave.max())
        self.leave_max = self.leave_bound(np.array(-100.0))

    def update_reputation(self, d: int) -> None:
        """Inbox placement of day d from each strategy's complaints over the last window_days
        complete days; then the window moves on to day d."""
        rep = self.scenario.channels.email.reputation
        for s, window in enumerate(self.complaints):
            self.placement[s] = inbox_placement(window.rate(), rep) if rep else 1.0
            window.start_day(d)

    def event(self, s: int, trigger: str, day: int, idx: np.ndarray) -> None:
        """Members idx had event ``trigger`` today under strategy s (for journeys)."""
        journeys = self.levers[s].journeys
        if journeys is not None and trigger in journeys.triggers:
            journeys.fire(trigger, day, idx)

    def grant_consent(self, s: int, channel: int, t: float, idx: np.ndarray) -> None:
        """Members idx (not reachable on ``channel``) opt in to it under strategy s at t."""
        self.state.grant_consent(s, channel, idx)
        self.tally.channel["recaptures"][s, channel] += idx.size
        if self.send_sink is not None and idx.size:
            self.send_sink.opt_ins(s, t, channel, idx)

    def leave_hazard(self, s: int, idx: np.ndarray, d: float, delta: np.ndarray) -> np.ndarray:
        """Multiplier on the hazard of leaving of members idx on day d under strategy s: their
        tier's benefit times, with level effects, their satisfaction band's multiplier.
        ``delta``: their satisfaction change under s (index points), which callers also need."""
        hazard = self.state.program.leave_hazard(s, idx, d)
        if self.level_leave is None:
            return hazard
        return _banded(
            np.atleast_1d(hazard), self.state.members.satisfaction0, idx, delta, self.level_leave
        )

    def leave_bound(self, delta: np.ndarray) -> float:
        """The largest probability of leaving today of a member whose satisfaction change
        (index points) is any of ``delta``: at the largest band multiplier, since a tier's
        benefit is at most 1."""
        beh = self.scenario.behaviour
        slope = beh.satisfaction.leave_slope
        p = sat.leave_probability(delta, beh.leave_per_year, slope, self.leave_level)
        return float(p.max())

    def discount(self, t: float) -> float:
        """CLV discount factor at t days: (1 + annual rate)^(-t / 365)."""
        return (1.0 + self.scenario.economics.discount_rate_annual) ** (-t / 365.0)

    def in_window(self, t: float) -> bool:
        """Whether time t (days) lies in the final window of the run (clv_with_terminal)."""
        horizon = self.scenario.horizon_days
        return t >= horizon - min(WINDOW_DAYS, horizon)

    def window_day(self, d: int) -> None:
        """At the start of a day of the final window: count the starting members reachable on
        some channel (member-days), and keep who they are on its first day."""
        if not self.in_window(d):
            return
        size = self.scenario.population.size
        reachable = np.stack(
            [self.state.reachable_any(s, size) for s in range(len(self.strategies))]
        )
        self.tally.total["window_reachable_days"] += reachable.sum(axis=1)
        if self.reachable_at_window is None:
            self.reachable_at_window = reachable
        if self.state.lapsed_under is not None:
            self._window_lapse(reachable)

    def _window_lapse(self, reachable: np.ndarray) -> None:
        """The final window's exposures and changes of the chain the terminal value continues
        (sim.model.terminal.chain_days): each starting member's days reachable, and
        reachability lost or gained since yesterday by members still in the program, with
        yesterday's members exposed to each change. ``reachable``: (strategy, starting member)."""
        st, tot, size = self.state, self.tally.total, self.scenario.population.size
        member = ~st.left[:, :size]
        if self.window_lapse is None:
            self.window_lapse = np.zeros((2, len(self.strategies), size))
            self.window_reachable_days = np.zeros((len(self.strategies), size), dtype=np.int32)
        self.window_reachable_days += reachable
        if self._reachable_before is not None:
            before, member_before = self._reachable_before
            tot["window_reachability_lost"] += np.count_nonzero(before & ~reachable & member, 1)
            tot["window_reachability_gained"] += np.count_nonzero(~before & reachable, axis=1)
            tot["window_reachable_exposed"] += np.count_nonzero(before, axis=1)
            tot["window_unreachable_exposed"] += np.count_nonzero(member_before & ~before, 1)
        self._reachable_before = (reachable, member)

    def week(self, t: float) -> int:
        return min(int(t // 7), self.tally.weekly["sends"].shape[1] - 1)

    def message_uniforms(self, s: int, channel: int, t: float, idx: np.ndarray) -> np.ndarray:
        """Uniforms (rows, len(idx)) of members idx for a send of strategy s on ``channel`` at
        time t: open, exit and, for email, inbox placement. Its k-th send on a channel at one
        minute is keyed as any other strategy's k-th send there, so strategies sending at the
        same minute see the same uniforms for the same member."""
        minute = round(t * 1440)
        occurrence = self.sends_at.get((s, channel, minute), 0)
        self.sends_at[(s, channel, minute)] = occurrence + 1
        rows = 3 if channel == EMAIL else 2
        return self.streams.uniforms(MESSAGE, minute, idx, rows, _send_word(channel, occurrence))

    def request_uniforms(self, s: int, channel: int, t: float, idx: np.ndarray) -> np.ndarray:
        """One uniform per member idx for the consent request of strategy s's last send on
        this channel and minute, keyed as that send's ``message_uniforms``."""
        minute = round(t * 1440)
        occurrence = self.sends_at[(s, channel, minute)] - 1
        return self.streams.uniforms(REQUEST, minute, idx, 1, _send_word(channel, occurrence))[0]


@njit(cache=True)
def _banded(hazard, satisfaction0, idx, delta, table):  # type: ignore[no-untyped-def]
    """hazard * satisfaction.level_multiplier(satisfaction0[idx] + delta, table) in one pass
    (``hazard``: one value or one per member of idx): the band of an index value is the
    number of satisfaction.BAND_EDGES at or below it, compared in float32 as NumPy does."""
    out = np.empty(idx.size)
    one = hazard.size == 1
    for k in range(idx.size):
        level = satisfaction0[idx[k]] + delta[k]
        band = 0
        for edge in _EDGES:
            if level >= edge:
                band += 1
        out[k] = hazard[0 if one else k] * table[band]
    return out


def _send_word(channel: int, occurrence: int) -> int:
    """The counter word of the ``occurrence``-th send on ``channel`` at one minute."""
    return channel << 16 | occurrence
