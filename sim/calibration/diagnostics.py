"""Fit a segment and judge the fit: histogram, holdout predictions and cumulative purchases.

All counts are repeat purchase days (same-day purchases merged); time in days.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibration import bgnbd, gammagamma
from sim.calibration.bgnbd import Fit
from sim.calibration.transactions import Customers, TransactionLog
from sim.errors import SimInputError

# Repeat-purchase classes 0..6 and 7+, as in Fader, Hardie & Lee (2005).
TOP_CLASS = 7
CLASSES: tuple[str, ...] = (*(str(k) for k in range(TOP_CLASS)), f"{TOP_CLASS}+")
# Chi-square classes are pooled from the top until each expects at least this many customers.
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class SegmentFit:
    """The fitted models of one segment and how well they describe its customers."""

    name: str
    customers: Customers
    purchase: Fit  # BG/NBD r, alpha, a, b; alpha in days
    spend: Fit  # Gamma-Gamma p, q, v; currency
    spend_left_out: int  # repeat customers whose repeat purchases summed to zero
    histogram: pd.DataFrame  # per class of x: actual and expected customers
    chi2: float  # Pearson chi-square of the histogram, pooled (see MIN_EXPECTED)
    chi2_df: int  # classes - 1 - 4 fitted parameters
    chi2_p: float  # NaN when there are too few classes for a test
    holdout: pd.DataFrame | None  # per class of x: customers, actual and predicted totals


def fit_segment(name: str, customers: Customers, log: TransactionLog) -> SegmentFit:
    """Fit BG/NBD and Gamma-Gamma to one segment's customers and compute its diagnostics."""
    where = f"{log.source}: segment {name!r}" if len(log.segments) > 1 else log.source
    c = customers
    if not np.any(c.x > 0):
        raise SimInputError(
            f"{where}: no customer made a repeat purchase in the calibration period, so "
            "the purchase model cannot be fitted",
            log.source,
        )
    paying = (c.x > 0) & (c.spend > 0)
    if not paying.any():
        raise SimInputError(
            f"{where}: every repeat purchase has amount 0, so the spend model cannot be fitted",
            log.source,
        )
    purchase = bgnbd.fit(c.x, c.t_x, c.T)
    spend = gammagamma.fit(c.x[paying], c.spend[paying])
    if spend.params["q"] <= 1:
        raise SimInputError(
            f"{where}: the spend fit gives q = {spend.params['q']:.3g} <= 1, i.e. an infinite "
            "mean spend: amounts are too heavy-tailed (look for outliers or bulk orders)",
            log.source,
        )
    histogram = _histogram(c, purchase.params)
    chi2, df, p = _chi_square(histogram)
    holdout = _holdout(c, log.holdout_days, purchase.params) if log.holdout_days else None
    return SegmentFit(
        name=name,
        customers=c,
        purchase=purchase,
        spend=spend,
        spend_left_out=int(np.sum(c.x > 0) - np.sum(paying)),
        histogram=histogram,
        chi2=chi2,
        chi2_df=df,
        chi2_p=p,
        holdout=holdout,
    )


def _classes(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, TOP_CLASS).astype(np.int64)


def _histogram(c: Customers, params: dict[str, float]) -> pd.DataFrame:
    """Customers by calibration repeat purchases, actual and expected given each one's T."""
    ages, per_age = np.unique(c.T, return_counts=True)
    below = per_age @ bgnbd.pmf(ages, TOP_CLASS - 1, params)
    expected = np.append(below, c.size - below.sum())
    actual = np.bincount(_classes(c.x), minlength=TOP_CLASS + 1)
    return pd.DataFrame({"actual": actual, "expected": expected}, index=list(CLASSES))


def _chi_square(histogram: pd.DataFrame) -> tuple[float, int, float]:
    actual = list(histogram["actual"].astype(float))
    expected = list(histogram["expected"])
    while len(expected) > 1 and expected[-1] < MIN_EXPECTED:
        # Pop first: `a[-2] += a.pop()` stores into a[-2] of the shortened list, which for
        # two classes is no longer there.
        last_actual, last_expected = actual.pop(), expected.pop()
        actual[-1] += last_actual
        expected[-1] += last_expected
    obs, exp = np.array(actual), np.array(expected)
    chi2 = float(np.sum((obs - exp) ** 2 / exp))
    df = len(exp) - 1 - len(bgnbd.NAMES)
    return chi2, df, float(stats.chi2.sf(chi2, df)) if df >= 1 else float("nan")


def _holdout(c: Customers, days: int, params: dict[str, float]) -> pd.DataFrame:
    """Repeat purchases in the holdout by calibration class: actual and E[Y | x, t_x, T]."""
    predicted = bgnbd.conditional_expected(days, c.x, c.t_x, c.T, params)
    k = _classes(c.x)
    return pd.DataFrame(
        {
            "customers": np.bincount(k, minlength=TOP_CLASS + 1),
            "actual": np.bincount(k, weights=c.holdout, minlength=TOP_CLASS + 1),
            "predicted": np.bincount(k, weights=predicted, minlength=TOP_CLASS + 1),
        },
        index=list(CLASSES),
    )


# --- report ----------------------------------------------------------------------------------


def report(log: TransactionLog, fits: dict[str, SegmentFit]) -> str:
    """The diagnostics as compact text."""
    n = sum(f.customers.size for f in fits.values())
    lines = [
        f"{log.source}: {log.rows:,} rows, {n:,} customers, {log.start} to {log.end}",
        f"calibration period to {log.calibration_end}"
        + (f", holdout {log.holdout_days} days after it" if log.holdout_days else ""),
    ]
    for fit in fits.values():
        lines += ["", *segment_report(fit, log.holdout_days, len(fits) > 1)]
    if log.notes:
        lines += ["", "notes:", *(f"  {note}" for note in log.notes)]
    return "\n".join(lines)


def segment_report(fit: SegmentFit, holdout_days: int, named: bool) -> list[str]:
    """One segment's estimates and diagnostics; ``named`` when there are several segments."""
    lines = [f"segment {fit.name!r}: {fit.customers.size:,} customers"] if named else []
    for label, model in (("BG/NBD, days", fit.purchase), ("Gamma-Gamma", fit.spend)):
        lines.append(
            f"  {label}: log-likelihood {model.log_likelihood:,.1f} ({model.n:,} customers)"
        )
        lo, hi = model.interval()
        for name, est, se, a, b in zip(model.names, model.estimate, model.se, lo, hi, strict=True):
            lines.append(f"    {name:<5} {est:10.4g}  se {se:9.3g}  95% [{a:.4g}, {b:.4g}]")
        if model.message:
            lines.append(f"    warning: {model.message}")
    if fit.spend_left_out:
        lines.append(f"    ({fit.spend_left_out:,} customers with zero repeat spend left out)")
    h = fit.histogram
    lines += [
        "  repeat purchases per customer, calibration period:",
        "    x        " + "".join(f"{k:>9}" for k in h.index),
        "    actual   " + "".join(f"{v:9,.0f}" for v in h["actual"]),
        "    expected " + "".join(f"{v:9,.1f}" for v in h["expected"]),
        f"    {chi_square_text(fit)}",
    ]
    if fit.holdout is not None:
        lines += _holdout_lines(fit.holdout, holdout_days)
    return lines


def chi_square_text(fit: SegmentFit) -> str:
    if fit.chi2_df < 1:
        return "too few classes for a chi-square test"
    return f"chi-square {fit.chi2:.1f} on {fit.chi2_df} df, p {fit.chi2_p:.3g}"


def _holdout_lines(holdout: pd.DataFrame, days: int) -> list[str]:
    actual, predicted = holdout["actual"].sum(), holdout["predicted"].sum()
    customers = holdout["customers"].where(holdout["customers"] > 0)
    return [
        f"  holdout ({days} days): repeat purchases actual {actual:,.0f}, predicted "
        f"{predicted:,.1f} ({predicted / actual - 1:+.1%})"
        if actual
        else f"  holdout ({days} days): no repeat purchases, predicted {predicted:,.1f}",
        "    per customer by calibration x:",
        "    x        " + "".join(f"{k:>9}" for k in holdout.index),
        "    actual   " + "".join(f"{v:9.3f}" for v in holdout["actual"] / customers),
        "    predicted" + "".join(f"{v:9.3f}" for v in holdout["predicted"] / customers),
    ]


# --- cumulative repeat purchases -------------------------------------------------------------


def cumulative(log: TransactionLog, fits: dict[str, SegmentFit]) -> pd.DataFrame:
    """Cumulative repeat purchases of the cohort by date: actual and BG/NBD expected.

    The model curve is sum over customers of E[X(d - first)], a convolution of the number of
    first purchases per day with E[X(t)] at whole days.
    """
    days = log.days
    model = np.zeros(days)
    for fit in fits.values():
        firsts = np.bincount(fit.customers.first, minlength=days)
        curve = bgnbd.expected(np.arange(days), fit.purchase.params)
        model += np.convolve(firsts, curve)[:days]
    in_fit = np.isin(log.repeat_segment, [log.segments.index(name) for name in fits])
    actual = np.cumsum(np.bincount(log.repeat_day[in_fit], minlength=days))
    dates = pd.date_range(log.start, periods=days, freq="D")
    return pd.DataFrame({"actual": actual, "model": model}, index=dates)


def cumulative_png(log: TransactionLog, fits: dict[str, SegmentFit]) -> bytes:
    """PNG of :func:`cumulative`, the calibration end marked when there is a holdout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = cumulative(log, fits)
    figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.plot(curves.index, curves["actual"], color="black", label="actual")
    ax.plot(curves.index, curves["model"], color="tab:blue", linestyle="--", label="BG/NBD")
    if log.holdout_days:
        ax.axvline(log.calibration_end, color="grey", linewidth=0.8)
        ax.text(log.calibration_end, 0, " calibration end", rotation=90, va="bottom", ha="right")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title(f"{log.source}: repeat purchases, actual and model")
    ax.legend(loc="upper left")
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
