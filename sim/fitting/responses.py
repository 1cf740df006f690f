"""Maximum likelihood of the message-response model (sim.fitting.likelihood) on a log's
delivered messages, with standard errors from the Hessian and the estimates mapped to the
scenario values they stand for.

The optimiser works on an unconstrained vector (logs of rates, scales and the half-life, the
logit of the cross-channel weight); intervals and posterior draws come from the normal
approximation on that scale, carried through the map to scenario values by sampling, so an
interval never leaves a parameter's range.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import special

from sim.errors import SimInputError
from sim.fitting.likelihood import EMAIL, Layout, Likelihood, Messages, Nodes
from sim.fitting.optimiser import minimise, score_covariance, settle, whitening
from sim.model import engagement
from sim.model.response import logit
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Scenario

# Bounds that keep the optimiser in the model's domain: a half-life from 6 hours to a year,
# a median tolerance from one relevance-0.5 email to 200 (below 1 every message exceeds
# every member's tolerance, the kink at tolerance is never met and the fatigue slopes trade
# off against tolerance along a flat ridge), a spread from nearly none to a factor of 20 per
# standard deviation.
BOUNDS = {
    "log_tolerance_median": (0.0, np.log(200.0)),
    # A channel from a hundredth to a hundred times as intrusive as an email.
    "log_intrusiveness.sms": (np.log(0.01), np.log(100.0)),
    "log_intrusiveness.push": (np.log(0.01), np.log(100.0)),
    "log_half_life": (np.log(0.25), np.log(365.0)),
    "log_tolerance_sigma": (np.log(0.02), np.log(3.0)),
    "logit_cross_channel": (-12.0, 12.0),
    "logit_complaint_share.email": (-15.0, 15.0),
}
# Adaptive quadrature: re-place the nodes and optimise again until no parameter moves by
# more than ROUND_STEP of its standard error, at most MAX_ROUNDS times. Each placement is a
# slightly different rule, so -log L itself jitters from round to round (by up to a unit on
# a 1,000-member log) and cannot be the criterion.
ROUND_STEP, MAX_ROUNDS = 0.1, 6
# The optimiser stops when an iteration gains less than FTOL_UNITS of log-likelihood (made
# relative to -log L at the start, as L-BFGS-B wants it): far below what a standard error
# costs (half a unit).
FTOL_UNITS = 1e-4
# The parameters of the fatigue mechanism (held in the first stage of a fit).
FATIGUE_MECHANISM = (
    "log_half_life", "logit_cross_channel", "log_intrusiveness", "fatigue.", "log_tolerance",
)  # fmt: skip
# Further starts of the full fit (fit_responses' ``starts``): the half-life and the tolerance
# median scaled together by these factors, in this order. Measured on a log whose default start
# stopped at a lower maximum (docs/fit.md, section 7), halving both found the higher one.
START_SCALES: tuple[float, ...] = (0.5, 2.0, 0.25, 4.0)
# The spawn key of the stream that draws a --subset's members from the fit's seed (the
# posterior draws use the seed itself).
SUBSET_STREAM = 1
# A relevance this far from 0.5 in some message is variation enough to inform relevance slopes.
RELEVANCE_SPREAD = 0.01


# The tolerance rule moves the estimates by an amount of second order in its cells' width,
# while their standard errors shrink as one over the root of the members: to keep the ratio,
# the nodes grow as the fourth root of the members. 17 nodes at 1,000 members moved them by
# 0.14-0.25 standard errors (root mean square; docs/fit.md, section 3).
TOLERANCE_NODES, TOLERANCE_MEMBERS = 17, 1000


def tolerance_nodes(members: int) -> int:
    """The tolerance nodes a log of ``members`` members (with a delivered message) needs."""
    return max(TOLERANCE_NODES, math.ceil(TOLERANCE_NODES * (members / TOLERANCE_MEMBERS) ** 0.25))


@dataclass(frozen=True)
class Quadrature:
    """Nodes per random effect; more nodes, a more exact integral and a slower fit.
    ``tolerance`` None: as many as the log's size needs (``tolerance_nodes``)."""

    tolerance: int | None = None
    engagement: int = 5
    sensitivity: int = 3


def messages(sends: pd.DataFrame) -> Messages:
    """The delivered messages of a log's ``sends`` table (columns ``member``, ``time``,
    ``channel``, ``relevance``, the outcome flags; sorted by member and time)."""
    seen = sends[sends["delivered"].to_numpy(bool)]
    member = seen["member"].to_numpy(np.int64)
    starts = np.flatnonzero(np.r_[True, member[1:] != member[:-1]]) if member.size else member
    counts = np.diff(np.r_[starts, member.size])
    relevance = seen["relevance"].to_numpy(np.float64)
    complained = seen["complained"].to_numpy(bool)
    return Messages(
        starts=starts,
        counts=counts,
        time=seen["time"].to_numpy(np.float64),
        channel=seen["channel"].to_numpy(np.int64),
        relevance=np.where(np.isnan(relevance), 0.5, relevance),
        opened=seen["opened"].to_numpy(bool),
        clicked=seen["clicked"].to_numpy(bool),
        exited=seen["unsubscribed"].to_numpy(bool) | complained,
        complained=complained,
    )


def subset(m: Messages, size: int, seed: int) -> Messages:
    """A random ``size`` (at least 1) of the members of ``m``, each with all its messages in
    their order, or ``m`` itself when it has no more members: the log of fewer members of the
    same population, so a fit on it is an ordinary fit, with the intervals those members
    give."""
    if size >= m.members:
        return m
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SUBSET_STREAM,)))
    chosen = np.sort(rng.choice(m.members, size, replace=False))
    counts = m.counts[chosen]
    starts = np.cumsum(counts) - counts
    rows = np.arange(counts.sum()) + np.repeat(m.starts[chosen] - starts, counts)
    arrays = {
        f.name: getattr(m, f.name)[rows] for f in fields(m) if f.name not in ("starts", "counts")
    }
    return Messages(starts=starts, counts=counts, **arrays)


def layout(m: Messages) -> Layout:
    """What the log can inform: channels with delivered messages, click rates where a channel
    had opens, complaints where there were any, relevance slopes where relevance varies."""
    present = tuple(c for c in range(len(CHANNELS)) if np.any(m.channel == c))
    clicks = tuple(c for c in present if np.any(m.opened & (m.channel == c)))
    return Layout(
        channels=present,
        clicks=clicks,
        complaints=bool(np.any(m.complained)),
        relevance=bool(m.relevance.size and np.ptp(m.relevance) > RELEVANCE_SPREAD),
    )


def sensitivity_law(scenario: Scenario) -> tuple[float, float]:
    """One log-normal (median, sigma) for the members' relevance sensitivity: the log-scale
    mean and variance of the scenario's segments mixed by their shares."""
    segments = scenario.population.segments.values()
    share = np.array([s.share for s in segments])
    mu = np.log([s.relevance_sensitivity.median for s in segments])
    var = np.array([s.relevance_sensitivity.sigma for s in segments]) ** 2
    mean = float(share @ mu)
    return float(np.exp(mean)), float(np.sqrt(share @ (var + (mu - mean) ** 2)))


def start(lay: Layout, scenario: Scenario) -> np.ndarray:
    """The scenario's own values as the starting point (engagement at least 0.5: the
    likelihood is flat in its sign at 0)."""
    beh, x = scenario.behaviour, np.zeros(len(lay.names))
    eng_open = max(beh.engagement.open_slope, 0.5)
    eng_click = beh.engagement.click_slope
    segment = next(iter(scenario.population.segments.values()))
    values = {
        "log_half_life": np.log(beh.fatigue.half_life_days),
        "logit_cross_channel": logit(beh.fatigue.cross_channel),
        "fatigue.open": beh.fatigue.open_slope,
        "fatigue.click": beh.fatigue.click_slope,
        "fatigue.exit": beh.fatigue.exit_slope,
        "relevance.open": beh.relevance.open_slope,
        "relevance.click": beh.relevance.click_slope,
        "relevance.exit": beh.relevance.exit_slope,
        "log_tolerance_median": np.log(segment.tolerance.median),
        "log_tolerance_sigma": np.log(max(segment.tolerance.sigma, 0.05)),
        "engagement.open": eng_open,
        "engagement.click": eng_click,
    }
    for c in lay.channels:
        ch, name = getattr(scenario.channels, CHANNELS[c]), CHANNELS[c]
        o, k = min(max(ch.open, 1e-4), 1 - 1e-4), min(max(ch.click, 1e-5), ch.open)
        values[f"open.{name}"] = logit(o) + engagement.open_offset(o, eng_open)
        values[f"click.{name}"] = logit(k / o) + engagement.click_offset(o, k, eng_open, eng_click)
        values[f"log_exit.{name}"] = np.log(max(ch.exit, 1e-6))
        values[f"log_intrusiveness.{name}"] = np.log(ch.intrusiveness)
        if c == EMAIL:
            values["logit_complaint_share.email"] = logit(
                max(ch.complaint, 1e-6) / max(ch.exit, 1e-6)
            )
    for i, name in enumerate(lay.names):
        low, high = BOUNDS.get(name, (-np.inf, np.inf))
        x[i] = min(max(values[name], low), high)
    return x


@dataclass(frozen=True)
class ResponseFit:
    """The maximum-likelihood estimate ``x`` (unconstrained), its covariance, and what it
    was fitted on."""

    layout: Layout
    x: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    members: int
    messages: int
    iterations: int
    converged: bool
    segments: tuple[str, ...]
    predicted: np.ndarray  # per delivered message: fitted P(open), P(click), P(exit), felt
    nodes: tuple[int, int, int]  # quadrature nodes: tolerance, engagement, sensitivity
    # Of the starts run, the factor on half-life and tolerance median of the one kept (1: the
    # scenario's values), and how much higher its maximum is than that of the scenario's start.
    start_scale: float = 1.0
    gain_over_first_start: float = 0.0

    def values(self, x: np.ndarray | None = None) -> dict[str, float]:
        """Scenario values by dotted path at ``x`` (the estimate if None)."""
        return scenario_values(self.layout, self.x if x is None else x, self.segments)

    def draws(self, n: int, seed: int, bounded: bool = True) -> pd.DataFrame:
        """n draws of the scenario values from the normal approximation (one column per
        dotted path): the posterior of a flat prior, to the order of the approximation.
        ``bounded``: each coordinate held within the optimiser's BOUNDS; without, the same
        draws as they fell (to measure how widely the log leaves a value)."""
        rng = np.random.default_rng(seed)
        xs = rng.multivariate_normal(self.x, self.covariance, size=n, method="eigh")
        if bounded:
            for i, name in enumerate(self.layout.names):
                low, high = BOUNDS.get(name, (-np.inf, np.inf))
                xs[:, i] = np.clip(xs[:, i], low, high)
        # A draw far in the tail of a value the log hardly informs can map to an infinite
        # exit rate, which the scenario's range then clips (sim.fitting.engagement).
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return pd.DataFrame([self.values(x) for x in xs])


def scenario_values(lay: Layout, x: np.ndarray, segments: tuple[str, ...]) -> dict[str, float]:
    """The scenario's values at the unconstrained vector x, by dotted path."""
    get = lay.get
    eng_open, eng_click = get(x, "engagement.open"), get(x, "engagement.click")
    if eng_open < 0:  # the likelihood is the same with both engagement slopes negated
        eng_open, eng_click = -eng_open, -eng_click
    out: dict[str, float] = {}
    for c in lay.channels:
        name = CHANNELS[c]
        a = get(x, f"open.{name}")
        g = get(x, f"click.{name}", -np.inf)
        o, k = engagement.base_rates(a, g, eng_open, eng_click)
        out[f"channels.{name}.open"] = o
        if c in lay.clicks:
            out[f"channels.{name}.click"] = k
        exit_rate = float(np.exp(get(x, f"log_exit.{name}")))
        out[f"channels.{name}.exit"] = exit_rate
        if c == EMAIL and lay.complaints:
            share = float(special.expit(get(x, "logit_complaint_share.email")))
            out["channels.email.complaint"] = exit_rate * share
        if c != EMAIL:
            out[f"channels.{name}.intrusiveness"] = float(
                np.exp(get(x, f"log_intrusiveness.{name}"))
            )
    out["behaviour.fatigue.half_life_days"] = float(np.exp(get(x, "log_half_life")))
    if "logit_cross_channel" in lay.names:
        out["behaviour.fatigue.cross_channel"] = float(special.expit(get(x, "logit_cross_channel")))
    for kind in ("open", "click", "exit"):
        if kind != "click" or lay.clicks:
            out[f"behaviour.fatigue.{kind}_slope"] = get(x, f"fatigue.{kind}")
        if lay.relevance and (kind != "click" or lay.clicks):
            out[f"behaviour.relevance.{kind}_slope"] = get(x, f"relevance.{kind}")
    for seg in segments:
        out[f"population.segments.{seg}.tolerance.median"] = float(
            np.exp(get(x, "log_tolerance_median"))
        )
        out[f"population.segments.{seg}.tolerance.sigma"] = float(
            np.exp(get(x, "log_tolerance_sigma"))
        )
    out["behaviour.engagement.open_slope"] = eng_open
    if lay.clicks:
        out["behaviour.engagement.click_slope"] = eng_click
    return out


def fit_responses(
    m: Messages,
    scenario: Scenario,
    quadrature: Quadrature | None = None,
    starts: int = 1,
    progress: Callable[[str], None] | None = None,
) -> ResponseFit:
    """Maximise the likelihood from the scenario's values; the covariance is the inverse of
    the information matrix estimated from the members' scores. With ``starts`` > 1 the full
    fit also runs from the fatigue mechanism's half-life and tolerance median scaled together
    (START_SCALES: halved, doubled, ...), and the highest maximum is kept: the likelihood can
    have more than one along the ridge where tolerance, half-life and fatigue slopes trade
    off. ``progress`` receives a line after each stage and round of adaptation."""
    quadrature = quadrature or Quadrature()
    lay = layout(m)
    if not lay.channels:
        raise SimInputError("the log has no delivered message: nothing to fit")
    check_starts(starts)
    median, sigma = sensitivity_law(scenario)
    nodes = Nodes.build(
        quadrature.tolerance or tolerance_nodes(m.members),
        quadrature.engagement,
        median,
        sigma,
        quadrature.sensitivity if lay.relevance else 1,
    )
    lik = Likelihood(m, lay, nodes)
    x0 = start(lay, scenario)
    bounds = [BOUNDS.get(name, (None, None)) for name in lay.names]
    # First the response levels with the fatigue mechanism held at the scenario's values:
    # from a start whose levels are off, the first quasi-Newton steps otherwise push the
    # tolerance to its bound, where fatigue slopes and tolerance trade off along a ridge.
    held = [name.startswith(FATIGUE_MECHANISM) for name in lay.names]
    staged = [(v, v) if h else b for v, h, b in zip(x0, held, bounds, strict=True)]
    lik.adapt(x0)
    ftol = FTOL_UNITS / max(abs(lik(x0)[0]), 1.0)
    say = _Progress(progress, time.perf_counter())
    free = ~np.array(held)
    result = minimise(lik, x0, staged, ftol, whitening(lik, x0, free))
    say(f"response levels: log-likelihood {-result.fun:,.1f} after {result.nit} iterations")
    # Adapting starts from the nodes as they are, so every start begins from the same ones:
    # a start's maximum then does not depend on the starts run before it.
    levels = lik.placement()
    found = []
    for scale in (1.0, *START_SCALES[: starts - 1]):
        lik.restore(levels)
        x = _scaled(lay, result.x, scale, bounds)
        found.append(_rounds(lik, x, bounds, ftol, say, f"start x{scale:g}"))
        say(f"start x{scale:g}, settled: log-likelihood {found[-1].log_likelihood:,.1f}")
    k = max(range(len(found)), key=lambda i: found[i].log_likelihood)  # first of equals
    best = found[k]
    if best is not found[-1]:  # the nodes placed at its estimate
        lik.restore(best.placement)
    x, covariance, log_l = best.x, best.covariance, best.log_likelihood
    predicted = lik.predicted(x)
    return ResponseFit(
        layout=lay,
        x=x,
        covariance=covariance,
        log_likelihood=log_l,
        members=m.members,
        messages=int(m.time.size),
        iterations=int(result.nit) + best.iterations,
        converged=best.converged,
        segments=tuple(scenario.population.segments),
        predicted=predicted,
        nodes=(nodes.tolerance.size, nodes.engagement.size, nodes.sensitivity.size),
        start_scale=(1.0, *START_SCALES)[k],
        gain_over_first_start=best.log_likelihood - found[0].log_likelihood,
    )


def check_starts(starts: int) -> None:
    """SimInputError unless ``starts`` is 1 or as many as START_SCALES allows besides."""
    if not 1 <= starts <= len(START_SCALES) + 1:
        raise SimInputError(f"--starts: must be between 1 and {len(START_SCALES) + 1}")


@dataclass
class _Maximum:
    """Where one start's rounds of adaptation ended."""

    x: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    placement: tuple[np.ndarray, ...]  # the nodes placed at x (Likelihood.placement)


def _scaled(lay: Layout, x: np.ndarray, scale: float, bounds: list) -> np.ndarray:
    """x with the half-life and the tolerance median multiplied by ``scale`` (within bounds)."""
    x = x.copy()
    for i, name in enumerate(lay.names):
        if name in ("log_half_life", "log_tolerance_median"):
            low, high = bounds[i]
            x[i] = min(max(x[i] + np.log(scale), low), high)
    return x


class _Progress:
    """Lines of progress, each with the seconds since the fit began (nothing without a sink)."""

    def __init__(self, sink: Callable[[str], None] | None, began: float) -> None:
        self.sink, self.began = sink, began

    def __call__(self, line: str) -> None:
        if self.sink is not None:
            self.sink(f"{line} ({time.perf_counter() - self.began:.0f} s)")


def _rounds(
    lik: Likelihood, x: np.ndarray, bounds: list, ftol: float, say: _Progress, start: str
) -> _Maximum:
    """Optimise from x, re-placing the nodes until no estimate moves by more than ROUND_STEP
    of its standard error (at most MAX_ROUNDS times), then settle there (``settle``); the
    covariance, log-likelihood and nodes are those placed at the settled estimate.

    A round ends with the nodes placed where it began, and within it the optimiser is free to
    go where that placement flatters the likelihood; settling moves in rounds no further than
    a trust region from where each placed its nodes."""
    iterations, free = 0, np.ones(x.size, dtype=bool)
    cov = None
    for round_ in range(1, MAX_ROUNDS + 1):
        lik.adapt(x)
        # Each round starts with a fresh quasi-Newton memory, in coordinates scaled by the
        # last round's covariance (the first round's by the scores at its start).
        spread = whitening(lik, x, free, cov)
        result = minimise(lik, x, bounds, ftol, spread)
        step, x, iterations = result.x - x, result.x, iterations + int(result.nit)
        cov = score_covariance(lik, x)
        say(f"{start}, round {round_}: log-likelihood {-result.fun:,.1f} after {result.nit} "
            "iterations")  # fmt: skip
        if np.all(np.abs(step) <= ROUND_STEP * np.sqrt(np.diag(cov))):
            break
    log_l, x = settle(lik, x, bounds, ftol, cov, free)
    cov = score_covariance(lik, x)
    return _Maximum(x, cov, log_l, iterations, bool(result.success), lik.placement())
