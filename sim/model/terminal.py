"""Terminal value: what a member's relationship is still worth at the horizon.

A member who is active (not lapsed) and in the program buys as a Poisson process at rate
lambda (purchases/day) times the strategy's continuation ratio; after each baseline purchase it
drops out with probability p (BG/NBD), and it leaves the program with hazard h (per day). Money
at t days is discounted by exp(-delta t), delta = ln(1 + annual rate) / 365, the continuous
form of the CLV's (1 + annual rate)^(-t / 365).
"""

from __future__ import annotations

import math

import numpy as np

# The final window of the run whose margin flow the strategy is assumed to continue, days: a
# quarter, long enough to average over campaign cycles and short enough to be the run's end.
WINDOW_DAYS = 91


def daily_discount_rate(annual: float) -> float:
    """Continuous discount rate per day, delta = ln(1 + annual) / 365: exp(-delta t) equals
    (1 + annual)^(-t / 365) at every t (days)."""
    return math.log1p(annual) / 365.0


def discounted_purchases(
    rate: np.ndarray,
    dropout: np.ndarray,
    hazard: np.ndarray | float,
    delta: float,
    within: float = math.inf,
) -> np.ndarray:
    """Expected discounted number of purchases from now of an active member (purchases):
    sum_k (1-p)^(k-1) E[exp(-(delta + h) T_k)] = lambda / (delta + p lambda + h), with T_k the
    time of the k-th purchase (Gamma(k, lambda)), counted only within ``within`` days
    (lambda (1 - exp(-k within)) / k, k = delta + p lambda + h). ``rate`` lambda and
    ``hazard`` h are per day, ``dropout`` p per purchase."""
    rate = np.asarray(rate, dtype=np.float64)
    decay = delta + np.asarray(dropout, dtype=np.float64) * rate + hazard
    if math.isinf(within):
        return rate / decay
    return rate * -np.expm1(-decay * within) / decay


def margin_per_currency(
    gross_margin: float, points_per_currency: float, point_value: float
) -> float:
    """Margin per currency of baseline spend, as the CLV counts it: the gross margin less the
    points earned on it at their value (currency/currency)."""
    return gross_margin - points_per_currency * point_value


def continuation_ratio(window_margin: float, window_baseline: float) -> float:
    """The strategy's margin flow relative to the baseline over the final window,
    dimensionless: realised margin (net of message costs) over the margin the same members'
    baseline purchases give. 1 (the baseline) when nobody made a baseline purchase."""
    return window_margin / window_baseline if window_baseline else 1.0


def terminal_value(
    margin_per_purchase: np.ndarray,
    rate: np.ndarray,
    dropout: np.ndarray,
    hazard: np.ndarray | float,
    ratio: float,
    delta: float,
    at: float,
    within: float = math.inf,
) -> float:
    """Value at day 0 of active members' relationships from day ``at`` on, currency:
    exp(-delta at) * ratio * sum_i m_i * discounted_purchases_i, with ``margin_per_purchase``
    m_i the member's mean spend times the margin per currency (currency/purchase) and
    ``ratio`` the strategy's continuation ratio."""
    purchases = discounted_purchases(rate, dropout, hazard, delta, within)
    value = float(np.dot(np.asarray(margin_per_purchase, dtype=np.float64), purchases))
    return math.exp(-delta * at) * ratio * value
