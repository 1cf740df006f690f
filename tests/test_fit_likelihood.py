"""The engagement likelihood (sim.fitting): its value against a direct integral of the model
as docs/model.md states it, and its gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from sim.fitting.likelihood import Layout, Likelihood, Messages, Nodes, _cells, below_the_peak
from sim.fitting.responses import tolerance_nodes

# One member, five messages on the three channels, every outcome represented.
TIME = np.array([0.0, 0.5, 1.0, 3.0, 3.2])
CHANNEL = np.array([0, 1, 0, 2, 0])
RELEVANCE = np.array([0.3, 0.5, 0.8, 0.6, 0.5])
OPENED = np.array([True, True, False, True, False])
CLICKED = np.array([True, False, False, False, False])
EXITED = np.array([False, False, False, False, True])
COMPLAINED = np.array([False, False, False, False, True])
LAYOUT = Layout(channels=(0, 1, 2), clicks=(0, 1, 2), complaints=True, relevance=True)
VALUES = {
    "open.email": -1.2, "open.sms": 1.5, "open.push": -2.5,
    "click.email": -1.5, "click.sms": -2.5, "click.push": -1.8,
    "log_exit.email": np.log(0.05), "log_exit.sms": np.log(0.03), "log_exit.push": np.log(0.02),
    "logit_complaint_share.email": special.logit(0.2),
    "log_intrusiveness.sms": np.log(2.5), "log_intrusiveness.push": np.log(1.8),
    "log_half_life": np.log(2.0), "logit_cross_channel": special.logit(0.5),
    "fatigue.open": 1.0, "fatigue.click": 0.8, "fatigue.exit": 1.5,
    "relevance.open": 0.6, "relevance.click": 1.0, "relevance.exit": 0.7,
    "log_tolerance_median": np.log(1.5), "log_tolerance_sigma": np.log(0.6),
    "engagement.open": 1.0, "engagement.click": 0.4,
}  # fmt: skip


def _messages(n_members: int = 1) -> Messages:
    k = TIME.size
    return Messages(
        starts=np.arange(n_members) * k,
        counts=np.full(n_members, k),
        time=np.tile(TIME, n_members),
        channel=np.tile(CHANNEL, n_members),
        relevance=np.tile(RELEVANCE, n_members),
        opened=np.tile(OPENED, n_members),
        clicked=np.tile(CLICKED, n_members),
        exited=np.tile(EXITED, n_members),
        complained=np.tile(COMPLAINED, n_members),
    )


def _x() -> np.ndarray:
    return np.array([VALUES[name] for name in LAYOUT.names])


def _log_direct(
    values: dict[str, float],
    m: Messages,
    tolerance: np.ndarray,
    engagement: np.ndarray,
    sensitivity: float,
) -> np.ndarray:
    """The log-likelihood of one member's messages ``m`` at each (tolerance, engagement) pair
    of the broadcast arrays, at one sensitivity, written from docs/model.md section 4 message
    by message, each term a logarithm of its own."""
    v = values
    w = np.array([1.0, np.exp(v["log_intrusiveness.sms"]), np.exp(v["log_intrusiveness.push"])])
    kappa, h = special.expit(v["logit_cross_channel"]), np.exp(v["log_half_life"])
    names = ("email", "sms", "push")
    pressure, last, log_like = np.zeros(3), 0.0, 0.0
    rows = zip(m.time, m.channel, m.relevance, m.opened, m.clicked, m.exited, m.complained,
               strict=True)  # fmt: skip
    for t, c, r, o, k, x, q in rows:
        pressure *= 2.0 ** (-(t - last) / h)
        last = t
        pressure[c] += np.exp(0.5 * sensitivity * (1 - 2 * r))
        felt = w[c] * pressure[c] + kappa * sum(w[d] * pressure[d] for d in range(3) if d != c)
        excess = np.maximum(0.0, felt / tolerance - 1.0)
        rel = sensitivity * (2 * r - 1)
        eta_open = (
            v[f"open.{names[c]}"] + v["relevance.open"] * rel - v["fatigue.open"] * excess
            + v["engagement.open"] * engagement
        )  # fmt: skip
        eta_click = (
            v[f"click.{names[c]}"] + v["relevance.click"] * rel - v["fatigue.click"] * excess
            + v["engagement.click"] * engagement
        )  # fmt: skip
        hazard = np.exp(v["fatigue.exit"] * excess - v["relevance.exit"] * rel)
        # P(exit) = min(1, x H), at most 1 - 1e-12 as in the kernel.
        p_exit = np.minimum(np.exp(v[f"log_exit.{names[c]}"]) * hazard, 1 - 1e-12)
        share = special.expit(v["logit_complaint_share.email"]) if c == 0 else 0.0
        if o:
            log_like = log_like + special.log_expit(eta_open)
            log_like = log_like + special.log_expit(eta_click if k else -eta_click)
        else:
            log_like = log_like + special.log_expit(-eta_open)
        if x:
            log_like = log_like + np.log(p_exit * (share if q else 1 - share))
        else:
            log_like = log_like + np.log1p(-p_exit)
    return log_like


def test_likelihood_is_the_integral_of_the_model() -> None:
    """With many nodes the quadrature matches a direct double integral over tolerance and
    engagement (sensitivity fixed at 1), by the trapezoidal rule on a fine grid, to four
    digits."""
    nodes = Nodes.build(tolerance=400, engagement=40, sensitivity_median=1.0,
                        sensitivity_sigma=0.0, sensitivity=1)  # fmt: skip
    value = -Likelihood(_messages(), LAYOUT, nodes)(_x())[0]
    mu, sigma = VALUES["log_tolerance_median"], np.exp(VALUES["log_tolerance_sigma"])
    u = np.linspace(-9.0, 9.0, 6001)[:, None]
    z = np.linspace(-9.0, 9.0, 1201)[None, :]
    like = np.exp(_log_direct(VALUES, _messages(), np.exp(mu + sigma * u), z, 1.0))
    density = like * stats.norm.pdf(u) * stats.norm.pdf(z)
    direct = integrate.trapezoid(integrate.trapezoid(density, z[0], axis=1), u[:, 0])
    assert value == pytest.approx(np.log(direct), abs=1e-4)


def test_adapted_nodes_keep_the_integral() -> None:
    """Moving the nodes to a member's posterior (engagement) and below its largest pressure
    (tolerance) changes the rule, not the integral: with enough nodes both agree, to the
    accuracy of the direct integral above."""
    nodes = Nodes.build(200, 30, 1.0, 0.4, 3)
    lik = Likelihood(_messages(), LAYOUT, nodes)
    before = lik(_x())[0]
    lik.adapt(_x())
    assert lik(_x())[0] == pytest.approx(before, abs=1e-4)


@pytest.mark.parametrize("open_logit", [10.0, 400.0])
def test_the_rule_is_summed_to_the_last_digit_at_extreme_logits(open_logit: float) -> None:
    """The kernel's shortcuts (the open and click terms of a node summed as the logarithm of
    a running product of 1 + e^eta, folded as it grows; logits too large for e^eta taken the
    slow way) against the same rule summed term by term: 400 messages with likely opens and
    clicks (the product folds many times), and a logit of 400 (e^400 is out of range)."""
    repeats = 80
    one = _messages()
    m = Messages(
        starts=np.array([0]),
        counts=np.array([repeats * TIME.size]),
        time=(TIME[None, :] + 4.0 * np.arange(repeats)[:, None]).ravel(),
        **{f: np.tile(getattr(one, f), repeats) for f in
           ("channel", "relevance", "opened", "clicked", "exited", "complained")},
    )  # fmt: skip
    values = VALUES | {"open.email": open_logit, "click.email": open_logit}
    x = np.array([values[name] for name in LAYOUT.names])
    lik = Likelihood(m, LAYOUT, Nodes.build(5, 3, 1.0, 0.0, 1))
    lik.adapt(x)
    theta = np.exp(
        values["log_tolerance_median"] + np.exp(values["log_tolerance_sigma"]) * lik.tol[0]
    )
    terms = (
        _log_direct(values, m, theta[:, None], lik.eng[0], 1.0)
        + lik.tol_w[0][:, None]
        + lik.eng_w[0]
    )
    assert lik.members(x)[0][0] == pytest.approx(special.logsumexp(terms), rel=1e-12)


@pytest.mark.parametrize("adapted", [False, True])
def test_gradient_matches_finite_differences(adapted: bool) -> None:
    rng = np.random.default_rng(3)
    lik = Likelihood(_messages(4), LAYOUT, Nodes.build(6, 4, 1.0, 0.4, 2))
    x = _x() + rng.normal(0, 0.1, len(LAYOUT.names))
    if adapted:
        lik.adapt(x)
    grad = lik(x)[1]
    step = 1e-6
    for i, name in enumerate(LAYOUT.names):
        e = np.zeros_like(x)
        e[i] = step
        numeric = (lik(x + e)[0] - lik(x - e)[0]) / (2 * step)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6), name


@pytest.mark.parametrize("top", [-2.0, 0.3, 2.5, 6.0])
def test_the_tolerance_rule_integrates_a_function_flat_above_the_peak(top: float) -> None:
    """E[f(U)] for f(u) = exp(min(u - top, 0)), flat above ``top`` as a member's likelihood
    is above its largest pressure, against the closed form
    P(U > top) + exp(1/2 - top) P(U < top - 1). Conditional means of equal-width cells are
    exact for a linear f, so the error is of second order in the width: it falls about four
    times as the cells double (from 16 to 64 cells, at least 12 times), to within 0.5% at 32
    cells. (Equal-probability midpoints needed 400 nodes for 0.05% and fell only as 1/count.)
    A peak beyond BAND (6.0) keeps the mass above BAND in one node."""
    exact = stats.norm.sf(top) + np.exp(0.5 - top) * stats.norm.cdf(top - 1.0)
    errors = []
    for count in (17, 33, 65):
        scores, log_w = below_the_peak(count, np.array([top]))
        assert np.exp(log_w).sum() == pytest.approx(1.0, abs=1e-12)
        errors.append(np.sum(np.exp(log_w[0] + np.minimum(scores[0] - top, 0.0))) / exact - 1)
    assert abs(errors[1]) < 5e-3
    assert abs(errors[0]) > 12 * abs(errors[2])


def test_the_tolerance_cells_keep_their_digits_in_the_tails() -> None:
    """Cell means and probabilities match scipy's truncated normal, far in either tail too."""
    a = np.array([-np.inf, -40.0, -3.0, -0.5, 0.2, 4.5, 30.0, -1.0])
    b = np.array([-38.0, -39.5, -2.4, 0.3, 0.8, 5.0, np.inf, np.inf])
    means, log_mass = _cells(a, b)
    assert means == pytest.approx(stats.truncnorm.mean(a, b), rel=1e-12)
    # The reference: the density integrated numerically, scaled by its value at one end.
    expected = [
        stats.norm.logpdf(hi)
        + np.log(
            integrate.quad(
                lambda x, h=hi: np.exp(stats.norm.logpdf(x) - stats.norm.logpdf(h)), lo, hi
            )[0]
        )
        if np.isfinite(lo) and np.isfinite(hi)
        else (special.log_ndtr(hi) if np.isfinite(hi) else stats.norm.logsf(lo))
        for lo, hi in zip(a, b, strict=True)
    ]
    assert log_mass == pytest.approx(expected, rel=1e-9)


def test_the_tolerance_nodes_grow_as_the_fourth_root_of_the_log() -> None:
    """The rule's bias is of second order in the cells' width and the standard errors shrink
    as the root of the members, so 16 times the members need twice the nodes."""
    assert tolerance_nodes(300) == tolerance_nodes(1000) == 17
    assert tolerance_nodes(16_000) == 34
    assert tolerance_nodes(100_000) == 54
