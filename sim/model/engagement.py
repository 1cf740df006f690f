"""Member engagement correlated with purchasing: a Gaussian copula on the purchase rate.

Each member gets a standard-normal engagement factor

    z_e = rho * z_lambda + sqrt(1 - rho^2) * eps,   z_lambda = Phi^-1(F_Gamma(lambda)),

where F_Gamma is the CDF of the member's segment's Gamma(r, alpha) purchase-rate law, so
z_lambda is the member's rank in its segment as a normal score (exactly standard normal), eps an
independent standard normal, and corr(z_lambda, z_e) = rho. The factor shifts the logit of
opening by beta_o * z_e (and of clicking given an open by beta_k * z_e) plus a constant per
channel that keeps the population's mean response at the channel's base rate (``open_offset``,
``click_offset``). All quantities are dimensionless.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, special

from sim.model.jit import compiled
from sim.model.response import logit

# Gauss-Hermite nodes (probabilists') for means over a standard normal: the integrands are
# smooth (logistic curves), so 64 nodes are exact to about 1e-12 for slopes up to 5.
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
_WEIGHTS = _WEIGHTS / np.sqrt(2.0 * np.pi)
# Normal scores are clipped here: a Gamma draw that underflows to 0 (shape below 1) has CDF 0
# and an infinite score. Phi(-8.3) is about 5e-17, below any rank a population can resolve.
_SCORE_LIMIT = 8.3


def normal_score(rate: np.ndarray, shape: float, rate_parameter: float) -> np.ndarray:
    """Phi^-1(F(rate)) for F the CDF of Gamma(shape, rate ``rate_parameter``): the member's
    rank in its segment as a standard-normal score. ``rate`` and ``rate_parameter`` in the same
    time unit (purchases/day and days). The upper half uses the survival function, so scores
    stay exact where F rounds to 1."""
    x = np.asarray(rate, dtype=np.float64) * rate_parameter
    lower = special.gammainc(shape, x)
    upper = special.gammaincc(shape, x)
    score = np.where(lower < 0.5, special.ndtri(lower), -special.ndtri(upper))
    return np.clip(score, -_SCORE_LIMIT, _SCORE_LIMIT)


def factor(score: np.ndarray, noise: np.ndarray, correlation: float) -> np.ndarray:
    """z_e = rho * z_lambda + sqrt(1 - rho^2) * eps: standard normal with correlation rho to
    the score when both inputs are independent standard normals."""
    return correlation * score + np.sqrt(1.0 - correlation**2) * noise


def mean_response(
    base: float, slope: float, offset: float, weight: np.ndarray | None = None
) -> float:
    """E[w(Z) expit(logit(base) + offset + slope Z)] / E[w(Z)] over Z ~ N(0, 1), with w a
    weight at the quadrature nodes (1 if None)."""
    values = special.expit(logit(base) + offset + slope * _NODES)
    w = _WEIGHTS if weight is None else _WEIGHTS * weight
    return float(np.dot(w, values) / w.sum())


def _centre(base: float, slope: float, weight: np.ndarray | None) -> float:
    """The offset c at which ``mean_response`` equals ``base``."""
    if slope == 0.0 or not 0.0 < base < 1.0:
        return 0.0
    return float(
        optimize.brentq(
            lambda c: mean_response(base, slope, c, weight) - base, -50.0, 50.0, xtol=1e-12
        )
    )


@lru_cache(maxsize=64)
def open_offset(open_rate: float, open_slope: float) -> float:
    """Logit offset c_o with E[expit(logit(o) + c_o + beta_o Z)] = o: at the reference point
    (relevance 0.5, no excess) the population's mean open probability is the channel's base
    open rate o. (A symmetric shift of the logit alone moves the mean towards 1/2.)"""
    return _centre(open_rate, open_slope, None)


@lru_cache(maxsize=64)
def click_offset(
    open_rate: float, click_rate: float, open_slope: float, click_slope: float
) -> float:
    """Logit offset c_k of the click-to-open logit with
    E[P(open | Z) P(click | open, Z)] = k (the channel's clicks per delivered message) at the
    reference point: the click-to-open rate k / o is centred over the members who open, who
    are weighted by their open probability."""
    if open_rate == 0.0:
        return 0.0
    opens = special.expit(
        logit(open_rate) + open_offset(open_rate, open_slope) + open_slope * _NODES
    )
    return _centre(click_rate / open_rate, click_slope, opens)


def logit_shifts(
    engagement: np.ndarray, idx: np.ndarray, open_: tuple[float, float], click: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """What members idx's factors z_e (``engagement``, every member's) add to the open and the
    click-to-open logits: slope * z_e + offset for each (slope, offset) pair, in float32, in
    one pass."""
    return _shifts(
        engagement, idx, np.float32(open_[0]), np.float32(open_[1]), np.float32(click[0]),
        np.float32(click[1]),
    )  # fmt: skip


@compiled
def _shifts(z, idx, open_slope, open_offset, click_slope, click_offset):  # type: ignore[no-untyped-def]
    opens = np.empty(idx.size, dtype=np.float32)
    clicks = np.empty(idx.size, dtype=np.float32)
    for k in range(idx.size):
        e = z[idx[k]]
        opens[k] = open_slope * e + open_offset
        clicks[k] = click_slope * e + click_offset
    return opens, clicks


def base_rates(
    open_intercept: float, click_intercept: float, open_slope: float, click_slope: float
) -> tuple[float, float]:
    """The channel's base open and click rates (per delivered message, population means at
    the reference point) of members whose open logit is ``open_intercept + open_slope Z`` and
    click-to-open logit ``click_intercept + click_slope Z``: the inverse of ``open_offset``
    and ``click_offset``, for rates estimated on the logit scale."""
    opens = special.expit(open_intercept + open_slope * _NODES)
    clicks = special.expit(click_intercept + click_slope * _NODES)
    return float(_WEIGHTS @ opens), float(_WEIGHTS @ (opens * clicks))
