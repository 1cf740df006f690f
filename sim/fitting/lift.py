"""The purchase lift of messages, from randomised variation only: a holdout that received no
marketing messages against the members who did (intention to treat).

Opens are self-selected (engaged members buy more anyway), so purchases after opens say
nothing causal. What the randomised holdout gives is the difference in purchase rate that
being messaged made. The model turns that into its lift scale m (multiplying ``lift.on_open``,
``on_click`` and ``offer`` of the base scenario, docs/model.md section 6): with L_i the
lift-days member i's logged opens add at m = 1 (each open's gain 2r(a_open + a_click [clicked]
+ a_offer [offer]) summed over the days left, decayed with the lift half-life), the treated
members' purchases N_i estimate their own rates as N_i / (d_i + m L_i), and m solves

    sum_T N_i m L_i / (d_i + m L_i) / sum_T d_i = rate_T - rate_C

(d_i days observed). The interval is a bootstrap over members, each arm resampled on its own.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

# Bootstrap replicates of the lift scale; their 2.5% and 97.5% quantiles are the interval.
BOOTSTRAP = 400
# The smallest arm the bootstrap can vary enough: an arm of k members has C(2k - 1, k)
# distinct resamples, fewer than BOOTSTRAP below this size (6). A holdout of one member has a
# single resample, so its interval would be one value and read as certainty.
MIN_ARM = next(k for k in itertools.count(1) if math.comb(2 * k - 1, k) >= BOOTSTRAP)
# The largest lift scale searched (a hundred times the scenario's lift).
MAX_SCALE = 100.0


@dataclass(frozen=True)
class LiftFit:
    """The lift scale m, its bootstrap replicates, and the intention-to-treat difference in
    purchases per member-day (treated minus holdout) with the two arms' sizes."""

    scale: float
    replicates: np.ndarray
    difference: float
    treated: int
    holdout: int

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        tail = (1.0 - level) / 2.0
        low, high = np.quantile(self.replicates, [tail, 1.0 - tail])
        return float(low), float(high)


def lift_days(
    member: np.ndarray,
    day: np.ndarray,
    gain: np.ndarray,
    end: np.ndarray,
    half_life: float,
    members: int,
) -> np.ndarray:
    """L_i: for each member, sum over its opens of gain * sum_{j=1}^{end - day} 2^(-j/h)
    (the lift acts from the next day on, already decayed once; days in whole days).

    member: the opener of each open; day: its day; gain: its lift at m = 1; end: the last
    day of each member's observation; half_life: days."""
    q = 2.0 ** (-1.0 / half_life)
    left = np.maximum(end[member] - np.floor(day), 0.0)
    days = gain * q * (1.0 - q**left) / (1.0 - q)
    return np.bincount(member, weights=days, minlength=members)


def lift_scale(
    purchases: np.ndarray, exposure: np.ndarray, lift: np.ndarray, treated: np.ndarray
) -> float:
    """m solving the moment equation above (0 when being messaged did not raise purchases).

    purchases: N_i; exposure: d_i (days); lift: L_i; treated: mask of messaged members."""
    t, c = treated, ~treated
    observed = purchases[t].sum() / exposure[t].sum() - purchases[c].sum() / exposure[c].sum()
    if observed <= 0 or not np.any(lift[t] > 0):
        return 0.0

    def gap(m: float) -> float:
        extra = purchases[t] * m * lift[t] / (exposure[t] + m * lift[t])
        return extra.sum() / exposure[t].sum() - observed

    if gap(MAX_SCALE) < 0:
        return MAX_SCALE
    return float(optimize.brentq(gap, 0.0, MAX_SCALE, xtol=1e-10))


def fit_lift(
    purchases: np.ndarray,
    exposure: np.ndarray,
    lift: np.ndarray,
    treated: np.ndarray,
    seed: int,
) -> LiftFit:
    """The lift scale and its bootstrap over members (each arm resampled with replacement)."""
    rng = np.random.default_rng(seed)
    arms = [np.flatnonzero(treated), np.flatnonzero(~treated)]
    replicates = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        rows = np.concatenate([rng.choice(arm, arm.size) for arm in arms])
        replicates[b] = lift_scale(purchases[rows], exposure[rows], lift[rows], treated[rows])
    t, c = treated, ~treated
    return LiftFit(
        scale=lift_scale(purchases, exposure, lift, treated),
        replicates=replicates,
        difference=float(
            purchases[t].sum() / exposure[t].sum() - purchases[c].sum() / exposure[c].sum()
        ),
        treated=int(t.sum()),
        holdout=int(c.sum()),
    )
