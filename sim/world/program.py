"""The loyalty program's member state beyond the balance: tier status, points lots, spend
targets, redemption days, and each strategy's IFRS 15 ledger. Only what the scenario's program
uses is allocated.

The daily step calls ``start_day`` for each strategy before its purchases (tier windows roll,
lots expire, targets end, holds end); purchases call ``rate_multiplier``, ``earn_multiplier``,
``qualify``, ``earned`` and ``redeemed``; leaving and inactivity call ``forfeit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from sim.model import lots as lot_model
from sim.model import rewards
from sim.model import tiers as tier_model
from sim.model.liability import PointsLedger
from sim.spec.scenario import Scenario
from sim.spec.strategy import SpendTargetOffer

_NOBODY = np.empty(0, dtype=np.intp)
_LN2 = np.log(2.0)  # as rewards.rewarded_behaviour computes it


@dataclass
class Targets:
    """Spend-target offers held by members of one strategy: spend so far, goal, reward, end."""

    spent: np.ndarray
    goal: np.ndarray
    reward: np.ndarray
    until: np.ndarray
    # Members whose target ends on a day: checked that day, so misses are found sparsely.
    ending: dict[int, list[np.ndarray]] = field(default_factory=dict)


class ProgramState:
    """Per-strategy program state of one replication's n members."""

    def __init__(self, scenario: Scenario, strategies: list[str], n: int) -> None:
        program, beh = scenario.program, scenario.behaviour
        self.program, self.rewards = program, beh.rewards
        # The goal gradient moves purchases within a run-up to a reward rather than adding
        # them: divided by its long-run mean it leaves the average rate at the calibrated one
        # (the data the rates were fitted to had the program in it).
        self.goal_mean = rewards.goal_mean(beh.rewards.goal_strength, beh.rewards.goal_curvature)
        # Without points to earn there is no reward to work towards.
        self.earning = program.points_per_currency > 0
        s = len(strategies)
        self.ledgers = [PointsLedger(program.expected_redemption_rate) for _ in range(s)]
        self.last_redeemed = np.full((s, n), -np.inf, dtype=np.float32)  # day

        tiers = program.tiers
        self.tiers = tiers
        if tiers is not None:
            levels = list(tiers.levels.values())
            self.thresholds = np.array([t.threshold for t in levels])
            # Benefits by level, level 0 (the base tier) first.
            self.tier_earn = np.array([1.0] + [t.earn_multiplier for t in levels])
            self.tier_satisfaction = np.array([0.0] + [t.satisfaction for t in levels], np.float32)
            self.tier_leave = np.array([1.0] + [t.leave_hazard for t in levels])
            self.windows = [
                tier_model.new_window(n, tiers.window, tiers.window_days) for _ in range(s)
            ]
            self.held = [tier_model.new_held(n, len(levels)) for _ in range(s)]
            # Members whose hold ends on a day, by day: checked then, so downgrades are
            # counted sparsely and exactly (a hold renewed in time no longer ends that day).
            self.hold_ends: list[dict[int, list[np.ndarray]]] = [{} for _ in range(s)]

        # A strategy may run the program under its own expiry rule (a lever like any other).
        self.expiry = [scenario.strategies[name].expiry or program.expiry for name in strategies]
        self.lots: list[lot_model.Lots | None] = []
        for expiry in self.expiry:
            if expiry.kind == "lots":
                self.lots.append(lot_model.new_lots(n, "months_after", expiry.months))
            elif expiry.kind == "end_of_next_year":
                self.lots.append(lot_model.new_lots(n, "end_of_next_year"))
            else:
                self.lots.append(None)

        # Inactivity expiry: members filed by the day they become due (``inactive_due``).
        self.inactivity_due: list[dict[int, np.ndarray]] = [{} for _ in strategies]
        self.inactivity_scanned = [0] * len(strategies)

        self.targets: list[Targets | None] = []
        for name in strategies:
            offers = [c.offer for c in scenario.strategies[name].campaigns.values()]
            has_target = any(isinstance(o, SpendTargetOffer) for o in offers)
            self.targets.append(
                Targets(
                    spent=np.zeros(n),
                    goal=np.zeros(n),
                    reward=np.zeros(n, dtype=np.int64),
                    until=np.full(n, -np.inf),
                )
                if has_target
                else None
            )

    def opening(self, progress: np.ndarray, join_day: np.ndarray) -> np.ndarray:
        """Day-0 balances (points) of members with run-up ``progress`` (0-1); booked into
        every strategy's ledger (at their stand-alone value) and lots."""
        program = self.program
        balance = np.zeros(progress.size, dtype=np.int64)
        if program.opening_balance == "steady" and self.earning:
            starting = join_day == 0
            balance[starting] = np.floor(progress[starting] * program.redemption_threshold)
        self.opening_total = int(balance.sum())
        value = self.opening_total * program.point_value * program.expected_redemption_rate
        for s, ledger in enumerate(self.ledgers):
            ledger.issued += self.opening_total
            ledger.allocated += value
            if self.lots[s] is not None:
                lot_model.earn(self.lots[s], balance.nonzero()[0], balance[balance > 0], 0)
        return balance

    # --- tiers ----------------------------------------------------------------------------

    def level(self, s: int, idx: np.ndarray, day: float) -> np.ndarray:
        """Tier level (0 = base) of members idx at ``day``."""
        if self.tiers is None:
            return np.zeros(idx.size, dtype=np.int8)
        return tier_model.level_at(self.held[s][:, idx], day)

    def status_satisfaction(self, s: int, idx: np.ndarray, day: float) -> np.ndarray | float:
        """Index points a member's status adds to satisfaction while it holds."""
        if self.tiers is None:
            return 0.0
        return self.tier_satisfaction[self.level(s, idx, day)]

    def leave_hazard(self, s: int, idx: np.ndarray, day: float) -> np.ndarray | float:
        """Multiplier of the hazard of leaving from the member's status."""
        if self.tiers is None:
            return 1.0
        return self.tier_leave[self.level(s, idx, day)]

    def earn_multiplier(self, s: int, idx: np.ndarray, day: float) -> np.ndarray | float:
        if self.tiers is None:
            return 1.0
        return self.tier_earn[self.level(s, idx, day)]

    def qualify(self, s: int, idx: np.ndarray, amount: np.ndarray, day: float) -> np.ndarray:
        """Add qualifying amounts of buyers idx (unique); returns the members upgraded."""
        if self.tiers is None:
            return _NOBODY
        before = self.level(s, idx, day)
        window = self.windows[s]
        tier_model.add(window, idx, amount)
        qualified = tier_model.qualified_level(window.total[idx], self.thresholds)
        until = tier_model.hold_end(day, self.tiers.window, self.tiers.window_days)
        _, held, upgraded, _ = tier_model.next_status(
            before, self.held[s][:, idx], qualified, day, until
        )
        self.held[s][:, idx] = held
        renewed = idx.compress(qualified > 0)
        if renewed.size:
            self.hold_ends[s].setdefault(int(np.ceil(until)), []).append(renewed)
        return idx.compress(upgraded)

    def start_day(self, s: int, day: int, left: np.ndarray) -> np.ndarray:
        """Day ``day`` begins for strategy s: the tier window rolls to it. Returns the
        members downgraded today: in the program (``left`` is False), with a hold ending
        today (the levels one qualification held end together: one downgrade)."""
        if self.tiers is None:
            return _NOBODY
        tier_model.advance(self.windows[s], day)
        ending = self.hold_ends[s].pop(day, [])
        if not ending:
            return _NOBODY
        idx = np.unique(np.concatenate(ending))
        idx = idx.compress(~left.take(idx))
        held = self.held[s][:, idx]
        return idx.compress(((held > day - 1) & (held <= day)).any(axis=0))

    def tier_counts(self, s: int, idx: np.ndarray, day: float) -> dict[str, int]:
        """Members idx per tier (base tier included) at ``day``."""
        if self.tiers is None:
            return {}
        counts = np.bincount(self.level(s, idx, day), minlength=len(self.thresholds) + 1)
        names = ["base", *self.tiers.levels]
        return {f"tier_{name}": int(c) for name, c in zip(names, counts, strict=True)}

    # --- purchases ------------------------------------------------------------------------

    def rate_multiplier(
        self, s: int, idx: np.ndarray, balance: np.ndarray, day: float
    ) -> np.ndarray:
        """Purchase-rate multiplier of the reward mechanics (goal gradient to the next reward
        and to a held spend target, post-reward reset, rewarded behaviour)."""
        r = self.rewards
        if not self.earning:
            return np.ones(idx.size, dtype=np.float32)
        # rewards.multiplier in three passes around NumPy's exponentials and power, which
        # only members who have redeemed need: for the others the reset and the rewarded
        # behaviour are exactly 1 (tests/test_fused.py holds it to rewards.multiplier).
        progress, redeemed, halvings, growth = _reward_terms(
            balance, self.program.redemption_threshold, self.last_redeemed[s], idx,
            np.float32(day), r.reset_half_life_days, _LN2,
        )  # fmt: skip
        if r.goal_curvature != 1.0:
            progress = progress**r.goal_curvature
        mult = _reward_multiplier(
            progress, r.goal_strength, redeemed, np.exp2(halvings), r.reset_depth,
            np.expm1(growth), r.rewarded_lift, self.goal_mean,
        )  # fmt: skip
        targets = self.targets[s]
        if targets is not None:
            active = targets.until.take(idx) >= day
            goal = np.where(active, targets.goal.take(idx), 1.0)  # no goal: no progress
            progress = np.where(active, targets.spent.take(idx) / goal, 0.0)
            gain = 1.0 + r.goal_strength * np.minimum(progress, 1.0) ** r.goal_curvature
            mult = mult * gain
        return mult.astype(np.float32)

    def reward_multiplier(self, balance: np.ndarray, since: np.ndarray) -> np.ndarray:
        """Goal gradient (normalised), post-reward reset and rewarded behaviour, given the
        balance (points) and the days since the last redemption (inf: never)."""
        r = self.rewards
        mult = rewards.multiplier(
            balance,
            self.program.redemption_threshold,
            since,
            r.goal_strength,
            r.goal_curvature,
            r.reset_depth,
            r.rewarded_lift,
            r.reset_half_life_days,
        )
        return mult / self.goal_mean

    def bound(self) -> float:
        """Largest possible ``rate_multiplier``."""
        r = self.rewards
        if not self.earning:
            return 1.0
        extra = 1.0 + r.goal_strength if any(t is not None for t in self.targets) else 1.0
        return rewards.upper_bound(r.goal_strength, r.rewarded_lift) * extra / self.goal_mean

    def redeemed(self, s: int, idx: np.ndarray, points: np.ndarray, day: float) -> None:
        """Members idx (unique) exchange ``points`` for rewards on ``day``."""
        self.last_redeemed[s][idx] = day
        if self.lots[s] is not None:
            lot_model.redeem(self.lots[s], idx, points)
        self.ledgers[s].redeem(int(points.sum()))

    def earned(
        self, s: int, idx: np.ndarray, points: np.ndarray, net: np.ndarray, day: float
    ) -> None:
        """Book points earned by members idx on purchases paying ``net``."""
        if self.lots[s] is not None:
            lot_model.earn(self.lots[s], idx, points, day)
        self.ledgers[s].earn(net, points, self.program.point_value)

    # --- targets ----------------------------------------------------------------------------

    def offer_target(self, s: int, who: np.ndarray, offer: SpendTargetOffer, t: float) -> None:
        """Members who opened take the target; one already held is kept."""
        targets = self.targets[s]
        # A target ending today is over (today's purchases came before the sends), but it is
        # only counted as missed tomorrow: until then it is not replaced.
        free = who.compress(targets.until.take(who) < np.floor(t))
        end = float(np.ceil(t + offer.days))
        targets.spent[free] = 0.0
        targets.goal[free] = offer.spend
        targets.reward[free] = offer.points
        targets.until[free] = end
        targets.ending.setdefault(int(end), []).append(free)

    def target_progress(
        self, s: int, idx: np.ndarray, net: np.ndarray, day: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add purchases to held targets; returns (members who reached theirs, bonus points)."""
        targets = self.targets[s]
        active = (targets.until.take(idx) >= day).nonzero()[0]
        who = idx.take(active)
        spent = targets.spent.take(who) + net.take(active)
        targets.spent[who] = spent
        reached = spent >= targets.goal.take(who)
        done = who.compress(reached)
        targets.until[done] = -np.inf  # a target pays once
        return done, targets.reward.take(done)

    def missed_targets(self, s: int, day: int) -> np.ndarray:
        """Members whose target ended yesterday unreached."""
        targets = self.targets[s]
        if targets is None:
            return np.empty(0, dtype=np.intp)
        ended = targets.ending.pop(day - 1, [])
        if not ended:
            return np.empty(0, dtype=np.intp)
        idx = np.unique(np.concatenate(ended))
        # Still holding the target that ended yesterday: it was not reached.
        missed = idx.compress(targets.until.take(idx) == day - 1)
        targets.until[missed] = -np.inf
        return missed

    # --- expiry -----------------------------------------------------------------------------

    def inactive_due(self, s: int, day: int, last_activity: np.ndarray, days: int) -> np.ndarray:
        """Members whose last activity (whole days) is exactly ``days`` before ``day``.

        Rather than comparing every member every day, a scan every ``min(7, days)`` days files
        the members due in that many coming days under their day. A member's last activity
        only ever moves to the current day, so no member can become due later within that
        period; on the day, those whose last activity has not moved are due."""
        period = min(7, days)
        due = self.inactivity_due[s]
        if day >= self.inactivity_scanned[s]:
            start = day - days
            idx = ((last_activity >= start) & (last_activity < start + period)).nonzero()[0]
            when = last_activity.take(idx).astype(np.int64) + days
            for d in range(day, day + period):
                due[d] = idx.compress(when == d)
            self.inactivity_scanned[s] = day + period
        idx = due.pop(day, np.empty(0, dtype=np.intp))
        return idx.compress(last_activity.take(idx) == day - days)

    def expire_lots(self, s: int, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Points whose lot expires by ``day``, booked as expired: (members, points)."""
        if self.lots[s] is None:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
        idx, points = lot_model.expire_due(self.lots[s], day)
        self.ledgers[s].expire(int(points.sum()))
        return idx, points

    def forfeit(self, s: int, idx: np.ndarray, points: np.ndarray) -> None:
        """Members idx lose their whole balance, ``points``."""
        if self.lots[s] is not None and idx.size:
            lot_model.forfeit(self.lots[s], idx)
        self.ledgers[s].expire(int(points.sum()))

    def next_expiry(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Each member's next lot expiry: (day, points); (inf, 0) without lots or points."""
        if self.lots[s] is None:
            raise ValueError("next_expiry needs lot-based expiry (lots or end_of_next_year)")
        return lot_model.next_expiry(self.lots[s])


@njit(cache=True)
def _reward_terms(  # type: ignore[no-untyped-def]
    balance, threshold, last_redeemed, idx, day, half_life, ln2
):
    """The inputs of rewards.multiplier's terms for members idx (balances ``balance``, last
    redemption days ``last_redeemed`` of the strategy) on ``day`` (float32): the progress to
    the next reward (float64), the positions of members who have redeemed, and for them the
    exponents of the reset's 2^(-days / half-life) (float32) and of the rewarded
    behaviour's expm1(-ln 2 days / half-life) (float64), in the types rewards computes."""
    n = idx.size
    progress = np.empty(n)
    redeemed = np.empty(n, np.int64)
    halvings, growth = np.empty(n, np.float32), np.empty(n)
    m = 0
    for k in range(n):
        progress[k] = np.float64(balance[k] % threshold) / np.float64(threshold)
        since = day - last_redeemed[idx[k]]
        if np.isfinite(since):
            redeemed[m] = k
            halvings[m] = -since / np.float32(half_life)
            growth[m] = -ln2 * np.float64(since) / half_life
            m += 1
    return progress, redeemed[:m].copy(), halvings[:m].copy(), growth[:m].copy()


@njit(cache=True)
def _reward_multiplier(  # type: ignore[no-untyped-def]
    progress, strength, redeemed, halved, depth, grown, lift, goal_mean
):
    """rewards.multiplier / goal_mean, float64: the goal gradient 1 + strength * progress
    (``progress`` already raised to the curvature) times, for the members at ``redeemed``,
    the reset 1 - depth * halved (float32) and the rewarded behaviour 1 + lift * -grown."""
    mult = np.empty(progress.size)
    for k in range(progress.size):
        mult[k] = 1.0 + strength * progress[k]
    for j in range(redeemed.size):
        k = redeemed[j]
        reset = np.float32(1.0) - np.float32(depth) * halved[j]
        mult[k] = mult[k] * np.float64(reset) * (1.0 + lift * -grown[j])
    for k in range(progress.size):
        mult[k] = mult[k] / goal_mean
    return mult
