"""Profile-likelihood intervals (sim.fitting.profile) against a closed form: a Poisson
log-rate with a nuisance parameter tied to it, whose profile likelihood is the Poisson's own
and whose interval ends are given by the Lambert W function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import QUICK
from scipy import special, stats

from sim.fitting.likelihood import Likelihood, Nodes
from sim.fitting.profile import PRECISION, ProfileLikelihood, interval
from sim.fitting.responses import BOUNDS, FTOL_UNITS, fit_responses, messages, sensitivity_law
from sim.io.eventlog import read_event_log
from sim.spec.scenario import Scenario

N, TIE = 4.0, 4.0  # events observed with rate 1 per unit exposure; how tightly x2 follows x1
SETTLING = 0.6  # how closely a profile point on a real log resolves r (see its test)


class _Poisson:
    """-log L = N (e^x1 - x1) + TIE (x2 - x1)^2 / 2: N events at rate e^x1, and a nuisance x2
    tied to x1. Maximised over x2 (x2 = x1) it leaves N (e^x1 - x1): the profile of x1 is the
    Poisson's. The nodes of a real likelihood do not exist here, so adapting does nothing."""

    def adapt(self, x: np.ndarray) -> None:
        pass

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x[1] - x[0]
        value = N * (np.exp(x[0]) - x[0]) + TIE * d * d / 2
        return float(value), np.array([N * (np.exp(x[0]) - 1) - TIE * d, TIE * d])


def _closed_form(level: float) -> tuple[float, float]:
    """The ends v of 2 N (e^v - v - 1) = chi2_1(level): with A = 1 + chi2 / (2N),
    e^v = v + A, so v = -A - W(-e^-A) on the two real branches of W."""
    a = 1 + stats.chi2.ppf(level, 1) / (2 * N)
    ends = [-a - special.lambertw(-np.exp(-a), k).real for k in (-1, 0)]
    return min(ends), max(ends)


def _path(bounds: list) -> ProfileLikelihood:
    """The profile of x1 about the maximum (0, 0)."""
    f = _Poisson()
    return ProfileLikelihood(f, np.zeros(2), -f(np.zeros(2))[0], _covariance(), 0, bounds, 1e-12)


def _covariance() -> np.ndarray:
    """The inverse Hessian at the maximum (0, 0): the normal approximation's covariance."""
    return np.linalg.inv(np.array([[N + TIE, -TIE], [-TIE, TIE]]))


@pytest.mark.parametrize("level", [0.90, 0.95])
def test_the_profile_interval_is_the_closed_form(level: float) -> None:
    """The ends match the closed form within the precision asked (a fraction of the standard
    error), and they are not the normal approximation's: this profile is skewed, its upper
    end nearer the maximum than the lower."""
    f, cov = _Poisson(), _covariance()
    se = np.sqrt(cov[0, 0])
    bounds = [(None, None), (None, None)]
    p = interval(
        ProfileLikelihood(f, np.zeros(2), -f(np.zeros(2))[0], cov, 0, bounds, 1e-12), level
    )
    low, high = _closed_form(level)
    assert p.low == pytest.approx(low, abs=PRECISION * se)
    assert p.high == pytest.approx(high, abs=PRECISION * se)
    assert not (p.open_low or p.open_high)
    assert p.above == pytest.approx(0.0, abs=1e-6)
    z = stats.norm.ppf(0.5 + level / 2)
    assert abs(low + z * se) > 3 * PRECISION * se  # the normal interval would miss it
    assert high - 0 < 0 - low


def test_a_profile_that_does_not_fall_far_enough_ends_at_the_bound() -> None:
    """With a bound inside the interval, that side ends at the bound and says so; the other
    side is unchanged."""
    low, high = _closed_form(0.95)
    p = interval(_path([(None, high / 2), (None, None)]), 0.95)
    assert p.high == high / 2 and p.open_high
    assert not p.open_low
    assert p.low == pytest.approx(low, abs=PRECISION * np.sqrt(_covariance()[0, 0]))


def test_a_profile_on_a_log_ends_where_the_likelihood_ratio_reaches_its_level(
    small_log: Path, fit_base: Scenario
) -> None:
    """On a simulated log, each closed end of the half-life's profile interval is where the
    likelihood maximised over the other parameters, profiled afresh, has fallen by
    chi2_1(0.95) / 2 from the maximum, within what settling a profile point resolves; the
    interval holds the estimate and is not the normal one."""
    m = messages(read_event_log(small_log).sends)
    fit = fit_responses(m, fit_base, QUICK)
    lay, x = fit.layout, fit.x
    nodes = Nodes.build(QUICK.tolerance, QUICK.engagement, *sensitivity_law(fit_base), 1)
    lik = Likelihood(m, lay, nodes)
    lik.adapt(x)
    top = -lik(x)[0]
    assert top == pytest.approx(fit.log_likelihood, abs=0.01)  # the nodes placed at x
    bounds = [BOUNDS.get(n, (None, None)) for n in lay.names]
    ftol = FTOL_UNITS / abs(top)
    j = lay.index("log_half_life")
    p = interval(ProfileLikelihood(lik, x, top, fit.covariance, j, bounds, ftol), 0.95)
    assert p.low < x[j] < p.high
    z = np.sqrt(stats.chi2.ppf(0.95, 1))
    se = np.sqrt(fit.covariance[j, j])
    # A profile point is a maximum found to within about half a log-likelihood unit (the
    # nodes' kinks, the settling's stopping rule): on r = sqrt(2 (log L_max - log L_p)) near
    # the level, about SETTLING.
    ends = [(p.low, p.open_low), (p.high, p.open_high)]
    for end, is_open in ends:
        if not is_open:
            lik.adapt(x)
            again = ProfileLikelihood(lik, x, top, fit.covariance, j, bounds, ftol)
            assert again.root(end) == pytest.approx(z, abs=SETTLING)
    normal = (x[j] - z * se, x[j] + z * se)
    assert max(abs(a - b) for a, b in zip((p.low, p.high), normal, strict=True)) > 2 * SETTLING * se
