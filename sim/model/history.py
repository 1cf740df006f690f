"""Purchase rates fitted on data that already holds the company's marketing (``history``).

A BG/NBD population fitted by ``loyaltysim calibrate`` describes purchases as they were under
the plan the company ran (the history plan), lift from its messages included. The simulator
multiplies a member's baseline rate by that lift again, so a member's baseline must be the
fitted rate divided by the plan's mean multiplier, the history factor ``m`` of its segment:

    lambda = lambda_fit / m,    p = min(1, p_fit * m)

Lapse runs on the baseline purchases (docs/model.md, section 3): with Poisson purchases at
rate lambda a day and a Geometric(p) number of purchases before dropout, a member lapses on a
given day with probability 1 - exp(-lambda p). Scaling p by m keeps lambda p, so lifetimes in
calendar time stay as fitted, while the history plan's purchases, at about lambda m = lambda_fit
a day, come out at the fitted rate: the plan reproduces the fitted model, and ``silent`` falls
below it by the factor m. Where p_fit * m > 1 the clip keeps p a probability and the member
lapses at rate lambda_fit / m instead of lambda_fit p_fit (0.2% of members at m = 1.1, 1.4% at
m = 1.25 for the CDNOW estimates a 0.793, b 2.426).
"""

from __future__ import annotations

import numpy as np


def normalise(
    rate: np.ndarray, dropout: np.ndarray, factor: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline purchase rate (purchases/day) and dropout probability (per purchase) of
    members whose fitted values are ``rate`` and ``dropout``, for history factor ``factor``
    (dimensionless, > 0): rate / factor and min(1, dropout * factor)."""
    factor = np.asarray(factor, dtype=np.float64)
    return rate / factor, np.minimum(1.0, dropout * factor)


def daily_lapse(rate: np.ndarray, dropout: np.ndarray) -> np.ndarray:
    """Probability that an active member lapses on a day: 1 - E[(1 - p)^B] for baseline
    purchases B ~ Poisson(rate), rate in purchases/day, p the dropout per purchase."""
    return -np.expm1(-np.asarray(rate, dtype=np.float64) * dropout)


def factor(history: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """History factors per group: the history plan's purchases over the baseline purchases
    of the same member-days (dimensionless); 1 where a group had no baseline purchase."""
    history = np.asarray(history, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    out = np.ones_like(baseline)
    np.divide(history, baseline, out=out, where=baseline > 0)
    return out


def factor_se(
    history: np.ndarray, baseline: np.ndarray, group: np.ndarray, groups: int
) -> np.ndarray:
    """Standard errors of the history factors, members as independent units: the ratio
    estimator's linearisation sqrt(n/(n-1) sum_i (h_i - m b_i)^2) / sum_i b_i per group, with
    h_i and b_i a member's history and baseline purchases and m its group's factor."""
    h = np.bincount(group, weights=history, minlength=groups)
    b = np.bincount(group, weights=baseline, minlength=groups)
    m = factor(h, b)
    n = np.bincount(group, minlength=groups)
    spread = np.bincount(group, weights=(history - m[group] * baseline) ** 2, minlength=groups)
    out = np.full(groups, np.nan)
    ok = (n > 1) & (b > 0)
    out[ok] = np.sqrt(spread[ok] * n[ok] / (n[ok] - 1)) / b[ok]
    return out
