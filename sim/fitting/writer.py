"""What ``loyaltysim fit`` writes. From an event log: the fitted values as a YAML include, the
estimates table, the posterior draws, the diagnostics (a table and a PNG), and a plain-text
report. From campaign reports: a folder of the posterior draws, prior against posterior, the
observed statistics against the posterior predictive (a table and a PNG) and the generations."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import yaml

from sim.fitting.engagement import EngagementFit
from sim.fitting.reports import ReportsFit
from sim.spec.fields import CHANNELS


def fitted_yaml(fit: EngagementFit, source: str, posterior_name: str) -> str:
    """The values the log informs, nested by their dotted paths: a scenario says
    ``include: <this file>`` at its top and leaves these keys out of its own text (keys
    beside an include override it)."""
    tree: dict[str, Any] = {}
    for path, value in fit.fitted().items():
        node = tree
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = float(f"{value:.6g}")
    r = fit.responses
    header = [
        f"# Fitted by loyaltysim fit from {source}: {fit.fitted_on()}, {r.messages:,} "
        f"delivered messages, log-likelihood {r.log_likelihood:,.2f}.",
        "# Maximum-likelihood estimates (docs/fit.md); intervals and identification in the "
        "estimates file beside this one.",
        f"# For decisions under what the log left uncertain: uncertain: {{from: {posterior_name}}}",
        "# Values the log does not inform are not here: the scenario keeps its own.",
    ]
    body = yaml.safe_dump(tree, sort_keys=False, default_flow_style=False)
    return "\n".join(header) + "\n" + body


def estimates_csv(fit: EngagementFit) -> str:
    return fit.estimates.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def posterior_csv(fit: EngagementFit) -> str:
    return fit.posterior.to_csv(index=False, float_format="%.8g", lineterminator="\n")


def report(fit: EngagementFit) -> str:
    """The estimates as a table a reader can scan, with the fit's notes."""
    r = fit.responses
    table = fit.estimates.copy()
    table["95% interval"] = [
        "" if pd.isna(lo) else f"[{lo:.4g}, {hi:.4g}]"
        for lo, hi in zip(table["low"], table["high"], strict=True)
    ]
    table["estimate"] = [f"{v:.4g}" for v in table["estimate"]]
    lines = [
        f"{fit.fitted_on()}, {r.messages:,} delivered messages; {r.iterations} iterations, "
        f"{'converged' if r.converged else 'NOT converged'}; log-likelihood "
        f"{r.log_likelihood:,.2f}; quadrature nodes {' x '.join(map(str, r.nodes))} "
        "(tolerance x engagement x sensitivity)",
    ]
    if fit.lift is not None:
        lo, hi = fit.lift.interval()
        lines.append(
            f"lift from the holdout: {fit.lift.treated:,} messaged against {fit.lift.holdout:,} "
            f"held out, {fit.lift.difference:+.5f} purchases per member-day; lift scale "
            f"{fit.lift.scale:.3g} [{lo:.3g}, {hi:.3g}] times the scenario's"
        )
    lines.append("")
    lines.append(
        table[["parameter", "estimate", "95% interval", "strength"]].to_string(index=False)
    )
    lines += [f"note: {n}" for n in fit.notes]
    return "\n".join(lines)


def diagnostics_csv(fit: EngagementFit) -> str:
    return fit.diagnostics.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def diagnostics_png(fit: EngagementFit, source: str) -> bytes:
    """Observed (points, area by messages) against fitted (lines) open, click and exit rates
    by channel: by contact frequency (top row) and by felt pressure (bottom row)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes_titles = {
        "per_week": "messages to the member in the week up to the message",
        "pressure": "pressure felt on the channel (email-equivalents)",
    }
    responses = (("open", "opens"), ("click", "clicks"), ("exit", "exits and complaints"))
    for row, (by, xlabel) in enumerate(axes_titles.items()):
        table = fit.diagnostics[fit.diagnostics["by"] == by]
        bands = list(dict.fromkeys(table["band"]))
        for col, (rate, title) in enumerate(responses):
            ax = figure.add_subplot(2, 3, 3 * row + col + 1)
            for j, (channel, rows) in enumerate(table.groupby("channel", sort=False)):
                x = [bands.index(b) for b in rows["band"]]
                size = 12 + 60 * rows["messages"] / table["messages"].max()
                ax.plot(x, rows[f"fitted_{rate}"], color=f"C{j}", label=f"{channel} fitted")
                ax.scatter(x, rows[rate], color=f"C{j}", s=size, label=f"{channel} observed")
            ax.set_xticks(range(len(bands)), bands)
            ax.set_ylim(bottom=0)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{rate} rate per delivered message")
            ax.set_title(title)
            if row == 0 and col == 0:
                ax.legend(fontsize="small")
    figure.suptitle(f"{source}: observed (points) and fitted (lines)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# The files of a fit from campaign reports (``loyaltysim fit --reports ... --out DIR``).
POSTERIOR_CSV = "posterior.csv"
REPORTS_FILES = (
    POSTERIOR_CSV,
    "parameters.csv",
    "statistics.csv",
    "generations.csv",
    "predictive.png",
)


def reports_files(fit: ReportsFit) -> dict[str, str | bytes]:
    """The content of each file of a fit from campaign reports (manifest.json aside)."""

    def csv(frame: pd.DataFrame) -> str:
        return frame.to_csv(index=False, float_format="%.8g", lineterminator="\n")

    return dict(
        zip(
            REPORTS_FILES,
            (
                csv(fit.posterior),
                csv(fit.parameters),
                csv(fit.statistics),
                csv(fit.generations),
                predictive_png(fit),
            ),
            strict=True,
        )
    )


def reports_summary(fit: ReportsFit) -> str:
    """Prior against posterior per value, and the fit's record, as text to read."""
    p = fit.parameters
    table = pd.DataFrame(
        {
            "parameter": p["parameter"],
            "prior": [
                f"{m:.4g} +- {s:.2g}" for m, s in zip(p["prior_mean"], p["prior_sd"], strict=True)
            ],
            "posterior median": [f"{v:.4g}" for v in p["q50"]],
            "90% interval": [
                f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(p["q05"], p["q95"], strict=True)
            ],
            "spread vs prior": [f"{1 - s:.0%}" for s in p["shrinkage"]],
            "pinned down": p["identified"],
        }
    )
    g = fit.generations
    inside = fit.statistics["inside"]
    lines = [
        f"{len(g)} generations, {int(g['simulated'].sum()):,} simulated reports; the last "
        f"accepted {g['acceptance_rate'].iloc[-1]:.0%} of its candidates (effective sample "
        f"size {g['effective_sample_size'].iloc[-1]:.0f})",
        f"observed statistics inside the posterior predictive's 90% band: {int(inside.sum())} "
        f"of {len(inside)}",
        "",
        table.to_string(index=False),
    ]
    return "\n".join(lines + [f"note: {n}" for n in fit.notes])


def predictive_png(fit: ReportsFit) -> bytes:
    """The observed report's rates per block of weeks (points) against the posterior
    predictive (median line, 90% band): one column per channel, one row per rate."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = fit.statistics
    parts = table["statistic"].str.split(".", n=2, expand=True)
    table = table.assign(channel=parts[0], rate=parts[1], block=parts[2])
    table = table[table["channel"].isin(CHANNELS) & table["block"].notna()]
    channels = [c for c in CHANNELS if c in set(table["channel"])]
    rates = ["open", "click", "exit", "reach"]
    figure = Figure(figsize=(4.2 * len(channels) + 1, 10), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    for col, channel in enumerate(channels):
        for row, rate in enumerate(rates):
            ax = figure.add_subplot(len(rates), len(channels), row * len(channels) + col + 1)
            rows = table[(table["channel"] == channel) & (table["rate"] == rate)]
            x = range(len(rows))
            ax.fill_between(
                x,
                rows["predictive_q05"],
                rows["predictive_q95"],
                color="C0",
                alpha=0.25,
                label="posterior predictive, 90%",
            )
            ax.plot(x, rows["predictive_q50"], color="C0", label="posterior predictive, median")
            ax.scatter(x, rows["observed"], color="C3", zorder=3, s=18, label="observed")
            ax.set_xticks(list(x), rows["block"], rotation=45, fontsize="small")
            ax.set_ylim(bottom=0)
            what = "per message sent in the first weeks" if rate == "reach" else "per delivered"
            ax.set_ylabel(f"{channel} {rate} {what}", fontsize="small")
            if row == 0 and col == 0:
                ax.legend(fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
