"""BG/NBD (Fader, Hardie & Lee 2005): likelihood, maximum-likelihood fit and closed forms.

A customer's repeat purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha)
while active; after each repeat purchase the customer drops out with probability
p ~ Beta(a, b). Data per customer: x repeat purchases, the last at t_x, observed for T time
units after the first purchase. alpha, t_x, T and t share one time unit (days here).

The maximum-likelihood helper :func:`maximise` is shared with the Gamma-Gamma spend model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.special import betaln, digamma, gammaln, hyp2f1

from sim.model.purchase import bgnbd_expected_purchases

NAMES: tuple[str, ...] = ("r", "alpha", "a", "b")

# Log-parameters are searched in [-LOG_BOUND, LOG_BOUND]: wide enough for any rate in any
# time unit, narrow enough that gammaln and powers stay finite during the line search.
LOG_BOUND = 25.0
# Central-difference step of the Hessian in log-parameter space (relative step of ~1e-4).
HESSIAN_STEP = 1e-4
# Largest per-customer gradient in log-parameters accepted as a maximum: it leaves the
# estimate well within a standard error of the maximum for logs of millions of customers.
GRADIENT_TOLERANCE = 1e-6
Z95 = stats.norm.ppf(0.975)

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Fit:
    """Maximum-likelihood estimates with their uncertainty.

    Standard errors come from the Hessian of the negative log-likelihood in log-parameters
    (central differences of the analytic gradient), mapped to the natural parameters by the
    delta method: se(theta) = theta * se(log theta). Intervals are Wald intervals in log space,
    exp(log theta +- z se), which keep positive parameters positive and cover better.
    """

    names: tuple[str, ...]
    estimate: np.ndarray  # natural parameters, in ``names`` order
    cov_log: np.ndarray  # covariance of the log-parameters (NaN if the Hessian is singular)
    log_likelihood: float  # at the estimate, summed over customers
    n: int  # customers in the fit
    converged: bool
    message: str  # why the fit is doubtful, "" if it is not

    @property
    def params(self) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.names, self.estimate, strict=True)}

    @property
    def se(self) -> np.ndarray:
        return self.estimate * np.sqrt(np.diag(self.cov_log))

    def interval(self, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds, by default 95%."""
        half = z * np.sqrt(np.diag(self.cov_log))
        # A parameter the data hardly inform (a tiny export) has a log-scale spread whose
        # exponential overflows: its upper bound is then infinite, as it should be.
        with np.errstate(over="ignore"):
            return self.estimate * np.exp(-half), self.estimate * np.exp(half)


def maximise(objective: Objective, start: np.ndarray, names: tuple[str, ...], n: int) -> Fit:
    """Maximum likelihood over log-parameters.

    objective(log_theta) returns the negative log-likelihood summed over n customers and its
    gradient with respect to log_theta. The search runs on the per-customer mean so that its
    tolerances do not depend on the sample size.
    """

    def scaled(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(log_theta)
        return value / n, grad / n

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            scaled,
            np.log(start),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
        )
    # Judged by the gradient, not the optimiser's status: at a flat optimum the line search
    # can report failure although no step improves the likelihood any more.
    _, grad = scaled(result.x)
    interior = np.abs(result.x) < LOG_BOUND
    problems = []
    if np.max(np.abs(grad[interior]), initial=0.0) > GRADIENT_TOLERANCE:
        problems.append(f"the optimiser stopped short of the maximum: {result.message}")
    at_bound = [k for k, v in zip(names, result.x, strict=True) if abs(v) > LOG_BOUND - 1]
    if at_bound:
        problems.append(f"{', '.join(at_bound)} ran to the edge of the search: not identified")
    hessian = _hessian(objective, result.x)
    try:
        cov = np.linalg.inv(hessian)
        if np.any(np.diag(cov) <= 0) or not np.all(np.isfinite(cov)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.full_like(hessian, np.nan)
        problems.append("the Hessian is not positive definite: no standard errors")
    value, _ = objective(result.x)
    return Fit(
        names=names,
        estimate=np.exp(result.x),
        cov_log=cov,
        log_likelihood=-float(value),
        n=n,
        converged=not problems,
        message="; ".join(problems),
    )


def _hessian(objective: Objective, at: np.ndarray) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    k = at.size
    hessian = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = HESSIAN_STEP
        hessian[i] = (objective(at + step)[1] - objective(at - step)[1]) / (2 * HESSIAN_STEP)
    return (hessian + hessian.T) / 2


# --- likelihood ------------------------------------------------------------------------------


def _log_likelihood_and_gradient(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood (FHL 2005, eq. 6) and its gradient (4, n) in theta."""
    r, alpha, a, b = theta
    repeat = x > 0
    # L = A * [(alpha+T)^-(r+x) + [x > 0] a / (b+x-1) (alpha+t_x)^-(r+x)], summed in log space.
    log_a = (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x)
        - gammaln(b)
        - gammaln(a + b + x)
    )
    b_x = b + np.maximum(x, 1) - 1  # b + x - 1, kept positive where the term is unused
    alive = -(r + x) * np.log(alpha + T)
    dead = np.where(repeat, np.log(a) - np.log(b_x) - (r + x) * np.log(alpha + t_x), -np.inf)
    top = np.maximum(alive, dead)
    w_alive, w_dead = np.exp(alive - top), np.exp(dead - top)
    total = w_alive + w_dead
    ll = log_a + top + np.log(total)
    # Shares of the two terms: the gradient of log(sum) is the share-weighted gradient.
    s_alive, s_dead = w_alive / total, w_dead / total
    common = digamma(a + b) - digamma(a + b + x)
    grad = np.stack(
        [
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - s_alive * np.log(alpha + T)
            - s_dead * np.log(alpha + t_x),
            r / alpha - (r + x) * (s_alive / (alpha + T) + s_dead / (alpha + t_x)),
            common + s_dead / a,
            common + digamma(b + x) - digamma(b) - s_dead / b_x,
        ]
    )
    return ll, grad


def log_likelihood(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Log-likelihood of each customer's (x, t_x, T) under BG/NBD ``params``."""
    theta = np.array([params[k] for k in NAMES], dtype=np.float64)
    return _log_likelihood_and_gradient(theta, *_arrays(x, t_x, T))[0]


def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Fit:
    """Maximum-likelihood BG/NBD parameters for customers (x, t_x, T), time unit of T."""
    x, t_x, T = _arrays(x, t_x, T)

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        ll, grad = _log_likelihood_and_gradient(theta, x, t_x, T)
        return -float(ll.sum()), -grad.sum(axis=1) * theta

    # Start where the mean rate r / alpha matches purchases per unit of time observed.
    alpha0 = max(float(T.sum()) / max(float(x.sum()), 1.0), 1e-6)
    return maximise(objective, np.array([1.0, alpha0, 1.0, 3.0]), NAMES, int(x.size))


def _arrays(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(c, dtype=np.float64) for c in columns)


# --- closed forms ----------------------------------------------------------------------------


def expected(t: np.ndarray | float, params: dict[str, float]) -> np.ndarray:
    """E[X(t)], expected repeat purchases in (0, t] after a first purchase at 0 (eq. 9)."""
    times = np.atleast_1d(np.asarray(t, dtype=np.float64))
    return np.array([bgnbd_expected_purchases(float(s), **params) for s in times])


def pmf(t: np.ndarray | float, x_max: int, params: dict[str, float]) -> np.ndarray:
    """P(X(t) = x) for x = 0..x_max (FHL 2005, eq. 8); shape (len(t), x_max + 1)."""
    r, alpha, a, b = (params[k] for k in NAMES)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))[:, None]
    x = np.arange(x_max + 1, dtype=np.float64)[None, :]
    # The number of purchases while active is negative binomial: NB(r, alpha / (alpha + t)).
    q = alpha / (alpha + t)
    still = np.exp(betaln(a, b + x) - betaln(a, b)) * stats.nbinom.pmf(x, r, q)
    gone_weight = np.exp(betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b))
    gone = np.where(x > 0, gone_weight * stats.nbinom.sf(x - 1, r, q), 0.0)
    return still + gone


def conditional_expected(
    t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, params: dict[str, float]
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] (FHL 2005, eq. 10)."""
    r, alpha, a, b = (params[k] for k in NAMES)
    x, t_x, T = _arrays(x, t_x, T)
    with np.errstate(over="ignore"):
        future = (a + b + x - 1) / (a - 1)
        future *= 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, t / (alpha + T + t)
        )
        # Odds of having dropped out after the last purchase; overflow means certainly gone.
        gone = a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return future / (1 + np.where(x > 0, gone, 0.0))
