"""Decisions under parameter uncertainty: which strategy to choose when the behavioural
parameters are drawn from their priors, how sure that choice is, and which unknown is worth
measuring first (docs/uncertainty.md, "Decision").

Input: the objective (net benefit, NB) of each strategy in each parameter draw, averaged over
that draw's replications, in a table with one row per draw and one column per strategy. With
d(k, s) that value for draw k and strategy s and E the mean over draws:

- expected value E[d(., s)], and its 2.5-97.5% percentiles over draws;
- P(best): the share of draws in which s has the highest value;
- P(beats silent): the share in which s is above silent, and P(beats current) the same against
  the current plan (the scenario's history plan), where there is one;
- the difference to the leader (the strategy of highest expected value) in each draw: its
  2.5-97.5% percentiles, and the variance decomposition of that difference over draws. With R
  replications per draw, the within-draw variance w (mean over draws of the replications'
  sample variance) makes the Monte Carlo part w / R of a draw mean's variance; the rest of the
  variance B between draw means, max(B - w / R, 0), is the parameters' part (a one-way random
  effects analysis of variance; both need R >= 2);
- expected loss: E[max_t d(., t) - d(., s)], what choosing s forgoes against the best choice in
  each draw (0 only for a choice that is best in every draw);
- EVPI = E[max_s d(., s)] - max_s E[d(., s)]: what knowing every parameter would be worth;
- EVPPI of a parameter theta, by the regression method of Strong, Oakley & Brennan (2014): fit
  g_s(theta) = E[d(., s) - d(., l) | theta], the incremental net benefit over the leader l, by
  a smoothing spline of the draws on theta_k (scipy, its smoothing chosen by generalised
  cross-validation), then EVPPI = E[max_s g_s] - max_s E[g_s] (g_l = 0);
- the estimator's noise level: the largest EVPPI of made-up parameters drawn independently of
  everything, which have none.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from sim.analysis.summary import format_number, text_table, unit_of
from sim.spec.scenario import Objective
from sim.spec.strategy import SILENT

# Columns of decision.csv and evppi.csv that other tools read, first and in this order.
DECISION_COLUMNS = (
    "strategy",
    "expected",
    "low",
    "high",
    "p_best",
    "p_beats_silent",
    "expected_loss",
)
# The columns decision.csv adds after those.
DECISION_EXTRA = ("p_beats_current", "diff_low", "diff_high", "sd_parameters", "sd_noise")
EVPPI_COLUMNS = ("parameter", "evppi")
# Entropy word of the made-up parameters that measure the EVPPI estimator's noise.
_NOISE_STREAM = 0xE7A1


def decision_table(
    values: pd.DataFrame, current: str | None = None, runs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per strategy (the columns of ``values``, draws as rows): DECISION_COLUMNS then
    DECISION_EXTRA, in decreasing expected value. ``current`` names the current plan;
    ``runs`` holds the replications (one row per draw and replication, index levels ``draw``
    and ``replication``, columns as ``values``) for the variance decomposition."""
    v = values.to_numpy(dtype=float)
    best = v.max(axis=1, keepdims=True)
    winners = v == best  # ties share the draw
    share = winners / winners.sum(axis=1, keepdims=True)
    leader = int(np.argmax(v.mean(axis=0)))
    difference = v - v[:, [leader]]

    def beats(name: str | None) -> np.ndarray:
        if name is None or name not in values:
            return np.full(v.shape[1], np.nan)
        return (v > values[name].to_numpy(dtype=float)[:, None]).mean(axis=0)

    parameters, noise = _decomposition(values, runs, leader)
    table = pd.DataFrame(
        {
            "strategy": values.columns,
            "expected": v.mean(axis=0),
            "low": np.percentile(v, 2.5, axis=0),
            "high": np.percentile(v, 97.5, axis=0),
            "p_best": share.mean(axis=0),
            "p_beats_silent": beats(SILENT),
            "expected_loss": (best - v).mean(axis=0),
            "p_beats_current": beats(current),
            "diff_low": np.percentile(difference, 2.5, axis=0),
            "diff_high": np.percentile(difference, 97.5, axis=0),
            "sd_parameters": parameters,
            "sd_noise": noise,
        }
    )
    return table.sort_values("expected", ascending=False, kind="stable").reset_index(drop=True)


def pairwise(values: pd.DataFrame) -> pd.DataFrame:
    """The share of draws in which the row's strategy beats the column's (strictly), for every
    pair of strategies (the columns of ``values``, draws as rows)."""
    v = values.to_numpy(dtype=float)
    wins = (v[:, :, None] > v[:, None, :]).mean(axis=0)
    return pd.DataFrame(wins, index=values.columns, columns=values.columns)


def variance_parts(runs: np.ndarray) -> tuple[float, float]:
    """The standard deviations over draws of a draw's mean that the parameters and the Monte
    Carlo noise account for, from ``runs`` of shape (draws, replications): one-way random
    effects, the noise part w / R and the parameters' max(B - w / R, 0). NaN with fewer than 2
    replications or 2 draws."""
    k, r = runs.shape
    if k < 2 or r < 2:
        return float("nan"), float("nan")
    noise = runs.var(axis=1, ddof=1).mean() / r
    between = runs.mean(axis=1).var(ddof=1)
    return float(np.sqrt(max(between - noise, 0.0))), float(np.sqrt(noise))


def _decomposition(
    values: pd.DataFrame, runs: pd.DataFrame | None, leader: int
) -> tuple[np.ndarray, np.ndarray]:
    """``variance_parts`` of each strategy's difference to the leader (NaN without runs)."""
    n = values.shape[1]
    if runs is None:
        return np.full(n, np.nan), np.full(n, np.nan)
    table = runs[values.columns].to_numpy(dtype=float)
    draws = runs.index.get_level_values("draw").nunique()
    cube = table.reshape(draws, -1, n)  # rows are in draw, then replication order
    parts = [variance_parts(cube[:, :, s] - cube[:, :, leader]) for s in range(n)]
    return np.array([p for p, _ in parts]), np.array([q for _, q in parts])


def evpi(values: pd.DataFrame) -> float:
    """Expected value of perfect information, in the objective's unit: E[max_s] - max_s E."""
    v = values.to_numpy(dtype=float)
    return float(v.max(axis=1).mean() - v.mean(axis=0).max())


def evppi(values: pd.DataFrame, parameter: np.ndarray) -> float:
    """Expected value of perfect information about one parameter (objective's unit), by
    regression on the incremental net benefits: each strategy's difference to the strategy of
    highest expected value, h_s, is smoothed on the parameter's draws (a cubic smoothing
    spline, smoothing by generalised cross-validation), then EVPPI = E[max(0, max_s h_s)] -
    max(0, max_s E[h_s]) (the leader's own difference is 0). The spline is fitted on the
    draws' ranks (``_smoothed``), so the estimate does not depend on the parameter's unit or
    scale. A parameter with fewer than 5 distinct drawn values is smoothed by its group
    means."""
    theta = np.asarray(parameter, dtype=float)
    v = values.to_numpy(dtype=float)
    v = v - v[:, [int(np.argmax(v.mean(axis=0)))]]
    fitted = np.empty_like(v)
    distinct = np.unique(theta)
    if distinct.size < 5:  # a choice among few values: E[d | theta] is the group mean
        for value in distinct:
            rows = theta == value
            fitted[rows] = v[rows].mean(axis=0)
    else:
        order = np.argsort(theta, kind="stable")
        inverse = np.unique(theta[order], return_inverse=True)[1]
        weights = np.bincount(inverse).astype(float)
        for s in range(v.shape[1]):
            if not v[:, s].any():  # the leader: its difference is 0 everywhere
                fitted[:, s] = 0.0
                continue
            # Tied draws are averaged first: the spline needs increasing abscissae.
            y = np.bincount(inverse, weights=v[order, s]) / weights
            fitted[order, s] = _smoothed(y, weights)[inverse]
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)


def _smoothed(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The smoothing spline of y, the means at a parameter's distinct drawn values in
    increasing order (``weights`` draws each), fitted on their ranks scaled to mean 0 and
    sd 1. E[d | theta] is the same function of any increasing transform of theta, so the
    ranks estimate it as the values would; but scipy chooses the
    smoothing by generalised cross-validation over a bounded range whose fit to the data
    depends on the abscissae's scale, and on raw values it went wrong without an error: an exit
    rate of order 1e-3 got a fit that overshot the data tenfold, half-lives of 30-360 days an
    interpolation (EVPPI = EVPI). On standardised ranks the abscissae are always evenly
    spread on the same scale, whatever the parameter's unit or law."""
    # Imported here: scipy.interpolate takes most of a second to import, and only the
    # decision under uncertainty needs it.
    from scipy.interpolate import make_smoothing_spline

    ranks = np.arange(y.size, dtype=float)
    z = (ranks - ranks.mean()) / ranks.std()
    return make_smoothing_spline(z, y, w=weights)(z)


def evppi_noise(values: pd.DataFrame, seed: int, dummies: int = 9) -> float:
    """The largest EVPPI of ``dummies`` made-up parameters drawn independently of everything
    (uniform, from ``seed``): what the estimator reports for a value that decides nothing,
    from these draws' Monte Carlo noise and their number alone. An EVPPI not above it is not
    distinguishable from none."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, _NOISE_STREAM)))
    return max(evppi(values, rng.random(len(values))) for _ in range(dummies))


def evppi_table(values: pd.DataFrame, parameters: pd.DataFrame) -> pd.DataFrame:
    """EVPPI_COLUMNS for each column of ``parameters`` (numeric draws, rows as in ``values``),
    largest first: which unknown is worth measuring first."""
    rows = [
        {"parameter": name, "evppi": evppi(values, parameters[name].to_numpy())}
        for name in parameters.columns
        if pd.api.types.is_numeric_dtype(parameters[name])
    ]
    table = pd.DataFrame(rows, columns=list(EVPPI_COLUMNS))
    return table.sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True)


def format_decision(
    table: pd.DataFrame,
    evppi_rows: pd.DataFrame,
    evpi_value: float,
    *,
    objective: Objective,
    currency: str,
    title: str,
    current: str | None = None,
    noise: float | None = None,
    pairs: pd.DataFrame | None = None,
    n_parameters: int = 3,
) -> str:
    """The decision as plain text: per strategy the expected objective with its 95% range over
    the draws, P(best), P(beats silent) (and the current plan), the expected loss; how much of
    the spread of the difference to the leader is the parameters and how much Monte Carlo
    noise; ``pairs`` (``pairwise``) where given; EVPI; and the uncertain values most worth
    measuring (EVPPI), of those above the estimator's ``noise`` level (``evppi_noise``)."""
    kpi, unit = objective.kpi, unit_of(objective.kpi)
    shown = f"{kpi} ({currency})" if unit == "currency" else kpi

    def number(value: float, diff: bool = False) -> str:
        return format_number(value, unit, diff=diff)

    def amount(value: float) -> str:
        return f"{number(value)} {currency}" if unit == "currency" else number(value)

    def share(p: float) -> str:
        return "n/a" if np.isnan(p) else f"{p:.0%}"

    header = ["strategy", "expected", "95% over draws", "P(best)", "P(> silent)"]
    if current is not None:
        header.append(f"P(> {current})")
    header.append("expected loss")
    rows = []
    for r in table.to_dict("records"):
        row = [
            str(r["strategy"]),
            number(r["expected"]),
            f"[{number(r['low'])}, {number(r['high'])}]",
            share(r["p_best"]),
            "-" if r["strategy"] == SILENT else share(r["p_beats_silent"]),
        ]
        if current is not None:
            row.append("-" if r["strategy"] == current else share(r["p_beats_current"]))
        rows.append([*row, number(r["expected_loss"])])
    better = "higher" if objective.sense == "max" else "lower"
    lines: list[str] = []

    def say(text: str) -> None:
        lines.extend(textwrap.wrap(text, 100))

    say(title)
    say(
        f"Strategies by expected {shown}, {better} is better; the ranges and probabilities "
        "are over parameter uncertainty and Monte Carlo noise together"
    )
    lines += ["", *text_table(header, rows, left=1), ""]
    if pairs is not None and len(pairs) > 2:
        names = [str(n) for n in table["strategy"]]
        cells = [[a, *("-" if a == b else share(pairs.loc[a, b]) for b in names)] for a in names]
        lines += [
            "Share of draws in which the row beats the column",
            *text_table(["", *names], cells, left=1),
            "",
        ]
    leader = str(table["strategy"].iloc[0])
    spread, chance = table["sd_parameters"].iloc[1:], table["sd_noise"].iloc[1:]
    if len(table) > 1 and spread.notna().all():
        part = (spread**2 / (spread**2 + chance**2)).fillna(1.0)
        say(
            f"Spread over draws of each strategy's difference to {leader}: "
            f"{part.min():.0%}-{part.max():.0%} parameter uncertainty, the rest Monte Carlo "
            "noise (decision.csv: sd_parameters, sd_noise)"
        )
    else:
        say(
            "The split of the spread into parameters and Monte Carlo noise needs 2 or more "
            "replications per draw"
        )
    say(
        f"EVPI {amount(evpi_value)} per member: the most that knowing every uncertain value "
        "exactly could gain over choosing now"
    )
    floor = 0.0 if noise is None else noise
    top = evppi_rows[evppi_rows["evppi"] > floor].head(n_parameters)
    if len(top):
        named = ", ".join(
            f"{p} {amount(v)}" for p, v in zip(top["parameter"], top["evppi"], strict=True)
        )
        say(f"Worth measuring first (EVPPI per member): {named}")
    elif len(evppi_rows):
        say(
            "No uncertain value's EVPPI stands above the noise of these draws: run more draws "
            "to learn which to measure first"
        )
    if noise:
        say(
            f"(EVPPI up to {amount(noise)} is what values that decide nothing get from these "
            "draws: not distinguishable from none)"
        )
    elif noise is not None:
        say("(values that decide nothing get an EVPPI of 0 from these draws)")
    return "\n".join(lines) + "\n"
