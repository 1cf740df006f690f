"""Member state of one replication: NumPy arrays shaped (strategy, member).

Static attributes (``Members``) and the BG/NBD lapse at baseline are shared by all strategies;
everything a strategy can change has a leading strategy axis. When messages act on lapse
(``behaviour.lapse``), each strategy also has its own lapse state.

Pressure, satisfaction and lift decay exponentially. Rather than multiplying every member's
value every day, each is stored in the units of an epoch (``Clock``): the value at t is the
stored value times 2^(-(t - epoch) / half-life), and a change at t is stored divided by that
factor. Only members touched by an event are read or written; the epoch moves forward (one
pass over the arrays) when the factor would leave float32's comfortable range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.model.decay import retention
from sim.model.lift import rate_weight
from sim.model.satisfaction import DRIVERS, purchase_multiplier
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Behaviour
from sim.world.population import Members
from sim.world.program import ProgramState

# Time of an event that has not happened: comparisons with it are always 'long ago'.
NEVER = np.float32(-np.inf)
# The status term of satisfaction_delta without tiers: none.
_NO_STATUS = np.zeros(1, dtype=np.float32)

# Stored values are at most 2^RESTART_HALF_LIVES times the values they stand for.
RESTART_HALF_LIVES = 16.0


@dataclass
class Clock:
    """Epoch of arrays that decay with one half-life (days)."""

    half_life: float
    epoch: float = 0.0
    # The last factor computed and its (t, epoch): many steps of a day ask for the same one.
    _last: tuple[float, float, np.float32] = field(
        default=(np.nan, np.nan, np.float32(np.nan)), init=False, repr=False
    )

    def factor(self, t: float) -> np.float32:
        """Stored units to values at time t >= epoch: 2^(-(t - epoch) / half-life)."""
        at, epoch, value = self._last
        if at != t or epoch != self.epoch:
            value = np.float32(retention(t - self.epoch, self.half_life))
            self._last = (t, self.epoch, value)
        return value

    def restart(self, t: float, arrays: list[np.ndarray]) -> None:
        """Move the epoch to t if it is far behind, rescaling ``arrays`` in place."""
        if t - self.epoch >= RESTART_HALF_LIVES * self.half_life:
            f = self.factor(t)
            for a in arrays:
                a *= f
            self.epoch = t


@dataclass
class State:
    members: Members
    n_strategies: int
    behaviour: Behaviour
    program: ProgramState
    # Whether consent can change after joining other than by an exit (scenario.consent_changes).
    consent_changes: bool = False
    lapsed: np.ndarray = field(init=False)
    lapsed_under: np.ndarray | None = field(init=False)
    left: np.ndarray = field(init=False)
    consent: np.ndarray = field(init=False)
    exited: np.ndarray = field(init=False)
    complained: np.ndarray | None = field(init=False)
    pressure: np.ndarray = field(init=False)
    pressure_total: np.ndarray = field(init=False)
    drivers: np.ndarray = field(init=False)
    satisfaction: np.ndarray = field(init=False)
    lift: np.ndarray = field(init=False)
    lift_max: np.ndarray = field(init=False)
    lift_weight: np.ndarray | None = field(init=False)
    conversion: np.ndarray | None = field(init=False)
    conversion_max: np.ndarray = field(init=False)
    rate: np.ndarray = field(init=False)
    rate_bound: np.ndarray = field(init=False)
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
    pressure_clock: Clock = field(init=False)
    satisfaction_clock: Clock = field(init=False)
    lift_clock: Clock = field(init=False)
    debt: np.ndarray = field(init=False)
    debt_clock: Clock = field(init=False)
    floor: np.ndarray = field(init=False)
    ceiling: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        s, n, c = self.n_strategies, self.members.size, len(CHANNELS)

        def zeros(*shape: int, dtype: type = np.float32) -> np.ndarray:
            return np.zeros(shape, dtype=dtype)

        def never() -> np.ndarray:
            return np.full((s, n), NEVER, dtype=np.float32)

        # Lapse at baseline (BG/NBD on the baseline purchases, the world without marketing);
        # with win-back or contact lapse on, each strategy's lapse too (strategy, member).
        self.lapsed = zeros(n, dtype=bool)
        self.lapsed_under = zeros(s, n, dtype=bool) if self.behaviour.lapse.enabled else None
        self.left = zeros(s, n, dtype=bool)
        self.exited = zeros(s, c, n, dtype=bool)
        # Opted in to each channel under each strategy: the opt-in at joining, a read-only view
        # of it unless consent can be granted later (then each strategy's own copy), and the
        # spam complaints that hold back a new email opt-in.
        if self.consent_changes:
            self.consent = np.tile(self.members.opt_in, (s, 1, 1))
            self.complained = zeros(s, n, dtype=bool)
        else:
            self.consent = np.broadcast_to(self.members.opt_in, (s, c, n))
            self.complained = None
        beh = self.behaviour
        # Pressure units per channel and in total, decaying continuously.
        self.pressure = zeros(s, c, n)
        self.pressure_total = zeros(s, n)
        self.pressure_clock = Clock(beh.fatigue.half_life_days)
        # Satisfaction drivers (index points) and their sum, which purchases and leaving read,
        # so it is kept rather than summed each time. It decays once a day, at the day start.
        self.satisfaction = zeros(s, n)
        self.drivers = zeros(s, len(DRIVERS), n)
        self.satisfaction_clock = Clock(beh.satisfaction.half_life_days)
        self.today = 0
        self.floor = -self.members.satisfaction0  # the index cannot go below 0 ...
        self.ceiling = 100.0 - self.members.satisfaction0  # ... nor above 100
        self.lift = zeros(s, n)  # relative increase of the purchase rate, daily decay
        # The largest stored lift over strategies: stored on the same clock, it stays exact,
        # and it bounds every strategy's purchase rate (the daily step's candidate buyers).
        self.lift_max = zeros(n)
        self.lift_clock = Clock(beh.lift.half_life_days)
        # How the lift acts on each member's rate (sim.model.lift); None: it multiplies it.
        self.lift_weight = None
        if beh.lift.rate_elasticity < 1:
            reference = self.members.mean_rate[self.members.segment]
            self.lift_weight = rate_weight(self.members.rate, reference, beh.lift.rate_elasticity)
        # Extra purchases a day from clicks (conversion_per_click), on the lift's clock, and
        # their largest over strategies, a bound as lift_max is; kept only when on.
        on = beh.lift.conversion_per_click > 0
        self.conversion = zeros(s, n) if on else None
        self.conversion_max = zeros(n if on else 0)
        # Purchase debt from pull-forward (purchases), repaid as it decays; kept only when on.
        self.debt = zeros(s, n) if beh.lift.pull_forward > 0 else zeros(s, 0)
        self.debt_clock = Clock(beh.lift.pull_forward_half_life_days)
        # Purchases/day while active, 0 once lapsed at baseline and under every strategy; and
        # its bound over every satisfaction level the member can reach (the index is at most
        # 100).
        self.rate = self.members.rate.copy()
        self.rate_bound = self.rate * self._rate_factor(slice(None))
        self.last_open = never()  # day
        self.balance = np.tile(  # points
            self.program.opening(self.members.progress, self.members.join_day), (s, 1)
        )
        self.last_activity = np.broadcast_to(self.members.join_day, (s, n)).astype(np.float32)
        self.multiplier = np.ones((s, n), dtype=np.float32)
        self.multiplier_until = never()
        self.bonus = zeros(s, n, dtype=np.int64)  # points on the next purchase
        self.bonus_until = never()
        self.discount = zeros(s, n)  # fraction off the next purchases
        self.discount_until = never()

    def _rate_factor(self, idx: np.ndarray | slice) -> np.ndarray:
        """The largest purchase multiplier of members idx (satisfaction at 100, rewards)."""
        slope = self.behaviour.satisfaction.purchase_slope
        return np.float32(purchase_multiplier(self.ceiling[idx], slope) * self.program.bound())

    def lapsed_of(self, s: int) -> np.ndarray:
        """Mask over all members: lapsed under strategy s (at baseline when lapse does not
        depend on the strategy)."""
        return self.lapsed if self.lapsed_under is None else self.lapsed_under[s]

    def lapse(self, idx: np.ndarray) -> None:
        """BG/NBD dropout of members idx today: lapsed at baseline and under every strategy,
        so they buy nowhere and leave the candidate buyers."""
        if idx.size == 0:  # most days at small sizes
            return
        self.lapsed[idx] = True
        if self.lapsed_under is not None:
            self.lapsed_under[:, idx] = True
        self.rate[idx] = 0
        self.rate_bound[idx] = 0

    def contact_lapse(self, s: int, idx: np.ndarray) -> None:
        """Members idx (unique, active under s) lapse under strategy s alone. Their rate is
        kept while the baseline or another strategy still has them active."""
        assert self.lapsed_under is not None
        if idx.size == 0:  # most messages
            return
        self.lapsed_under[s][idx] = True
        gone = np.compress(self.lapsed.take(idx) & self.lapsed_under[:, idx].all(axis=0), idx)
        self.rate[gone] = 0
        self.rate_bound[gone] = 0

    def revive(self, s: int, idx: np.ndarray) -> None:
        """Members idx (unique, lapsed under s) become active again under strategy s: they
        buy at their own rate, so they are candidate buyers again."""
        assert self.lapsed_under is not None
        if idx.size == 0:  # most messages
            return
        self.lapsed_under[s][idx] = False
        self.rate[idx] = self.members.rate.take(idx)
        self.rate_bound[idx] = self.rate.take(idx) * self._rate_factor(idx)

    def start_day(self, d: int) -> None:
        """Day d begins: satisfaction and lift take their daily decay (by the clock)."""
        self.today = d
        self.pressure_clock.restart(d, [self.pressure, self.pressure_total])
        self.satisfaction_clock.restart(d, [self.satisfaction, self.drivers])
        lifts = [self.lift, self.lift_max]
        if self.conversion is not None:
            lifts += [self.conversion, self.conversion_max]
        self.lift_clock.restart(d, lifts)
        self.debt_clock.restart(d, [self.debt])

    def satisfaction_delta(self, s: int, idx: np.ndarray) -> np.ndarray:
        """Index minus baseline of members idx, index points, with the index clipped to 0-100."""
        status = _NO_STATUS  # the status term: none without tiers, else one per member
        if self.program.tiers is not None:
            status = np.float32(self.program.status_satisfaction(s, idx, self.today))
        return _clipped_sum(
            self.satisfaction[s], idx, self.satisfaction_clock.factor(self.today), status,
            self.floor, self.ceiling,
        )  # fmt: skip

    def satisfaction_sum(self, s: int, idx: np.ndarray) -> np.ndarray:
        """Sum of the drivers of members idx (unclipped), index points."""
        return self.satisfaction[s].take(idx) * self.satisfaction_clock.factor(self.today)

    def driver_values(self, s: int, idx: np.ndarray) -> np.ndarray:
        """Drivers (driver, member) of members idx, index points."""
        return self.drivers[s][:, idx] * self.satisfaction_clock.factor(self.today)

    def add_to_drivers(
        self, s: int, idx: np.ndarray, changes: dict[int, np.ndarray | float]
    ) -> None:
        """Add index points to drivers of members idx (unique): ``{driver: change}``, one or
        two drivers. A change is one value or one per member (float32, or float64 where a
        category's relevance is); the drivers and their sum are float32, added in the type
        NumPy's ``+=`` would use, in one pass."""
        if idx.size == 0:
            return
        scale = 1 / self.satisfaction_clock.factor(self.today)
        # A Python number takes float32 here, as NumPy's arithmetic with the float32 scale does.
        (d1, c1), *rest = [
            (d, c if isinstance(c, np.ndarray) and c.ndim == 1 else np.atleast_1d(np.float32(c)))
            for d, c in changes.items()
        ]
        if len(rest) > 1:
            raise ValueError("add_to_drivers takes one or two drivers")
        d2, c2 = rest[0] if rest else (d1, c1)
        _add_to_drivers(
            self.drivers[s], self.satisfaction[s], idx, scale, d1, c1, d2, c2, bool(rest)
        )

    def add_conversion(self, s: int, idx: np.ndarray, rate: np.ndarray | float) -> None:
        """Add ``rate`` extra purchases a day, as of today, to members idx (unique): it fades
        with the lift (conversion on)."""
        assert self.conversion is not None
        stored = (rate / self.lift_clock.factor(self.today)).astype(np.float32)
        self.conversion[s][idx] += stored
        self.conversion_max[idx] = np.maximum(
            self.conversion_max.take(idx), self.conversion[s].take(idx)
        )

    def next_expiry(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Each member's next expiry under strategy s: (day, points); (inf, 0) when nothing
        is due to expire. For scheduling expiry reminders."""
        expiry = self.program.expiry[s]
        if expiry.kind == "inactivity":
            held = self.balance[s] > 0
            day = np.where(held, self.last_activity[s] + expiry.days, np.inf)
            return day, np.where(held, self.balance[s], 0)
        if expiry.kind == "none":
            n = self.members.size
            return np.full(n, np.inf), np.zeros(n, dtype=np.int64)
        return self.program.next_expiry(s)

    def in_program(self, s: int, n: int) -> np.ndarray:
        """Mask of the first n members (those joined) still in the program under strategy s."""
        return ~self.left[s, :n]

    def reachable(self, s: int, channel: int, n: int) -> np.ndarray:
        """Mask of joined members who can receive on ``channel``: in program, opted in, no exit."""
        return ~self.left[s, :n] & self.consent[s, channel, :n] & ~self.exited[s, channel, :n]

    def reachable_any(self, s: int, n: int) -> np.ndarray:
        """Mask of the first n members reachable on some channel under strategy s."""
        reachable = np.zeros(n, dtype=bool)
        for c in range(len(CHANNELS)):
            reachable |= self.reachable(s, c, n)
        return reachable

    def reachable_among(self, s: int, channel: int, idx: np.ndarray) -> np.ndarray:
        """Mask over members idx: in program, opted in to ``channel``, no exit from it."""
        return reachable_mask(self.left[s], self.consent[s, channel], self.exited[s, channel], idx)

    def complained_among(self, s: int, idx: np.ndarray) -> np.ndarray | None:
        """Mask over members idx who made a spam complaint under strategy s; None when consent
        cannot change after joining (complaints are then not kept)."""
        return None if self.complained is None else self.complained[s].take(idx)

    def grant_consent(self, s: int, channel: int, idx: np.ndarray) -> None:
        """Members idx opt in to ``channel`` under strategy s: reachable on it again."""
        self.consent[s, channel, idx] = True
        self.exited[s, channel, idx] = False

    def pressure_now(self, s: int, idx: np.ndarray, t: float) -> np.ndarray:
        """Pressure per channel (channel, member) of members idx at time t, pressure units."""
        return self.pressure[s][:, idx] * self.pressure_clock.factor(t)

    def total_pressure_now(self, s: int, idx: np.ndarray, t: float) -> np.ndarray:
        """Total pressure of members idx at time t, pressure units."""
        return self.pressure_total[s].take(idx) * self.pressure_clock.factor(t)

    def add_pressure(
        self, s: int, channel: int, idx: np.ndarray, amount: np.ndarray, t: float, cross: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add ``amount`` (pressure units, float32, at time t) to members idx (unique) on one
        channel, and return each member's excess then: on the channel (its pressure felt
        there, ``fatigue.felt`` with ``cross`` the cross-channel weight) and in total, each
        ``fatigue.excess`` over the member's tolerance. One pass, in float32 as those
        functions compute (tests/test_fused.py checks it against them)."""
        factor = self.pressure_clock.factor(t)
        return _add_pressure(
            self.pressure[s, channel], self.pressure_total[s], idx, amount, factor,
            np.float32(cross), self.members.tolerance,
        )  # fmt: skip


@njit(cache=True)
def _clipped_sum(stored, idx, factor, status, floor, ceiling):  # type: ignore[no-untyped-def]
    """clip(stored[idx] * factor + status, floor[idx], ceiling[idx]) in one pass, all
    float32 (status: one value, or one per member of idx), as ``np.clip`` does it: on a tie
    the bound is kept, so even a signed zero comes out the same."""
    out = np.empty(idx.size, dtype=np.float32)
    one = status.size == 1
    for k in range(idx.size):
        i = idx[k]
        v = stored[i] * factor + status[0 if one else k]
        v = v if v > floor[i] else floor[i]
        out[k] = v if v < ceiling[i] else ceiling[i]
    return out


@njit(cache=True)
def _add_to_drivers(drivers, total, idx, scale, d1, c1, d2, c2, two):  # type: ignore[no-untyped-def]
    """drivers[d][idx] += c * scale for each (d, c), and total[idx] += their sum; each sum in
    the type of its operands (a float64 change is added in float64, then stored as float32)."""
    one1, one2 = c1.size == 1, c2.size == 1
    for k in range(idx.size):
        i = idx[k]
        s1 = c1[0 if one1 else k] * scale
        drivers[d1, i] = drivers[d1, i] + s1
        t1 = np.float32(0.0) + s1
        if two:  # separate names, so that each keeps its own type
            s2 = c2[0 if one2 else k] * scale
            drivers[d2, i] = drivers[d2, i] + s2
            t2 = t1 + s2
            total[i] = total[i] + t2
        else:
            total[i] = total[i] + t1


@njit(cache=True)
def _add_pressure(on, total, idx, amount, factor, cross, tolerance):  # type: ignore[no-untyped-def]
    """State.add_pressure's pass: stored = amount / factor added to both, then
    excess(felt(on * factor, total * factor, cross), tol) and excess(total * factor, tol)."""
    excess_on = np.empty(idx.size, dtype=np.float32)
    excess_all = np.empty(idx.size, dtype=np.float32)
    for k in range(idx.size):
        i = idx[k]
        stored = amount[k] / factor
        on[i] = on[i] + stored
        total[i] = total[i] + stored
        now_on, now_all = on[i] * factor, total[i] * factor
        felt = now_on + cross * (now_all - now_on)
        x = felt / tolerance[i] - np.float32(1.0)
        excess_on[k] = x if x > 0 else np.float32(0.0)
        x = now_all / tolerance[i] - np.float32(1.0)
        excess_all[k] = x if x > 0 else np.float32(0.0)
    return excess_on, excess_all


@njit(cache=True)
def reachable_mask(left, opt_in, exited, idx):  # type: ignore[no-untyped-def]
    """Mask over members idx reachable on one channel: in the program (not ``left``), opted in
    and no exit from it (the three arrays are per member, for one strategy and channel); one
    pass instead of three gathers."""
    out = np.empty(idx.size, dtype=np.bool_)
    for k in range(idx.size):
        i = idx[k]
        out[k] = not left[i] and opt_in[i] and not exited[i]
    return out
