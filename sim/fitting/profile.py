"""Profile-likelihood intervals for single parameters of the response fit (docs/fit.md,
section 3), from Python: the command does not offer them yet (section 7 says why).

The normal approximation reads an interval off the likelihood's curvature at the maximum.
Where parameters trade off along a curved ridge (tolerance, half-life, intrusiveness and the
fatigue slopes), the curvature at the maximum says little about how far the likelihood
stays high, and on logs of 1,000 members those intervals are measured too narrow. The
profile likelihood of parameter j at value v is the likelihood maximised over the other
parameters with x_j held at v; the interval holds the v whose profile is within
chi2_1(level) / 2 of the maximum. It rests on the likelihood-ratio statistic, measured
chi-squared at the truth on the same logs.

The end of each side is found on the signed root r(v) = sqrt(2 (log L_max - log L_p(v))),
close to linear in v, by scipy's brentq once a step outwards has crossed the level; each
evaluation is a maximisation over the other parameters, walked out from the estimate, so
that it follows the ridge. Such a maximum is found to within about a log-likelihood unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from sim.fitting.likelihood import Likelihood
from sim.fitting.optimiser import box, settle

# A profile point is reached from the last in strides of at most this many standard errors.
# With strides of 1 (and 0.5), on the 150-member log of the tests, a point reached in one
# stride could land in a local maximum 2 log-likelihood units below the one a walk in smaller
# strides finds there, and an interval end was then placed at that jump of the profile.
STRIDE = 0.25
# Steps outwards before the side is bracketed: each grows the distance by at most GROWTH.
STEPS, GROWTH, OVERSHOOT = 6, 3.0, 1.2
# The end of a side is found to this fraction of the parameter's standard error.
PRECISION = 0.05


@dataclass(frozen=True)
class Profile:
    """One parameter's profile-likelihood interval on the optimiser's scale.

    ``low`` or ``high`` is the bound itself where the profile had not fallen far enough
    there (``open_low``, ``open_high``); ``above`` is how far the highest profile point
    rose above the maximum (log-likelihood units; 0 if none did: a higher point means the fit
    stopped at a local maximum)."""

    low: float
    high: float
    open_low: bool
    open_high: bool
    evaluations: int
    above: float


class ProfileLikelihood:
    """The profile likelihood of parameter j about the maximum x (log-likelihood ``top``),
    its points kept as they are found."""

    def __init__(
        self,
        lik: Likelihood,
        x: np.ndarray,
        top: float,
        covariance: np.ndarray,
        j: int,
        bounds: list,
        ftol: float,
    ) -> None:
        self.lik, self.top, self.j = lik, top, j
        self.bounds, self.ftol = bounds, ftol
        self.free = np.ones(x.size, dtype=bool)
        self.free[j] = False
        # The others' covariance given x_j: the scale of a search with x_j held, and the
        # direction they move in with x_j to first order (the warm start).
        cov = covariance
        self.slope = cov[:, j] / cov[j, j]
        self.conditional = cov - np.outer(cov[:, j], cov[j, :]) / cov[j, j]
        self.se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        self.low, self.high = box(bounds)
        self.centre = float(x[j])
        self.points: dict[float, tuple[float, np.ndarray]] = {self.centre: (top, x)}
        self.highest = top

    def log_l(self, value: float) -> float:
        """The profile log-likelihood at x_j = value, reached from the estimate outwards: from
        the nearest value already profiled between the estimate and ``value``, in strides of
        at most STRIDE standard errors. A far jump lands off the ridge, where settling, step
        by step in its trust region, does not get back; and a point reached from further out
        can be caught in another local maximum than the walk out finds."""
        value = float(value)
        near = self._inward(value)
        stride = STRIDE * self.se[self.j]
        while abs(value - near) > stride:
            near = near + np.sign(value - near) * stride
            self._settle(near)
        return self._settle(value)

    def _inward(self, value: float) -> float:
        """The value profiled nearest to ``value`` between it and the estimate."""
        inside = [v for v in self.points if (v - self.centre) * (value - v) >= 0]
        return min(inside, key=lambda v: abs(v - value))

    def _settle(self, value: float) -> float:
        """The profile at ``value``, from the nearest point profiled: with the others where
        they are there, or moved along their regression on x_j, whichever is higher."""
        if value in self.points:
            return self.points[value][0]
        near = self._inward(value)
        start, best = None, -np.inf
        for shift in (0.0, value - near):
            x = np.clip(self.points[near][1] + self.slope * shift, self.low, self.high)
            x[self.j] = value
            self.lik.adapt(x)
            log_l = -self.lik(x)[0]
            if log_l > best:
                start, best = x, log_l
        log_l, x = settle(self.lik, start, self.bounds, self.ftol, self.conditional, self.free)
        self.points[value] = (log_l, x)
        self.highest = max(self.highest, log_l)
        return log_l

    def ratio(self, value: float) -> float:
        """The likelihood-ratio statistic 2 (log L_max - log L_p(value)), 0 where the profile
        is at or above the maximum."""
        return max(2.0 * (self.top - self.log_l(value)), 0.0)

    def root(self, value: float) -> float:
        """The distance r(v) from the maximum in root-chi-squared units."""
        return float(np.sqrt(self.ratio(value)))


def interval(path: ProfileLikelihood, level: float) -> Profile:
    """The profile-likelihood interval at ``level`` of the parameter ``path`` profiles, about
    its maximum; the normal approximation's standard error sets the first steps and the
    precision."""
    z = float(np.sqrt(stats.chi2.ppf(level, 1)))
    j, top = path.j, path.top
    se, centre = path.se[j], path.centre
    ends, open_ends = [], []
    for sign, bound in ((-1.0, path.bounds[j][0]), (1.0, path.bounds[j][1])):
        limit = sign * np.inf if bound is None else float(bound)
        inside, distance, end, is_open = centre, z * se, None, False
        for _ in range(STEPS):
            value = centre + sign * distance
            if sign * (value - limit) >= 0:
                value = limit
            r = path.root(value)
            if r >= z:
                end = optimize.brentq(
                    lambda v: path.root(v) - z, min(inside, value), max(inside, value),
                    xtol=PRECISION * se,
                )  # fmt: skip
                break
            if value == limit:
                end, is_open = value, True
                break
            inside = value
            # r is close to linear in v: aim past the level, by OVERSHOOT, so as to bracket it
            # (aiming at it, the steps would creep up on it from inside), but not more than
            # GROWTH times as far out.
            distance *= min(OVERSHOOT * z / max(r, z / GROWTH), GROWTH)
        if end is None:  # not crossed within STEPS: as far as the walk went
            end, is_open = inside, True
        ends.append(float(end))
        open_ends.append(is_open)
    return Profile(
        low=ends[0],
        high=ends[1],
        open_low=open_ends[0],
        open_high=open_ends[1],
        evaluations=len(path.points) - 1,
        above=path.highest - top,
    )
