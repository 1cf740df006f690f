"""Decisions under parameter uncertainty: which strategy to choose when the behavioural
parameters are drawn from their priors, how sure that choice is, and which unknown is worth
measuring first (docs/uncertainty.md, "Decision").

Input: the objective (net benefit, NB) of each strategy in each parameter draw, averaged over
that draw's replications, in a table with one row per draw and one column per strategy. With
d(k, s) that value for draw k and strategy s and E the mean over draws:

- expected value E[d(., s)], and its 2.5-97.5% percentiles over draws;
- P(best): the share of draws in which s has the highest value;
- P(beats silent): the share in which s is above silent;
- expected loss: E[max_t d(., t) - d(., s)], what choosing s forgoes against the best choice in
  each draw (0 only for a choice that is best in every draw);
- EVPI = E[max_s d(., s)] - max_s E[d(., s)]: what knowing every parameter would be worth;
- EVPPI of a parameter theta, by the regression method of Strong, Oakley & Brennan (2014): fit
  g_s(theta) = E[d(., s) | theta] by a smoothing spline of d(k, s) on theta_k (scipy, its
  smoothing chosen by generalised cross-validation), then EVPPI = E[max_s g_s] - max_s E[g_s].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.interpolate import make_smoothing_spline

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
EVPPI_COLUMNS = ("parameter", "evppi")


def decision_table(values: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy (the columns of ``values``, draws as rows): DECISION_COLUMNS, in
    decreasing expected value."""
    v = values.to_numpy(dtype=float)
    best = v.max(axis=1, keepdims=True)
    winners = v == best  # ties share the draw
    share = winners / winners.sum(axis=1, keepdims=True)
    silent = values[SILENT].to_numpy(dtype=float) if SILENT in values else None
    table = pd.DataFrame(
        {
            "strategy": values.columns,
            "expected": v.mean(axis=0),
            "low": np.percentile(v, 2.5, axis=0),
            "high": np.percentile(v, 97.5, axis=0),
            "p_best": share.mean(axis=0),
            "p_beats_silent": (
                np.full(v.shape[1], np.nan)
                if silent is None
                else (v > silent[:, None]).mean(axis=0)
            ),
            "expected_loss": (best - v).mean(axis=0),
        }
    )
    return table.sort_values("expected", ascending=False, kind="stable").reset_index(drop=True)


def evpi(values: pd.DataFrame) -> float:
    """Expected value of perfect information, in the objective's unit: E[max_s] - max_s E."""
    v = values.to_numpy(dtype=float)
    return float(v.max(axis=1).mean() - v.mean(axis=0).max())


def evppi(values: pd.DataFrame, parameter: np.ndarray) -> float:
    """Expected value of perfect information about one parameter (objective's unit), by
    regression: each strategy's value smoothed on the parameter's draws (a cubic smoothing
    spline, smoothing by generalised cross-validation), then E[max_s g_s] - max_s E[g_s].
    A parameter with fewer than 5 distinct drawn values is smoothed by its group means."""
    theta = np.asarray(parameter, dtype=float)
    v = values.to_numpy(dtype=float)
    fitted = np.empty_like(v)
    distinct = np.unique(theta)
    if distinct.size < 5:  # a choice among few values: E[d | theta] is the group mean
        for value in distinct:
            rows = theta == value
            fitted[rows] = v[rows].mean(axis=0)
    else:
        order = np.argsort(theta, kind="stable")
        x, inverse = np.unique(theta[order], return_inverse=True)
        for s in range(v.shape[1]):
            # Tied draws are averaged first: the spline needs increasing abscissae.
            y = np.bincount(inverse, weights=v[order, s]) / np.bincount(inverse)
            weights = np.bincount(inverse).astype(float)
            fitted[order, s] = make_smoothing_spline(x, y, w=weights)(x)[inverse]
    return max(float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()), 0.0)


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
