"""The report's figures, drawn from a results folder's tables as PNG bytes.

Figures are built on ``matplotlib.figure.Figure`` (rendered by Agg) rather than pyplot, so
drawing them changes no global matplotlib state in the caller's process. Bands are 95%
t-intervals over replications, week by week; differences to ``silent`` are paired by
replication (common random numbers), as in strategies.csv. A run of parameter draws has its
own two figures (``DECISION_FIGURES``): the difference to the leader over the draws, and the
EVPPI of the uncertain values.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from scipy import stats

from sim.analysis.summary import format_number, rank, ranked_label, unit_of
from sim.report.data import CHANNELS, SILENT_COLOUR, DecisionData, ReportData
from sim.spec.kpis import SERIES
from sim.spec.strategy import SILENT

# Customer Barometer satisfaction bands: (low, high, label, shade).
BANDS = (
    (0, 60, "very dissatisfied", "#F4D6D2"),
    (60, 70, "indifferent", "#F6E8D2"),
    (70, 75, "satisfied", "#EEF2DA"),
    (75, 80, "very satisfied", "#DCEEDF"),
    (80, 100, "delighted", "#D2E8EC"),
)


@dataclass(frozen=True)
class Chart:
    """One rendered figure: its file stem, title, caption and PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes


# --- helpers ------------------------------------------------------------------------------------


def _band(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per strategy and week: the mean over replications and its 95% t-interval."""
    grouped = frame.groupby(["strategy", "week"], sort=False)[column]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    t = stats.t.ppf(0.975, np.maximum(out["count"] - 1, 1))
    half = np.where(out["count"] > 1, t * out["std"].fillna(0) / np.sqrt(out["count"]), np.nan)
    return out.assign(low=out["mean"] - half, high=out["mean"] + half)


def _versus_silent(frame: pd.DataFrame, column: str, cumulative: bool = False) -> pd.DataFrame:
    """``column`` minus silent's in the same replication and week, optionally summed over
    weeks; silent itself is dropped."""
    silent = frame[frame["strategy"] == SILENT][["replication", "week", column]]
    merged = frame[frame["strategy"] != SILENT].merge(
        silent, on=["replication", "week"], suffixes=("", "_silent")
    )
    merged["value"] = merged[column] - merged[f"{column}_silent"]
    merged = merged.sort_values(["strategy", "replication", "week"], kind="stable")
    if cumulative:
        merged["value"] = merged.groupby(["strategy", "replication"])["value"].cumsum()
    return merged


def _cumulative(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``column`` summed over weeks within each strategy and replication, as ``value``."""
    ordered = frame.sort_values(["strategy", "replication", "week"], kind="stable").copy()
    ordered["value"] = ordered.groupby(["strategy", "replication"])[column].cumsum()
    return ordered


def _lines(
    ax: Axes,
    data: ReportData,
    bands: pd.DataFrame,
    label: Callable[[str], str] = str,
    **kw: str,
) -> None:
    """One line per strategy with its band, in the report's strategy order and colours."""
    for name in data.names:
        part = bands[bands["strategy"] == name]
        if part.empty:
            continue
        style = data.style(name) | kw
        ax.plot(part["week"], part["mean"], label=label(name), linewidth=1.6, **style)
        ax.fill_between(part["week"], part["low"], part["high"], color=style["color"], alpha=0.18)
    ax.set_xlabel("week")
    ax.grid(True, color="#DDDDDD", linewidth=0.6)


def _money_axis(ax: Axes, values: np.ndarray, currency: str) -> str:
    """Scale a money axis to thousands/millions/billions; return the unit for its label."""
    top = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    scale, word = next(
        ((s, w) for s, w in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")) if top >= s),
        (1.0, ""),
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / scale:,.4g}"))
    return " ".join(p for p in (currency, word) if p) or "currency"


def _tick(x: float, unit: str, diff: bool) -> str:
    if unit == "fraction":
        return f"{x * 100:.3g}{'pp' if diff else '%'}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _count_axis(ax: Axes, axis: str = "y", unit: str = "", diff: bool = False) -> None:
    """Thousands separators, and fractions as percent (percentage points for differences)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda x, _: _tick(x, unit, diff)))


def _axis_label(kpi: str, unit: str, currency: str, diff: bool = False) -> str:
    """'clv (NOK)', 'retention_rate (%)', or for a difference of shares 'retention_rate (pp)'."""
    shown = {"currency": currency, "fraction": "pp" if diff else "%"}.get(unit, unit)
    return f"{kpi} ({shown})" if shown else kpi


def format_amount(value: float, unit: str, currency: str) -> str:
    """A gain or loss in the objective (expected loss, EVPI, EVPPI) in its unit, without a
    sign: '90.12 NOK', '0.50pp' (a difference of shares is in percentage points)."""
    text = format_number(value, unit, diff=True).removeprefix("+")
    return (
        f"{text} {currency}" if unit == "currency" and currency and math.isfinite(value) else text
    )


def _mark_events(ax: Axes, data: ReportData) -> None:
    """A dotted vertical line, labelled, at each scenario-wide event that steps the series."""
    for week, label in data.events:
        ax.axvline(week, color="#777777", linewidth=0.8, linestyle=":")
        ax.text(
            week,
            0.98,
            f" {label}",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=7,
            color="#555555",
        )


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same results give the same bytes.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float = 10, height: float = 5.2, **kw: object) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(squeeze=False, **kw)
    return fig, axes.ravel()


# --- figures --------------------------------------------------------------------------------------


def ranking(data: ReportData) -> Chart:
    """The objective per strategy, best at the top; beside it the difference to silent."""
    kpi, unit = data.objective, unit_of(data.objective)
    ranked = rank(data.strategies, kpi, data.sense).iloc[::-1]  # best at the top
    fig, (left, right) = _figure(11, 1.6 + 0.55 * len(ranked), ncols=2, sharey=True)
    y = np.arange(len(ranked))
    for ax, suffix, title in (
        (left, "", "mean over replications"),
        (right, "_diff", "difference to silent (paired)"),
    ):
        label = _axis_label(kpi, unit, data.currency, diff=bool(suffix))
        point = ranked[f"{kpi}_diff_silent" if suffix else f"{kpi}_mean"].to_numpy(float)
        low = ranked[f"{kpi}{suffix}_ci_low"].to_numpy(float)
        high = ranked[f"{kpi}{suffix}_ci_high"].to_numpy(float)
        colours = [data.style(s)["color"] for s in ranked["strategy"]]
        err = np.nan_to_num(np.vstack([point - low, high - point]))
        for i in range(len(ranked)):
            ax.errorbar(point[i], y[i], xerr=err[:, [i]], fmt="o", color=colours[i], capsize=4)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"difference in {label}" if suffix else label)
        ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.6)
        _count_axis(ax, "x", unit, diff=bool(suffix))
    right.axvline(0, color=SILENT_COLOUR, linewidth=0.8, linestyle="--")
    left.set_yticks(y, [ranked_label(r) for _, r in ranked.iterrows()])
    sense = "higher" if data.sense == "max" else "lower"
    title = f"Strategies ranked by {kpi} ({sense} is better), with 95% CIs"
    caption = (
        f"Left: mean {kpi} per strategy with its 95% confidence interval over replications. "
        "Right: the difference to silent, paired by replication (every strategy sees the same "
        "members and random draws), hence its narrower interval."
    )
    return Chart("ranking", title, caption, _png(fig))


def active_members(data: ReportData) -> Chart:
    """Active members per week, and the gap to silent; retention at the horizon in the legend."""
    ts = data.timeseries
    retention = data.strategies.set_index("strategy")["retention_rate_mean"]
    fig, (level, diff) = _figure(ncols=2)
    _lines(level, data, _band(ts, "active"), lambda s: f"{s} (retention {retention[s]:.1%})")
    level.set_title("active members", fontsize=10)
    level.set_ylabel(SERIES["active"].unit)
    level.set_ylim(bottom=0)
    _mark_events(level, data)
    _count_axis(level)
    level.legend(fontsize=8)
    _lines(diff, data, _band(_versus_silent(ts, "active"), "value"))
    diff.axhline(0, color=SILENT_COLOUR, linewidth=0.8)
    diff.set_title("active members minus silent (paired by replication)", fontsize=10)
    diff.set_ylabel(SERIES["active"].unit)
    _count_axis(diff)
    caption = (
        "Members in the program and still purchasing, at the end of each week (mean over "
        "replications, 95% band). The weekly series include members who joined during the "
        "horizon; retention of the starting members is known at the horizon and shown in the "
        "legend (summary.csv retention_rate). Right: the gap to silent, the members a strategy "
        "has cost or kept."
    )
    return Chart("active_members", "Active members and retention over time", caption, _png(fig))


def satisfaction(data: ReportData) -> Chart:
    """The satisfaction index per week over the Customer Barometer bands."""
    fig, (ax,) = _figure()
    bands = _band(data.timeseries, "satisfaction_index")
    low = float(np.nanmin(bands[["mean", "low"]].to_numpy()))
    high = float(np.nanmax(bands[["mean", "high"]].to_numpy()))
    pad = max(2.0, (high - low) * 0.15)
    bottom, top = max(0.0, low - pad), min(100.0, high + pad)
    for b_low, b_high, name, shade in BANDS:
        ax.axhspan(b_low, b_high, color=shade, zorder=0)
        visible = (max(b_low, bottom), min(b_high, top))
        if visible[1] - visible[0] > (top - bottom) * 0.06:
            ax.text(
                1.01,
                sum(visible) / 2,
                name,
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color="#555555",
            )
    _lines(ax, data, bands)
    ax.set_ylim(bottom, top)
    _mark_events(ax, data)
    if bottom > 0 or top < 100:  # a cut axis is said so on the chart itself
        ax.text(
            0.99,
            0.02,
            f"axis cut: shows {bottom:.0f}-{top:.0f} of the 0-100 index",
            transform=ax.transAxes,
            ha="right",
            fontsize=8,
            color="#555555",
        )
    ax.set_ylabel("satisfaction index (0-100)")
    ax.legend(fontsize=8, loc="lower left")
    caption = (
        "Mean satisfaction of members in the program (index 0-100; mean over replications, 95% "
        "band). Shading: under 60 very dissatisfied, 60-70 indifferent, 70-75 satisfied, 75-80 "
        "very satisfied, over 80 delighted. The index is an experience score the simulator builds "
        "from contact and program events (pressure, relevance, rewards, offers), read on the "
        "Customer Barometer's scale; it is not a survey measure."
        + (
            " The dotted line marks the first day points can expire: members who lose their "
            "balance then rate the reward experience lower, which steps the index down for "
            "every strategy at once."
            if data.events
            else ""
        )
    )
    title = "Satisfaction index over time, with the Customer Barometer bands"
    return Chart("satisfaction", title, caption, _png(fig))


def reachable(data: ReportData) -> Chart:
    """Reachable members per week, one panel per channel."""
    fig, axes = _figure(12, 4.4, ncols=3)
    for ax, channel in zip(axes, CHANNELS, strict=True):
        _lines(ax, data, _band(data.timeseries, f"reachable_{channel}"))
        ax.set_title(channel, fontsize=10)
        ax.set_ylabel("reachable members")
        ax.set_ylim(bottom=0)  # from zero: the gaps between strategies at their true size
        _count_axis(ax)
    axes[0].legend(fontsize=8)
    caption = (
        "Members in the program who are opted in and have not unsubscribed, replied STOP or "
        "disabled push, at the end of each week (mean over replications, 95% band)."
    )
    return Chart("reachable", "Reachable audience per channel over time", caption, _png(fig))


def revenue(data: ReportData) -> Chart:
    """Cumulative attributed revenue against cumulative incremental revenue (vs silent)."""
    fig, (ax,) = _figure()
    ts = data.timeseries[data.timeseries["strategy"] != SILENT]
    attributed = _band(_cumulative(ts, "attributed_revenue"), "value")
    incremental = _band(_versus_silent(data.timeseries, "revenue", cumulative=True), "value")
    _lines(ax, data, attributed, lambda s: f"{s}: attributed")
    _lines(ax, data, incremental, lambda s: f"{s}: incremental", linestyle="--")
    ax.axhline(0, color=SILENT_COLOUR, linewidth=0.8)
    values = np.concatenate([attributed["high"].to_numpy(), incremental["low"].to_numpy()])
    ax.set_ylabel(f"cumulative revenue ({_money_axis(ax, values, data.currency)})")
    ax.legend(fontsize=8, ncols=2)
    caption = (
        "Solid: revenue within the attribution window of an opened message, summed over weeks. "
        "Dashed: incremental revenue, the weekly revenue minus silent's in the same replication, "
        "summed over weeks: what the messages actually added. Means over replications, 95% band."
    )
    return Chart("revenue", "Cumulative incremental against attributed revenue", caption, _png(fig))


def pressure(data: ReportData) -> Chart:
    """Weekly mean pressure, and how reachable members are spread over pressure at the horizon."""
    fig, (over_time, horizon) = _figure(ncols=2)
    unit = SERIES["pressure_mean"].unit
    _lines(over_time, data, _band(data.timeseries, "pressure_mean"))
    over_time.axhline(1.0, color="#888888", linewidth=0.8, linestyle=":")
    over_time.set_title("weekly mean", fontsize=10)
    over_time.set_ylabel(unit)
    over_time.legend(fontsize=8)
    # Share of reachable members per bin, pooled over replications.
    bins = data.pressure.groupby(["strategy", "pressure_from", "pressure_to"], sort=False)
    counts = bins["members"].sum().reset_index()
    labels = [
        f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"{lo:g}+"
        for lo, hi in counts[["pressure_from", "pressure_to"]].drop_duplicates().to_numpy()
    ]
    names = data.names
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        members = counts.loc[counts["strategy"] == name, "members"].to_numpy(float)
        share = members / members.sum() if members.sum() else members
        positions = np.arange(len(labels)) + (i - (len(names) - 1) / 2) * width
        horizon.bar(positions, 100 * share, width, label=name, color=data.style(name)["color"])
    horizon.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    horizon.set_xlabel(f"{unit} at the horizon")
    horizon.set_ylabel("share of reachable members (%)")
    horizon.set_title("distribution at the horizon", fontsize=10)
    horizon.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
    caption = (
        "Contact pressure relative to each member's tolerance, among members still reachable on "
        "some channel (1 = at tolerance; above it fatigue lowers opens and raises exits). Left: "
        "weekly mean over replications with 95% band. Right: share of reachable members per "
        "pressure band at the horizon, pooled over replications (pressure.csv)."
    )
    return Chart("pressure", "Contact pressure relative to tolerance", caption, _png(fig))


def channels(data: ReportData) -> Chart:
    """Messages sent and channel exits per channel over the horizon."""
    names = [s for s in data.names if s != SILENT]
    fig, axes = _figure(ncols=2)
    width = 0.8 / max(len(names), 1)
    means = data.summary.groupby("strategy", sort=False).mean(numeric_only=True)
    for ax, kind in zip(axes, ("sends", "exits"), strict=True):
        unit = SERIES[kind].unit  # the channels' totals in summary.csv, in the series' unit
        for i, name in enumerate(names):
            heights = [means.at[name, f"{kind}_{c}"] for c in CHANNELS]
            x = np.arange(len(CHANNELS)) + (i - (len(names) - 1) / 2) * width
            ax.bar(x, heights, width, label=name, color=data.style(name)["color"])
        ax.set_xticks(range(len(CHANNELS)), CHANNELS)
        ax.set_ylabel(unit)
        ax.set_title(f"{kind} per channel over the horizon", fontsize=10)
        ax.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
        _count_axis(ax)
    axes[0].legend(fontsize=8)
    caption = (
        "Mean over replications of messages delivered (left) and of channel exits (right: email "
        "unsubscribes and complaints, SMS STOP replies, push disabled). Silent sends nothing."
    )
    return Chart("channels", "Sends and exits per channel", caption, _png(fig))


FIGURES: tuple[Callable[[ReportData], Chart], ...] = (
    ranking,
    active_members,
    satisfaction,
    reachable,
    revenue,
    pressure,
    channels,
)


def draw_figures(data: ReportData) -> list[Chart]:
    """Every figure of the report, in report order."""
    return [draw(data) for draw in FIGURES]


# --- a run of parameter draws ---------------------------------------------------------------------

# The EVPPI figure shows this many uncertain values, largest first: past them the bars are
# too small to read and the regression too noisy to rank them.
TOP_PARAMETERS = 15
ABOVE_NOISE_COLOUR, BELOW_NOISE_COLOUR, NOISE_COLOUR = "#0072B2", "#BBBBBB", "#D55E00"


def differences_to_leader(data: DecisionData) -> pd.DataFrame:
    """Per draw (rows) and strategy (columns, best expected first): the objective minus the
    leader's in the same draw (draws.csv: means over the draw's replications)."""
    wide = data.draws.pivot(index="draw", columns="strategy", values=data.objective)
    wide = wide[data.names]
    return wide.sub(wide[data.leader], axis=0)


def evppi_bars(data: DecisionData) -> pd.DataFrame:
    """The bars of the EVPPI figure, largest first: the TOP_PARAMETERS uncertain values of
    largest EVPPI above 0 (a value of EVPPI 0 has nothing to show), each with ``above_noise``:
    whether its EVPPI exceeds the noise level, as in evppi.csv."""
    top = data.evppi[data.evppi["evppi"] > 0].head(TOP_PARAMETERS)
    floor = 0.0 if data.noise is None else data.noise
    return pd.DataFrame(
        {"parameter": top["parameter"].astype(str), "evppi": top["evppi"].astype(float)}
    ).assign(above_noise=lambda t: t["evppi"] > floor)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", parse_math=False)
    ax.set_axis_off()


def difference_to_leader(data: DecisionData) -> Chart:
    """Each strategy's difference to the leader over the draws: a box (whiskers at the
    2.5-97.5% percentiles, as decision.csv diff_low and diff_high), the draws as dots and
    the expected difference as a diamond, against a line at 0."""
    kpi, unit, leader = data.objective, unit_of(data.objective), data.leader
    differences = differences_to_leader(data)
    others = [s for s in data.names if s != leader]
    fig, (ax,) = _figure(10, 1.8 + 0.6 * max(len(others), 1))
    y = np.arange(len(others))[::-1]  # the runner-up at the top
    for name, at in zip(others, y, strict=True):
        values = differences[name].dropna().to_numpy(float)
        if not len(values):
            continue
        colour = data.style(name)["color"]
        box = ax.boxplot(
            values,
            positions=[at],
            orientation="horizontal",
            widths=0.5,
            whis=(2.5, 97.5),  # np.percentile's, as decision.csv's diff_low and diff_high
            showfliers=False,  # every draw is a dot already
            showmeans=True,
            patch_artist=True,
            manage_ticks=False,
            medianprops={"color": SILENT_COLOUR},
            meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
        )
        box["boxes"][0].set(facecolor=colour, alpha=0.35, edgecolor=colour)
        # Spread across the box in draw order (not at random): the same files, the same bytes.
        spread = np.linspace(-0.13, 0.13, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(values, at + spread, s=14, color=colour, edgecolors="none", zorder=3)
    draws = int(data.manifest["draws"])
    title = f"Difference to the leader, {leader}, in {kpi} over {draws} parameter draws"
    if not others:
        _empty(ax, f"{leader} is the only strategy")
        return Chart("difference_to_leader", title, "", _png(fig))
    ax.axvline(0, color=SILENT_COLOUR, linewidth=0.9, linestyle="--")
    ax.text(
        0,
        1.01,
        leader,
        transform=ax.get_xaxis_transform(),
        ha="center",
        fontsize=8,
        parse_math=False,
    )
    ax.set_yticks(y, others, parse_math=False)
    ax.set_ylim(-0.7, len(others) - 0.3)
    label = _axis_label(kpi, unit, data.currency, diff=True)
    ax.set_xlabel(f"difference to {leader} in {label}", parse_math=False)
    ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.6)
    _count_axis(ax, "x", unit, diff=True)
    side = "right" if data.sense == "max" else "left"
    reps = int(data.manifest.get("replications") or 1)
    caption = (
        f"Each dot is one draw of the uncertain values: the strategy's {kpi} (mean over the "
        f"draw's {reps} replication{'s' if reps != 1 else ''}) minus {leader}'s in the same draw, "
        "which shares its members and random numbers. Box: the middle half of the draws with "
        "the median; diamond: the mean, the expected difference; whiskers: the 2.5-97.5% range "
        f"(decision.csv diff_low, diff_high). Dots {side} of the dashed line at 0 are draws in "
        f"which the strategy does better than {leader}: there, the parameters change the choice."
    )
    return Chart("difference_to_leader", title, caption, _png(fig))


def evppi_tornado(data: DecisionData) -> Chart:
    """The EVPPI of the TOP_PARAMETERS uncertain values of largest EVPPI, largest at the top,
    against the noise level of the estimator and EVPI."""
    kpi, unit = data.objective, unit_of(data.objective)
    top = evppi_bars(data)
    values = top["evppi"].to_numpy(float)
    noise, evpi = data.noise, float(data.manifest["evpi"])
    fig, (ax,) = _figure(10, 1.8 + 0.38 * max(len(top), 2))
    title = (
        f"What to measure first: the {len(top)} largest EVPPI of {len(data.evppi)} uncertain values"
    )
    if top.empty:
        _empty(ax, f"every EVPPI is 0 (EVPI {format_amount(evpi, unit, data.currency)})")
        return Chart("evppi", title, "", _png(fig))
    y = np.arange(len(top))[::-1]  # the largest at the top
    colours = np.where(top["above_noise"], ABOVE_NOISE_COLOUR, BELOW_NOISE_COLOUR)
    ax.barh(y, values, height=0.6, color=colours)
    ax.set_yticks(y, list(top["parameter"]), parse_math=False)
    if noise is not None:
        ax.axvline(
            noise,
            color=NOISE_COLOUR,
            linestyle="--",
            linewidth=1.4,
            label=f"noise level {format_amount(noise, unit, data.currency)}",
        )
    ax.axvline(
        evpi,
        color="#555555",
        linestyle=":",
        linewidth=1.4,
        label=f"EVPI {format_amount(evpi, unit, data.currency)}",
    )
    legend = ax.legend(loc="lower right", fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"EVPPI in {_axis_label(kpi, unit, data.currency, diff=True)}", parse_math=False)
    ax.grid(True, axis="x", color="#DDDDDD", linewidth=0.6)
    _count_axis(ax, "x", unit, diff=True)
    caption = (
        f"EVPPI: how much the expected {kpi} of the choice would gain if this one value were "
        "known exactly before choosing (regression on the draws, Strong, Oakley & Brennan "
        "2014; evppi.csv). Dashed line: the noise level, the largest EVPPI that made-up values "
        "deciding nothing get from these draws; blue bars stand above it and are worth "
        "measuring, grey bars are not distinguishable from none; values of EVPPI 0 are left "
        "out. Dotted line: EVPI, the worth of knowing every uncertain value, which no single "
        "value's EVPPI exceeds."
    )
    return Chart("evppi", title, caption, _png(fig))


DECISION_FIGURES: tuple[Callable[[DecisionData], Chart], ...] = (
    difference_to_leader,
    evppi_tornado,
)


def draw_decision_figures(data: DecisionData) -> list[Chart]:
    """The figures of a run of parameter draws, in report order."""
    return [draw(data) for draw in DECISION_FIGURES]
