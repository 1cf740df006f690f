"""The fit's optimiser: L-BFGS-B in coordinates scaled by the parameters' covariance, and
that covariance from the members' scores (docs/fit.md, section 3). The response fit and the
profile likelihood (sim.fitting.profile) both maximise with it."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from sim.fitting.likelihood import Likelihood

# The optimiser's coordinates are scaled by the parameters' covariance (minimise), with
# variances capped at this (unconstrained units squared: a rate's log varying by a factor of
# e), so a parameter the log does not inform is not thrown across its range in one step.
WHITEN_CAP = 1.0


def box(bounds: list) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper ends of L-BFGS-B's ``bounds`` as arrays (None: unbounded)."""
    low = np.array([-np.inf if b[0] is None else b[0] for b in bounds], dtype=float)
    high = np.array([np.inf if b[1] is None else b[1] for b in bounds], dtype=float)
    return low, high


def minimise(
    lik: Likelihood,
    x: np.ndarray,
    bounds: list,
    ftol: float,
    spread: np.ndarray,
    radius: float | None = None,
) -> optimize.OptimizeResult:
    """L-BFGS-B from x in the coordinates y of x + spread @ y, with x held in ``bounds``.

    The likelihood's ridges (tolerance, half-life and fatigue slopes trade off) make it badly
    conditioned on the parameters' own scales: there the quasi-Newton memory spends most of
    its iterations learning the curvature again in every round. Scaled by a covariance, the
    curvature is near the identity (a 1,000-member log: 138 evaluations for the fit instead
    of 406, docs/fit.md section 3). Bounds are boxes in x but not in y, so y is free and x
    is projected on the box, with a penalty outside it, zero on the box, that leads back to
    it. The projection has corners where the search can stall, so when the end point is
    off the box or the search did not converge, L-BFGS-B finishes from there on the box in x
    (most fits end inside the bounds, where this never runs).

    With ``radius``, no coordinate of y moves further than that from 0 (a trust region, in
    the covariance's standard errors): the nodes, placed at x, are then still placed well
    for wherever the search ends (``settle``)."""
    low, high = box(bounds)
    back = np.linalg.pinv(spread)  # x distances to y units: the penalty is in standard errors

    def objective(y: np.ndarray) -> tuple[float, np.ndarray]:
        point = x + spread @ y
        inside = np.clip(point, low, high)
        value, grad = lik(inside)
        out = back @ (point - inside)
        clipped = point != inside  # there the projection does not move with x
        grad = np.where(clipped, back.T @ out, grad)
        return value + 0.5 * float(out @ out), spread.T @ grad

    options = {"maxiter": 1000, "ftol": ftol, "gtol": 1e-5}
    region = None if radius is None else [(-radius, radius)] * x.size
    result = optimize.minimize(
        objective, np.zeros(x.size), jac=True, method="L-BFGS-B", bounds=region, options=options
    )
    point = x + spread @ result.x
    result.x = np.clip(point, low, high)
    if np.any(point != result.x) or not result.success:
        # A bound holds (or the search stopped on the projection's corners): finish on the
        # box in the parameters' own coordinates, where L-BFGS-B handles bounds exactly.
        scaled = result.nit
        if radius is not None:  # the same trust region, as a box around x
            reach = radius * np.sqrt(np.diag(spread @ spread.T))
            low, high = np.maximum(low, x - reach), np.minimum(high, x + reach)
            bounds = list(zip(low, high, strict=True))
        result = optimize.minimize(
            lik, result.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
        result.nit += scaled
    return result


def score_covariance(
    lik: Likelihood, x: np.ndarray, free: np.ndarray | slice = slice(None)
) -> np.ndarray:
    """The inverse of the information matrix of the ``free`` parameters at x (the others
    held), estimated as the outer product of the members' scores (BHHH): the likelihood is only
    piecewise smooth in the fatigue parameters (every message has a kink where its pressure
    meets a tolerance node), so a finite-difference Hessian picks up the corners; the scores'
    outer product needs no second derivative."""
    scores = lik.members(x)[1][:, free]
    return inverse(scores.T @ scores)


def whitening(
    lik: Likelihood, x: np.ndarray, free: np.ndarray, covariance: np.ndarray | None = None
) -> np.ndarray:
    """A square root of the covariance of the ``free`` parameters (zero rows and columns for
    the others, which therefore stay where they are): the covariance given, or the scores' at
    x. Variances above WHITEN_CAP (parameters the log hardly informs) are capped at it, so a
    step of one unit never throws a parameter far."""
    given = score_covariance(lik, x, free) if covariance is None else covariance[np.ix_(free, free)]
    w, v = np.linalg.eigh(given)
    root = (v * np.sqrt(np.clip(w, 0.0, WHITEN_CAP))) @ v.T
    spread = np.zeros((x.size, x.size))
    spread[np.ix_(free, free)] = root
    return spread


def inverse(hessian: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric Hessian, with directions of no curvature (a flat
    likelihood: the data say nothing there) given a huge variance instead of failing."""
    w, v = np.linalg.eigh(hessian)
    floor = max(float(np.abs(w).max()), 1.0) * 1e-10
    return (v / np.maximum(w, floor)) @ v.T


# Settling (``settle``): each round moves no parameter further than RADIUS standard errors
# from where its nodes were placed. The nodes of one placement are good near it only, and a
# search let loose climbs into wherever they flatter the likelihood: by 8-12 log-likelihood
# units on the 300- and 1,000-member logs of docs/fit.md section 7, measured with the nodes
# placed afresh at the point it reached. At most SETTLE_ROUNDS rounds; settled when no free
# parameter moved by more than SETTLED standard errors, or when a round raised the
# log-likelihood (nodes placed afresh) by less than SETTLE_GAIN units: what one standard error
# costs in a quadratic likelihood, so the points the rounds could still reach are ones the
# data cannot tell from it. Along the ridge of the fatigue mechanism the rounds otherwise
# creep on: on a 1,000-member log ten rounds gained 1.6 units in all (docs/fit.md, section 7).
RADIUS, SETTLE_ROUNDS, SETTLED, SETTLE_GAIN = 1.0, 10, 0.1, 0.5


def settle(
    lik: Likelihood,
    x: np.ndarray,
    bounds: list,
    ftol: float,
    covariance: np.ndarray,
    free: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Maximise from x over the ``free`` parameters (the others held where they are) in
    rounds of node placement, each within the trust region RADIUS around where its nodes
    were placed, scaled by ``covariance``; the highest log-likelihood, with the nodes placed
    afresh at each point, of the points the rounds began and ended at, and that point (its
    nodes placed). A round's maximum under its own nodes can be lower under nodes placed
    there, so the best point met is kept, never lower than x itself; a round that gains less
    than SETTLE_GAIN over it ends the settling."""
    se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    held = [b if f else (v, v) for b, f, v in zip(bounds, free, x, strict=True)]
    best, best_x = -np.inf, x
    for _ in range(SETTLE_ROUNDS):
        lik.adapt(x)
        log_l = -lik(x)[0]
        gain = log_l - best
        if log_l > best:
            best, best_x = log_l, x
        if gain < SETTLE_GAIN:
            if best_x is not x:
                lik.adapt(best_x)
            return best, best_x
        spread = whitening(lik, x, free, covariance)
        result = minimise(lik, x, held, ftol, spread, RADIUS)
        step, x = np.abs(result.x - x), result.x
        if np.all(step[free] <= SETTLED * se[free]):
            break
    lik.adapt(x)
    log_l = -lik(x)[0]
    if log_l < best:
        lik.adapt(best_x)
        return best, best_x
    return log_l, x
