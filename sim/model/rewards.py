"""Purchase dynamics around rewards: multipliers of a member's daily purchase rate.

All multipliers are dimensionless and broadcast over member arrays; their product scales the
baseline rate. ``days_since_redemption`` is in days, ``np.inf`` for members who never redeemed.

* Goal gradient (Kivetz, Urminsky & Zheng 2006, JMR; coffee-card field study): purchases
  speed up as the next reward nears.
* Post-reward reset (same study): right after a reward the rate dips, then recovers.
* Rewarded behaviour (Dorotic, Verhoef, Fok & Bijmolt 2014: purchases rise both before and
  after redemption): a small lift that builds as the dip fades and then lasts.
"""

from __future__ import annotations

import numpy as np

# Inter-purchase time fell by about 20% from the first to the last stamp (Kivetz et al.).
KIVETZ_SHORTENING = 0.20
# Assumptions consistent with the reported dip after the reward and the lasting lift, not
# estimates; together with the goal gradient's normalisation (``goal_mean``) they leave the
# demo population's mean purchase rate within about 0.5% of the calibrated one (docs/model.md).
RESET_DEPTH = 0.10
RESET_HALF_LIFE = 7.0  # days
REWARDED_LIFT = 0.03


def strength_for_shortening(
    fraction: float, progress_start: float = 0.0, progress_end: float = 1.0, curvature: float = 1.0
) -> float:
    """Goal-gradient strength that shortens the mean inter-purchase time by ``fraction``
    between progress_start and progress_end. Purchases are Poisson, so the mean time is 1/rate
    and (1 + s a) / (1 + s b) = 1 - fraction with a, b the progress terms; for the whole run-up
    (0 to 1) s = 1 / (1 - fraction) - 1."""
    a, b = progress_start**curvature, progress_end**curvature
    return fraction / ((1.0 - fraction) * b - a)


def expected_shortening(
    strength: float, progress_start: float, progress_end: float, curvature: float = 1.0
) -> float:
    """Fractional shortening of the mean inter-purchase time from progress_start to
    progress_end: 1 - (1 + s a) / (1 + s b)."""
    a, b = progress_start**curvature, progress_end**curvature
    return 1.0 - (1.0 + strength * a) / (1.0 + strength * b)


# 20% over the run-up from progress 0 to 1: rate_end / rate_start = 1 / 0.8 = 1.25.
GOAL_STRENGTH = strength_for_shortening(KIVETZ_SHORTENING)


def goal_mean(strength: float, curvature: float = 1.0) -> float:
    """Long-run mean of the goal gradient for a member earning points at a steady pace.

    Points accrue in proportion to purchases, so a member spends time dp / (1 + s p^c) at
    each bit of progress: the long-run rate is the harmonic mean over progress,
    1 / integral_0^1 dp / (1 + s p^c) (s / ln(1 + s) for c = 1). Dividing the goal gradient
    by it keeps the long-run purchase rate at the baseline: the gradient moves purchases
    towards the reward rather than adding any."""
    from scipy.integrate import quad

    if strength == 0:
        return 1.0
    return 1.0 / quad(lambda p: 1.0 / (1.0 + strength * p**curvature), 0.0, 1.0)[0]


def goal_gradient(
    balance: np.ndarray,
    threshold: float,
    strength: float = GOAL_STRENGTH,
    curvature: float = 1.0,
) -> np.ndarray:
    """1 + strength * progress**curvature, progress = (balance mod threshold) / threshold in
    [0, 1): the run-up to the next reward (points; threshold > 0).

    Default strength 0.25: Kivetz et al. report inter-purchase time about 20% shorter at the
    last stamp than at the first. With Poisson purchases the mean time is 1/rate, so
    rate_end / rate_start = 1 / 0.8 = 1.25 over the run-up from progress 0 to 1 (curvature 1).
    On a card of k stamps the rate is only ever evaluated at progress 0, 1/k, ..., (k-1)/k, so
    the first-to-last shortening in a simulation is smaller: ``expected_shortening``.
    """
    progress = np.mod(balance, threshold) / threshold
    return 1.0 + strength * progress**curvature


def post_reward_reset(
    days_since_redemption: np.ndarray,
    depth: float = RESET_DEPTH,
    half_life: float = RESET_HALF_LIFE,
) -> np.ndarray:
    """1 - depth * 2**(-days / half_life): deepest (1 - depth) just after a redemption, fading
    with the half-life (days); 1 for members who never redeemed (inf days)."""
    return 1.0 - depth * np.exp2(-np.asarray(days_since_redemption) / half_life)


def rewarded_behaviour(
    days_since_redemption: np.ndarray,
    lift: float = REWARDED_LIFT,
    half_life: float = RESET_HALF_LIFE,
) -> np.ndarray:
    """1 + lift * (1 - 2**(-days / half_life)) once a member has redeemed, 1 before (inf days).

    The lift builds as the post-reward dip fades (same half-life, days) and then lasts: a
    member who has been rewarded buys a little more for good. Default 3%, an assumption.
    """
    days = np.asarray(days_since_redemption, dtype=np.float64)
    lifted = 1.0 + lift * -np.expm1(-np.log(2.0) * days / half_life)
    return np.where(np.isfinite(days), lifted, 1.0)


def multiplier(
    balance: np.ndarray,
    threshold: float,
    days_since_redemption: np.ndarray,
    strength: float = GOAL_STRENGTH,
    curvature: float = 1.0,
    depth: float = RESET_DEPTH,
    lift: float = REWARDED_LIFT,
    half_life: float = RESET_HALF_LIFE,
) -> np.ndarray:
    """Product of the goal gradient, the post-reward reset and rewarded behaviour."""
    return (
        goal_gradient(balance, threshold, strength, curvature)
        * post_reward_reset(days_since_redemption, depth, half_life)
        * rewarded_behaviour(days_since_redemption, lift, half_life)
    )


def upper_bound(strength: float = GOAL_STRENGTH, rewarded_lift: float = REWARDED_LIFT) -> float:
    """Least upper bound of ``multiplier`` over all states, (1 + strength) * (1 + lift), for
    strength, lift >= 0 and depth in [0, 1]: the reset never exceeds 1. Progress stays below
    1, so the bound is approached, not reached; it bounds candidate buyers for thinning."""
    return (1.0 + max(strength, 0.0)) * (1.0 + max(rewarded_lift, 0.0))
