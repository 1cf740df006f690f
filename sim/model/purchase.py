"""Purchases: BG/NBD while active, modulated by satisfaction and message lift.

A member's day has a Poisson number of purchases at rate lambda * multiplier, drawn by inverse
CDF from one uniform per member-day. Strategies share that uniform, so a higher multiplier never
gives fewer purchases (a monotone coupling: common random numbers at their strongest).
Lapse follows BG/NBD on the baseline (multiplier 1) purchases: the member drops out after the
J-th baseline purchase, J ~ Geometric(p).
"""

from __future__ import annotations

import numpy as np

from sim.model.jit import compiled

# Above this many purchases in a day the inverse CDF stops: at daily rates below ~5 it is
# never reached (P < 1e-15), and it keeps a corrupt rate from looping.
MAX_PURCHASES_PER_DAY = 60


def poisson_quantile(u: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse CDF of Poisson(mean) at u, sparse: (members with >= 1 purchase, their counts).

    u: uniforms in [0, 1); mean: expected purchases in the period (>= 0), same shape.
    Only members past the zero class are iterated, so the cost follows the purchases. The
    zero class is tested in the precision of ``mean`` (float32 for daily rates: a rate below
    ~3e-8 a day rounds to never buying); the counts themselves are computed in float64.
    """
    pmf = np.exp(-mean)
    buyers = (u >= pmf).nonzero()[0]
    if buyers.size == 0:  # the usual case at small sizes
        return buyers, np.ones(0, dtype=np.int32)
    m_i = mean[buyers].astype(np.float64)
    # The exponentials are NumPy's (a compiled exp may differ in the last bit); the rest of
    # the inverse CDF is one compiled loop per buyer.
    return buyers, _counts(u, buyers, m_i, np.exp(-m_i))


@compiled
def _counts(u, buyers, mean, zero):  # type: ignore[no-untyped-def]
    """The inverse CDF of Poisson(mean) at u[buyers] (past the zero class), from each buyer's
    P(0) = ``zero``, summing the probabilities k = 1, 2, ... in float64 until the CDF reaches
    u, stops growing, or MAX_PURCHASES_PER_DAY is reached."""
    counts = np.ones(buyers.size, dtype=np.int32)
    for j in range(buyers.size):
        x, m = np.float64(u[buyers[j]]), mean[j]
        pmf = zero[j] * m
        cdf = zero[j] + pmf
        k = 2
        while x >= cdf and k <= MAX_PURCHASES_PER_DAY:
            counts[j] = k
            pmf = pmf * (m / k)
            before = cdf
            cdf = before + pmf
            # A uniform within rounding of 1 can exceed every representable CDF value: stop
            # where the CDF no longer grows, where the distribution's mass is exhausted.
            if not cdf > before:
                break
            k += 1
    return counts


def dropout_after(u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Index J >= 1 of the purchase after which a member lapses, J ~ Geometric(p), from u."""
    with np.errstate(divide="ignore", over="ignore"):  # p = 0: never lapses
        j = np.ceil(np.log1p(-u) / np.log1p(-np.minimum(p, 1.0 - 1e-12)))
    return np.maximum(j, 1.0)


def spend(
    counts: np.ndarray,
    spend_mean: np.ndarray,
    tables: np.ndarray,
    segment: np.ndarray,
    u: np.ndarray,
) -> np.ndarray:
    """Gross spend of each member's purchases that day, currency.

    One Gamma-Gamma draw per member-day: the member's mean spend times the segment's
    mean-one quantile table (segment, cell) at uniform u. Several purchases on one day share
    that basket value (rare at daily rates).
    """
    cells = tables.shape[-1]
    cell = np.minimum((u * cells).astype(np.int64), cells - 1)
    return counts * spend_mean * tables[segment, cell]


def bgnbd_active_share(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """BG/NBD P(active at t) for a member active at 0: the share that has not dropped out.

    Dropout comes after a Geometric(p) number of purchases at rate lambda, so its time is
    exponential with rate lambda p; over lambda ~ Gamma(r, alpha) and p ~ Beta(a, b),
    E[exp(-lambda p t)] = E_p[(alpha / (alpha + p t))^r] = 2F1(r, a; a + b; -t / alpha) (Euler's
    integral), evaluated after Pfaff's transformation as
    (1 + x)^-a 2F1(a + b - r, a; a + b; x / (1 + x)), x = t / alpha: its argument lies in
    [0, 1), where scipy's series converges (at -t / alpha far below -1 it returns NaN for some
    parameters). t and alpha in the same time unit.
    """
    from scipy.special import hyp2f1

    x = t / alpha
    return float((1.0 + x) ** -a * hyp2f1(a + b - r, a, a + b, x / (1.0 + x)))


def bgnbd_expected_purchases(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """BG/NBD E[X(t)]: expected repeat purchases in (0, t] for a member active at 0.

    Fader, Hardie & Lee (2005), eq. 9; t and alpha in the same time unit.
    """
    from scipy.special import hyp2f1

    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
