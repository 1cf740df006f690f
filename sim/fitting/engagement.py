"""Fit the message-response model and the purchase lift to an engagement event log: the
estimates by scenario path with intervals, how well the log identifies each, and draws of
the approximate posterior that a scenario's ``uncertain: {from: ...}`` reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.fitting.lift import MIN_ARM, LiftFit, fit_lift, lift_days
from sim.fitting.likelihood import Messages
from sim.fitting.responses import BOUNDS, Quadrature, ResponseFit, fit_responses, messages
from sim.fitting.responses import subset as with_members
from sim.io.eventlog import EventLog
from sim.io.loader import with_default_priors
from sim.spec.fields import CHANNELS
from sim.spec.scenario import Scenario
from sim.spec.uncertain import marginal

WEIGHT = "weight"
ESTIMATE_COLUMNS = ("parameter", "estimate", "low", "high", "identified", "strength")
LIFT_PATHS = ("behaviour.lift.on_open", "behaviour.lift.on_click", "behaviour.lift.offer")
# Behaviour an event log cannot inform: listed with its prior so the user sees it stayed.
NOT_FROM_LOGS = ("behaviour.satisfaction.exit_slope",)
# The scenario's range for values the likelihood lets go beyond it (sim.spec.scenario): the
# slopes are non-negative there, engagement slopes at most 5, and exit and complaint rates are
# probabilities (the model's exit rate is a hazard's scale, which a draw far in the tail of a
# weakly informed channel can put above 1).
SCENARIO_RANGE = {
    **{f"behaviour.{block}.{kind}_slope": (0.0, np.inf)
       for block in ("fatigue", "relevance") for kind in ("open", "click", "exit")},
    "behaviour.engagement.open_slope": (0.0, 5.0),
    "behaviour.engagement.click_slope": (0.0, 5.0),
    **{f"channels.{c}.{rate}": (0.0, 1.0)
       for c in CHANNELS for rate in ("open", "click", "exit", "complaint")},
}  # fmt: skip
# An interval wider than this share of the prior's central 95% is weakly identified: the
# data moved the prior by less than a factor of two.
WEAK = 0.5
# Without a prior, the tolerance law is judged against the range the fit allows it, on the
# log scale on which it is fitted (a median anywhere from 1 to 100 is not pinned down, though
# 1-100 is half of 1-200).
LOG_RANGE = {
    "tolerance.median": BOUNDS["log_tolerance_median"],
    "tolerance.sigma": BOUNDS["log_tolerance_sigma"],
}
LEVEL = 0.95
# The largest log on which the response model's intervals were measured to hold (docs/fit.md,
# section 7): the fatigue mechanism's normal intervals covered at rates consistent with 90% on
# 50 logs of 300 members and fell short on logs of 1,000 (the exit fatigue slope and the
# tolerance sigma in 8 of 15), where the maximum lies on a ridge the curvature misdescribes.
COVERAGE_HOLDS = 300


# Bands of contact frequency for the diagnostics: delivered messages to the member in the
# seven days up to and including the message (any channel).
FREQUENCY_BANDS = (1, 2, 3, 5, 8)
WEEK = 7.0
# Bands of the pressure felt on the message's channel (email-equivalents).
PRESSURE_BANDS = (0.0, 2.0, 4.0, 8.0, 16.0)
RATES = ["open", "fitted_open", "click", "fitted_click", "exit", "fitted_exit"]


@dataclass(frozen=True)
class EngagementFit:
    """What a fit found: ``estimates`` (one row per parameter), ``posterior`` (draws, one
    column per dotted path and ``weight``), the two parts it came from, and notes."""

    responses: ResponseFit
    lift: LiftFit | None
    estimates: pd.DataFrame
    posterior: pd.DataFrame
    diagnostics: pd.DataFrame
    notes: tuple[str, ...]
    # Members with a delivered message in the whole log: more than the response model was
    # fitted on when it was fitted on a subset.
    log_members: int

    def fitted_on(self) -> str:
        """The members the response model was fitted on, in words."""
        r = self.responses
        if r.members == self.log_members:
            return f"{r.members:,} members"
        return f"a random {r.members:,} of {self.log_members:,} members (--subset)"

    def fitted(self) -> dict[str, float]:
        """The estimates of the parameters the log informs, by dotted path."""
        rows = self.estimates[self.estimates["strength"] != "none"]
        return dict(zip(rows["parameter"], rows["estimate"].astype(float), strict=True))


def coverage_note(members: int) -> str | None:
    """What to make of the fatigue mechanism's intervals from a fit on ``members`` members:
    nothing up to COVERAGE_HOLDS, a warning beyond."""
    if members <= COVERAGE_HOLDS:
        return None
    return (
        "the intervals of the fatigue mechanism (half-life, cross-channel weight, "
        "intrusiveness, fatigue slopes, tolerance) come from the likelihood's curvature, "
        f"which held its coverage on synthetic logs of {COVERAGE_HOLDS} members but not of "
        f"1,000 (docs/fit.md, section 7): on {members:,} members, read them as too narrow, "
        f"or fit a random {COVERAGE_HOLDS} of the members (--subset {COVERAGE_HOLDS}) for "
        "intervals of the size whose coverage was measured, wider but not too narrow"
    )


def fit_events(
    log: EventLog,
    scenario: Scenario,
    quadrature: Quadrature | None = None,
    draws: int = 1000,
    seed: int = 0,
    starts: int = 1,
    progress: Callable[[str], None] | None = None,
    subset: int | None = None,
) -> EngagementFit:
    """Fit ``log`` with ``scenario`` as the base (its values start the fit, its priors measure
    what the log taught, its lift settings define the lift scale); ``starts`` > 1 also runs
    the response fit from other points of the fatigue mechanism (``fit_responses``, which
    reports its stages to ``progress``). With ``subset``, the response model is fitted on
    that many of the members with a delivered message, drawn at random under ``seed`` (the
    lift, from purchases, on every member)."""
    notes = list(log.notes)
    if log.sends["relevance"].isna().all():
        notes.append(
            "the log gives no relevance: every message is taken as relevance 0.5, and the "
            "relevance slopes are left at the scenario's values"
        )
    seen = messages(log.sends)
    if not seen.members:
        raise SimInputError(
            f"{log.source}: sends: no row with delivered true: no message to fit the responses to"
        )
    log_members = seen.members
    if subset is not None and subset < seen.members:
        notes.append(
            f"the response model is fitted on a random {subset:,} of the {seen.members:,} "
            f"members with a delivered message (--subset, seed {seed}): its intervals are "
            f"those of {subset:,} members, about {np.sqrt(seen.members / subset):.1f} times "
            "as wide as the whole log's would be"
        )
    seen = with_members(seen, subset, seed) if subset is not None else seen
    responses = fit_responses(seen, scenario, quadrature, starts, progress)
    if not responses.converged:
        notes.append("the optimiser stopped before converging: treat the estimates with care")
    ridge = coverage_note(responses.members)
    if ridge is not None:
        notes.append(ridge)
    if responses.start_scale != 1.0:
        notes.append(
            f"the highest maximum came from the start with half-life and tolerance median x"
            f"{responses.start_scale:g}, {responses.gain_over_first_start:.1f} log-likelihood "
            "units above the scenario's start"
        )
    lift = _lift(log, scenario, seed)
    if lift is None:
        notes.append(_no_lift(log.members["control"].to_numpy(bool)))
    priors, graded = _priors(scenario), _graded_against(scenario)
    sample = responses.draws(draws, seed)
    # The same draws unbounded and unclipped grade each value: draws piled up at an edge
    # would otherwise make a narrow interval of a value the log leaves wide open.
    spread = responses.draws(draws, seed, bounded=False)
    # The intervals are read off the draws the posterior file holds: within the range a
    # scenario can take, as the include's estimates are.
    outside = [
        path
        for path, (low, high) in SCENARIO_RANGE.items()
        if path in sample and not np.all((sample[path] >= low) & (sample[path] <= high))
    ]
    for path in outside:
        sample[path] = np.clip(sample[path], *SCENARIO_RANGE[path])
    rows, posterior = [], {}
    estimates = responses.values()
    for path in sample.columns:
        column = sample[path].to_numpy()
        rows.append(_row(path, estimates[path], column, graded.get(path), spread[path].to_numpy()))
        posterior[path] = column
    base = scenario.behaviour.lift
    for path in LIFT_PATHS:
        value = getattr(base, path.rsplit(".", 1)[1])
        if lift is not None:
            scaled = lift.replicates * value
            rows.append(_row(path, lift.scale * value, scaled, graded.get(path)))
            posterior[path] = np.random.default_rng(seed).choice(scaled, draws)
        else:
            rows.append(_unfitted(path, value, priors.get(path)))
            if path in priors:
                posterior[path] = marginal(priors[path]).rvs(draws, random_state=seed)
    for path in NOT_FROM_LOGS:
        rows.append(_unfitted(path, float(scenario.value_at(path)), priors.get(path)))
        if path in priors:  # a decision under the posterior still carries its prior
            posterior[path] = marginal(priors[path]).rvs(draws, random_state=seed)
    if outside:
        notes.append(
            "beyond the scenario's range in some draws, set to its edge there (and in the "
            f"include where the estimate is): {', '.join(outside)}"
        )
    posterior[WEIGHT] = np.ones(draws)
    weak = [r["parameter"] for r in rows if r["strength"] == "weak"]
    if weak:
        notes.append(f"weakly identified (interval over half its prior's width): {', '.join(weak)}")
    return EngagementFit(
        responses=responses,
        lift=lift,
        estimates=pd.DataFrame(rows, columns=list(ESTIMATE_COLUMNS)),
        posterior=pd.DataFrame(posterior),
        diagnostics=diagnostics(seen, responses.predicted),
        notes=tuple(notes),
        log_members=log_members,
    )


def _priors(scenario: Scenario) -> dict:
    """The scenario's priors, or the shipped ones for the values it holds."""
    uncertain = scenario.uncertain
    if uncertain is None or uncertain.from_ is not None:
        uncertain = with_default_priors(scenario).uncertain
    return uncertain.parameters if uncertain is not None else {}


def _graded_against(scenario: Scenario) -> dict:
    """The prior each fitted value is graded against: the scenario's own, else the shipped
    one. A block that names a few values must not leave the rest ungraded (read as strong);
    the posterior of values the log does not inform still follows ``_priors``."""
    shipped = with_default_priors(scenario).uncertain
    own = scenario.uncertain
    return {
        **(shipped.parameters if shipped is not None else {}),
        **(own.parameters if own is not None and own.from_ is None else {}),
    }


def _prior_width(prior: object | None) -> tuple[float, float] | None:
    if prior is None or getattr(prior, "dist", "") == "choice":
        return None
    low, high = marginal(prior).ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


def _row(
    path: str,
    estimate: float,
    draws: np.ndarray,
    prior: object | None,
    spread: np.ndarray | None = None,
) -> dict:
    """A fitted value's row: the estimate within the scenario's range (as the include holds
    it), the interval of its posterior ``draws``, and its strength, judged on ``spread``
    (the draws before any clipping; ``draws`` themselves if None)."""
    low, high = _central(draws)
    weak = _weak(path, _central(draws if spread is None else spread), prior)
    return {
        "parameter": path,
        "estimate": float(np.clip(estimate, *SCENARIO_RANGE.get(path, (-np.inf, np.inf)))),
        "low": low,
        "high": high,
        "identified": not weak,
        "strength": "weak" if weak else "strong",
    }


def _central(draws: np.ndarray) -> tuple[float, float]:
    """The central LEVEL interval of ``draws`` (NaN if any draw is not a number)."""
    with np.errstate(invalid="ignore"):  # infinite draws of both signs give NaN
        low, high = np.quantile(draws, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


def _weak(path: str, interval: tuple[float, float], prior: object | None) -> bool:
    """Whether ``interval`` is over WEAK of the prior's central interval, or without a prior
    of the range the value can take: an exit rate anywhere from 0 to 1 is not pinned down.
    An interval that is not finite is weak; one with nothing to compare with is not."""
    low, high = interval
    if not (np.isfinite(low) and np.isfinite(high)):
        return True
    width = _prior_width(prior)
    if width is None:
        for suffix, (a, b) in LOG_RANGE.items():
            if path.endswith(suffix):
                with np.errstate(divide="ignore"):
                    return bool(np.log(high) - np.log(low) > WEAK * (b - a))
        width = SCENARIO_RANGE.get(path)
    return width is not None and high - low > WEAK * (width[1] - width[0])


def _unfitted(path: str, value: float, prior: object | None) -> dict:
    width = _prior_width(prior)
    low, high = width if width is not None else (np.nan, np.nan)
    return {
        "parameter": path,
        "estimate": float(value),
        "low": low,
        "high": high,
        "identified": False,
        "strength": "none",
    }


def _no_lift(control: np.ndarray) -> str:
    """Why the lift is not identified, given each member's holdout flag."""
    if not control.any() or control.all():
        return (
            "no randomised holdout (members.control) with messaged members beside it: the "
            "purchase lift is not identified and keeps its prior"
        )
    return (
        f"a holdout of {int(control.sum()):,} members against {int((~control).sum()):,}: "
        f"each arm needs {MIN_ARM} members or more for its bootstrap interval, so the "
        "purchase lift is not identified and keeps its prior"
    )


def _lift(log: EventLog, scenario: Scenario, seed: int) -> LiftFit | None:
    """The lift scale from the holdout, or None without one, without messaged members, or
    with an arm smaller than MIN_ARM."""
    members = log.members
    control = members["control"].to_numpy(bool)
    if min(control.sum(), (~control).sum()) < MIN_ARM:
        return None
    n = len(members)
    end = max(
        float(log.sends["time"].to_numpy().max(initial=0.0)),
        float(log.purchases["day"].to_numpy().max(initial=0.0)),
    )
    end_day = np.full(n, np.floor(end))
    joined = members["joined"].to_numpy(np.float64)
    exposure = np.maximum(end_day - joined + 1.0, 1.0)
    sends = log.sends
    opened = sends[sends["opened"].to_numpy(bool)]
    base = scenario.behaviour.lift
    offers = _offer_campaigns(scenario)
    gain = (
        2.0
        * opened["relevance"].fillna(0.5).to_numpy(np.float64)
        * (
            base.on_open
            + base.on_click * opened["clicked"].to_numpy(np.float64)
            + base.offer * opened["campaign"].astype(str).isin(offers).to_numpy(np.float64)
        )
    )
    lift = lift_days(
        opened["member"].to_numpy(np.int64),
        opened["time"].to_numpy(np.float64),
        gain,
        end_day,
        base.half_life_days,
        n,
    )
    purchases = np.bincount(log.purchases["member"].to_numpy(np.int64), minlength=n)
    return fit_lift(purchases.astype(np.float64), exposure, lift, ~control, seed)


def _offer_campaigns(scenario: Scenario) -> set[str]:
    """Campaigns of the scenario's history plan that carry an offer (the log does not say)."""
    history = scenario.history
    if history is None:
        return set()
    strategy = scenario.strategies[history.strategy]
    return {name for name, c in strategy.campaigns.items() if c.offer is not None}


def recent(m: Messages, days: float = WEEK) -> np.ndarray:
    """For each delivered message, the member's delivered messages in the ``days`` up to and
    including it (itself counted)."""
    member = np.repeat(np.arange(m.members), m.counts)
    # Times are days within a log; members kept apart by a gap no log reaches.
    key = member * 1e7 + m.time
    return np.arange(key.size) - np.searchsorted(key, key - days, side="right") + 1


def diagnostics(m: Messages, predicted: np.ndarray) -> pd.DataFrame:
    """Observed against fitted rates of opens, clicks and exits per delivered message, by
    channel and band: of the member's contact frequency in the week up to the message
    (``by`` = ``per_week``), and of the pressure felt on the channel at the estimate (``by`` =
    ``pressure``, email-equivalents). The fitted rates average each message's probabilities
    over its member's posterior."""
    frame = pd.DataFrame(
        {
            "channel": np.asarray(CHANNELS)[m.channel],
            "open": m.opened,
            "fitted_open": predicted[:, 0],
            "click": m.clicked,
            "fitted_click": predicted[:, 1],
            "exit": m.exited,
            "fitted_exit": predicted[:, 2],
        }
    )
    bands = {
        "per_week": (recent(m), FREQUENCY_BANDS),
        "pressure": (predicted[:, 3], PRESSURE_BANDS),
    }
    tables = []
    for by, (value, edges) in bands.items():
        band = np.digitize(value, edges[1:])
        frame["by"], frame["order"] = by, band
        frame["band"] = np.asarray(_labels(edges, whole=by == "per_week"))[band]
        keys = ["by", "channel", "order", "band"]
        rates = frame.groupby(keys)[RATES].mean()
        rates.insert(0, "messages", frame.groupby(keys).size())
        tables.append(rates.reset_index().drop(columns="order"))
    return pd.concat(tables, ignore_index=True)


def _labels(edges: tuple[float, ...], whole: bool) -> list[str]:
    """Band names: ``2``, ``3-4``, ``8+`` for whole counts, ``2-4``, ``16+`` for pressures."""
    last = f"{edges[-1]:g}+"
    if whole:
        return [f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in pairwise(edges)] + [
            last
        ]
    return [f"{lo:g}-{hi:g}" for lo, hi in pairwise(edges)] + [last]
