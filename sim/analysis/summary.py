"""Per-strategy statistics over replications, ranking, and the terminal report.

Every strategy in a replication shares the population and the random numbers with ``silent``
(common random numbers), so differences to ``silent`` are computed per replication (paired):
the shared noise cancels and the interval is far narrower than comparing two means would give.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim.spec.kpis import COUNT_UNITS, KPIS, summary_columns
from sim.spec.strategy import SILENT

# strategies.csv column: True for an oracle policy's upper bound, not a real strategy.
UPPER_BOUND = "upper_bound"


def _validated(summary: pd.DataFrame, kpis: Sequence[str]) -> pd.DataFrame:
    """Check the per-replication table and return it indexed by (strategy, replication)."""
    missing = [c for c in ("strategy", "replication", *kpis) if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks columns {missing}")
    strategies = list(pd.unique(summary["strategy"]))
    if SILENT not in strategies:
        raise ValueError("summary has no 'silent' strategy: it is the counterfactual for all")
    if summary.duplicated(["strategy", "replication"]).any():
        raise ValueError("summary has more than one row for a strategy and replication")
    reps = summary.groupby("strategy", sort=False)["replication"].agg(frozenset)
    unpaired = [s for s in strategies if reps[s] != reps[SILENT]]
    if unpaired:
        raise ValueError(f"strategies {unpaired} do not have the same replications as 'silent'")
    return summary.set_index(["strategy", "replication"]).sort_index()


def _values(table: pd.DataFrame, strategy: str, kpi: str) -> np.ndarray:
    """One strategy's KPI values ordered by replication (so strategies pair up row by row)."""
    return table.xs(strategy, level="strategy")[kpi].to_numpy(dtype=float)


def t_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Mean and Student-t interval; NaN values (undefined rates) are left out."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    if len(values) == 1:
        return float(values[0]), math.nan, math.nan
    if np.all(values == values[0]):
        # No spread: the interval is the point itself (not 0/0 noise from the mean).
        point = float(values[0])
        return point, point, point
    mean = float(values.mean())
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * stats.sem(values)
    return mean, mean - half, mean + half


def summarise(summary: pd.DataFrame, kpis: Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """One row per strategy (input order): mean and t-interval per KPI, and the paired
    difference to ``silent`` with its t-interval. Intervals are NaN with one replication."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    table = _validated(summary, kpis)
    rows = []
    for strategy in pd.unique(summary["strategy"]):
        row: dict[str, object] = {
            "strategy": strategy,
            "replications": len(table.xs(strategy, level="strategy")),
        }
        for kpi in kpis:
            row |= _statistics(table, strategy, kpi, confidence)
        rows.append(row)
    return pd.DataFrame(rows)


def _statistics(
    table: pd.DataFrame, strategy: str, kpi: str, confidence: float
) -> dict[str, float]:
    """A KPI's columns of strategies.csv for one strategy (``MeanCI`` in the registry)."""
    values = _values(table, strategy, kpi)
    diffs = values - _values(table, SILENT, kpi)
    estimates = (*t_interval(values, confidence), *t_interval(diffs, confidence))
    return dict(zip(summary_columns(kpi), estimates, strict=True))


def rank(strategies: pd.DataFrame, kpi: str, sense: str) -> pd.DataFrame:
    """Strategies sorted best first on ``{kpi}_mean`` with a ``rank`` column (1 = best).

    Ties keep their input order; a NaN mean ranks last. Upper bounds (``upper_bound``: an
    oracle policy that sees latent state) come after every real strategy."""
    if sense not in ("max", "min"):
        raise ValueError(f"sense must be 'max' or 'min', not {sense!r}")
    column = f"{kpi}_mean"
    if column not in strategies.columns:
        raise ValueError(f"no column {column!r}: was {kpi!r} summarised?")
    bound = (
        strategies[UPPER_BOUND].astype(bool)
        if UPPER_BOUND in strategies.columns
        else pd.Series(False, index=strategies.index)
    )
    # Upper bounds (oracle policies) follow every real strategy, whatever their score.
    ranked = pd.concat(
        [
            part.sort_values(column, ascending=sense == "min", kind="stable", na_position="last")
            for part in (strategies[~bound], strategies[bound])
        ]
    ).reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    return ranked


# How each strategy stands against the best (``versus_best``).
BEST, TIED, BEHIND, UNKNOWN = "best", "tied", "behind", "unknown"
# Below this many replications the t-intervals are too rough to act on.
MIN_REPLICATIONS = 5


def versus_best(
    summary: pd.DataFrame,
    ranked: pd.DataFrame,
    kpi: str,
    *,
    confidence: float = 0.95,
    min_effect: float = 0.0,
) -> pd.DataFrame:
    """``ranked`` (from ``rank``) with each strategy's paired difference to the best on
    ``kpi`` (``{kpi}_diff_best`` and its t-interval ``_low``, ``_high``, paired by
    replication) and its ``standing``: best; tied where the interval covers 0 or the
    difference is within ``min_effect`` (in the KPI's unit); behind otherwise; unknown with
    one replication. Upper bounds get no standing (empty)."""
    table = _validated(summary, [kpi])
    real = ranked[~ranked.apply(is_upper_bound, axis=1)]
    leader = str(real["strategy"].iloc[0]) if len(real) else None
    out = ranked.copy()
    columns = [f"{kpi}_diff_best", f"{kpi}_diff_best_low", f"{kpi}_diff_best_high"]
    estimates, standing = [], []
    for row in ranked.to_dict("records"):
        if leader is None or is_upper_bound(pd.Series(row)):
            estimates.append((math.nan,) * 3)
            standing.append("")
            continue
        diffs = _values(table, row["strategy"], kpi) - _values(table, leader, kpi)
        mean, low, high = t_interval(diffs, confidence)
        estimates.append((mean, low, high))
        if row["strategy"] == leader:
            standing.append(BEST)
        elif abs(mean) <= min_effect or (not math.isnan(low) and low <= 0.0 <= high):
            standing.append(TIED)
        elif math.isnan(low):
            standing.append(UNKNOWN)
        else:
            standing.append(BEHIND)
    for i, column in enumerate(columns):
        out[column] = [e[i] for e in estimates]
    out["standing"] = standing
    return out


def is_upper_bound(row: pd.Series) -> bool:
    """Is this strategies.csv row an oracle's upper bound rather than a real strategy?"""
    return bool(row.get(UPPER_BOUND, False))


def ranked_label(row: pd.Series) -> str:
    """'2. name' for a ranked strategy, 'name (upper bound)' for an oracle's bound."""
    name = row["strategy"]
    return f"{name} (upper bound)" if is_upper_bound(row) else f"{row['rank']}. {name}"


def _separation(diffs: np.ndarray, silent_mean: float) -> tuple[float, float]:
    """(|mean| / standard error, |mean| / |silent mean|) of paired differences.

    A zero standard error with a nonzero mean is infinitely clear; so is a single replication,
    which shows no spread. The relative size only breaks ties among those."""
    diffs = diffs[~np.isnan(diffs)]
    if len(diffs) == 0:
        return 0.0, 0.0
    mean = abs(float(diffs.mean()))
    se = 0.0 if np.all(diffs == diffs[0]) else float(stats.sem(diffs))
    t_like = mean / se if se > 0 else (math.inf if mean > 0 else 0.0)
    base = abs(silent_mean)
    relative = mean / base if base > 0 else (math.inf if mean > 0 else 0.0)
    return t_like, relative


def differing_kpis(summary: pd.DataFrame, kpis: Sequence[str], n: int = 5) -> list[str]:
    """The ``n`` KPIs on which some strategy differs most clearly from ``silent``.

    Clarity is the largest paired |mean difference| / standard error over strategies. KPIs
    that are constant, or identical for every strategy, are left out. Ties (infinite clarity
    is common: zero spread, or one replication) go by relative size, then by KPI order."""
    table = _validated(summary, kpis)
    others = [s for s in pd.unique(summary["strategy"]) if s != SILENT]
    scored = []
    for order, kpi in enumerate(kpis):
        if summary[kpi].nunique(dropna=True) <= 1:
            continue
        silent = _values(table, SILENT, kpi)
        silent_mean = float(np.nanmean(silent)) if not np.all(np.isnan(silent)) else math.nan
        best = max(
            (_separation(_values(table, s, kpi) - silent, silent_mean) for s in others),
            default=(0.0, 0.0),
        )
        if best[0] > 0:
            scored.append((-best[0], -best[1], order, kpi))
    return [kpi for *_, kpi in sorted(scored)[:n]]


# --- terminal report ------------------------------------------------------------------------


def unit_of(kpi: str) -> str:
    return KPIS[kpi].unit if kpi in KPIS else ""


def format_number(
    value: float, unit: str, *, diff: bool = False, scale: float | None = None
) -> str:
    """One value in the KPI's unit; ``scale`` (a magnitude) fixes decimals across a cell."""
    if math.isnan(value):
        return "n/a"
    sign = "+" if diff else ""
    if unit == "fraction":
        # A difference of two shares is in percentage points, not percent.
        return f"{round_to(value * 100, 2):{sign},.2f}{'pp' if diff else '%'}"
    if unit in COUNT_UNITS:
        return f"{round_to(value, 0):{sign},.0f}"
    if unit.startswith("index"):
        return f"{round_to(value, 1):{sign},.1f}"
    # Currency (and anything else): cents only where they are not noise.
    decimals = 0 if abs(value if scale is None else scale) >= 1000 else 2
    return f"{round_to(value, decimals):{sign},.{decimals}f}"


def round_to(value: float, decimals: int) -> float:
    """Round, turning -0.0 into 0.0 so a tiny negative does not print as '-0.00'."""
    return round(value, decimals) + 0.0


def format_estimate(
    point: float, low: float, high: float, unit: str, currency: str, diff: bool
) -> str:
    """'point [low, high]', with the currency code once after the point."""
    scale = np.nanmax(np.abs([point, low, high])) if not math.isnan(point) else None
    text = format_number(point, unit, diff=diff, scale=scale)
    if unit == "currency" and not math.isnan(point):
        text += f" {currency}"
    if not (math.isnan(low) or math.isnan(high)):
        bounds = (format_number(b, unit, diff=diff, scale=scale) for b in (low, high))
        text += " [{}, {}]".format(*bounds)
    return text


def _standing_lines(
    ranked: pd.DataFrame, kpi: str, currency: str, level: str, reps: int
) -> list[str]:
    """How sure the ranking is: each strategy's paired difference to the best and whether it
    is tied with it, then what the intervals leave out."""
    unit = unit_of(kpi)
    real = ranked[ranked["standing"] != ""]
    leader = str(real["strategy"].iloc[0])
    rows = []
    for r in real.iloc[1:].to_dict("records"):
        estimate = format_estimate(
            r[f"{kpi}_diff_best"],
            r[f"{kpi}_diff_best_low"],
            r[f"{kpi}_diff_best_high"],
            unit,
            currency,
            True,
        )
        rows.append([str(r["strategy"]), estimate, str(r["standing"])])
    tied = [r[0] for r in rows if r[2] == TIED]
    lines = [f"How sure: each strategy against {leader} (paired by replication)"]
    if rows:
        lines += text_table(["strategy", f"vs {leader}", ""], rows, left=1)
    if tied:
        lines.append(
            f"{', '.join(tied)} {'is' if len(tied) == 1 else 'are'} tied with {leader}: the "
            f"{level} interval of the difference covers 0"
        )
    if reps < MIN_REPLICATIONS:
        lines.append(
            f"Warning: {reps} replication{'s' if reps != 1 else ''}; below "
            f"{MIN_REPLICATIONS} the intervals are too rough to act on (--replications)"
        )
    lines += [
        "These intervals are Monte Carlo noise only, not the uncertainty in the model's "
        "behavioural",
        "parameters: `loyaltysim run SCENARIO --draws 64` gives P(best) and the expected loss "
        "over it.",
    ]
    return lines


def text_table(header: list[str], rows: list[list[str]], left: int) -> list[str]:
    """Aligned text columns: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_ranking(
    ranked: pd.DataFrame,
    kpi: str,
    currency: str,
    differing: list[str],
    *,
    confidence: float = 0.95,
) -> str:
    """Plain-text ranking on ``kpi`` with intervals, then the means of the KPIs in ``differing``.

    ``confidence`` only labels the intervals: pass the level ``summarise`` used."""
    unit = unit_of(kpi)
    level = f"{confidence:.0%}"
    reps = int(ranked["replications"].max())
    rows = []
    for _, r in ranked.iterrows():
        mean = format_estimate(
            r[f"{kpi}_mean"], r[f"{kpi}_ci_low"], r[f"{kpi}_ci_high"], unit, currency, False
        )
        if r["strategy"] == SILENT:
            versus = "baseline"
        else:
            versus = format_estimate(
                r[f"{kpi}_diff_silent"],
                r[f"{kpi}_diff_ci_low"],
                r[f"{kpi}_diff_ci_high"],
                unit,
                currency,
                True,
            )
        if is_upper_bound(r):
            rows.append(["-", f"{r['strategy']} (upper bound)", mean, versus])
        else:
            rows.append([str(r["rank"]), str(r["strategy"]), mean, versus])
    ci = "" if reps == 1 else f" [{level} CI]"
    header = ["rank", "strategy", f"{kpi}{ci}", f"vs silent{ci}"]
    lines = [
        f"Strategies ranked by {kpi}, best first "
        f"({reps} replication{'s' if reps > 1 else ''}; differences paired by replication)",
        "",
        *text_table(header, rows, left=2),
    ]
    if reps == 1:
        lines.append("(one replication: no confidence intervals)")
    if any(is_upper_bound(r) for _, r in ranked.iterrows()):
        lines.append(
            "(upper bound: an oracle policy that sees latent fatigue no marketer can observe;"
            " not ranked)"
        )
    if "standing" in ranked.columns:
        lines += ["", *_standing_lines(ranked, kpi, currency, level, reps)]

    lines += ["", "Where the strategies differ most (mean per strategy)"]
    if not differing:
        lines.append("  no KPI differs between the strategies")
        return "\n".join(lines) + "\n"
    names = [str(s) for s in ranked["strategy"]]
    means = []
    for name in differing:
        label = f"{name} ({currency})" if unit_of(name) == "currency" else name
        means.append([label, *(format_number(v, unit_of(name)) for v in ranked[f"{name}_mean"])])
    lines += text_table(["KPI", *names], means, left=1)
    return "\n".join(lines) + "\n"
