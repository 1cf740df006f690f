"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999).

Each transaction's value is Gamma(p, nu) with the customer's nu ~ Gamma(q, v) (rates), so a
customer's mean value p / nu has mean p v / (q - 1) across customers (finite for q > 1). The
fit uses customers with x >= 1 repeat transactions and their mean repeat value m (currency).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from sim.calibration.bgnbd import Fit, maximise

NAMES: tuple[str, ...] = ("p", "q", "v")


def _log_likelihood_and_gradient(
    theta: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log density of the mean m of x values, and its gradient (3, n) in theta."""
    p, q, v = theta
    px = p * x
    log_vm = np.log(v + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vm
    )
    grad = np.stack(
        [
            x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_vm),
            digamma(px + q) - digamma(q) + np.log(v) - log_vm,
            q / v - (px + q) / (v + m * x),
        ]
    )
    return ll, grad


def log_likelihood(params: dict[str, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Log density of each customer's mean value m over x >= 1 transactions."""
    theta = np.array([params[k] for k in NAMES], dtype=np.float64)
    return _log_likelihood_and_gradient(theta, np.asarray(x, float), np.asarray(m, float))[0]


def fit(x: np.ndarray, m: np.ndarray) -> Fit:
    """Maximum-likelihood (p, q, v) from frequencies x >= 1 and mean values m > 0."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        ll, grad = _log_likelihood_and_gradient(theta, x, m)
        return -float(ll.sum()), -grad.sum(axis=1) * theta

    # Start at q = 2 with the mean spend p v / (q - 1) equal to the observed mean.
    start = np.array([1.0, 2.0, max(float(m.mean()), 1e-6)])
    return maximise(objective, start, NAMES, int(x.size))
