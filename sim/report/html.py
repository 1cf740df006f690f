"""report.html: one self-contained page (figures embedded as data URIs, no external files,
scripts or fonts) that opens offline, with a short text summary above the figures."""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

from sim.analysis.summary import (
    SILENT,
    format_estimate,
    format_number,
    rank,
    ranked_label,
    unit_of,
)
from sim.io.atomic import write_files
from sim.report.data import CHANNELS, ReportData, load_report_data
from sim.report.figures import Chart, draw_figures

REPORT = "report.html"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fff; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 1.5rem; }
h1 { margin-bottom: 0.2rem; }
.meta { color: #555; font-size: 0.9rem; margin: 0.2rem 0; }
.summary { background: #f6f6f6; border-left: 4px solid #0072B2; padding: 0.6rem 1.2rem; }
figure { margin: 2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #444; font-size: 0.9rem; max-width: 60rem; }
"""


def _value(data: ReportData, strategy: str, kpi: str, column: str = "mean") -> float:
    return float(data.strategies.set_index("strategy").at[strategy, f"{kpi}_{column}"])


def _versus_silent(data: ReportData, strategy: str, kpi: str) -> str:
    """'+1.23 NOK [+0.50, +1.96]': the paired difference to silent with its interval."""
    columns = ("diff_silent", "diff_ci_low", "diff_ci_high")
    values = [_value(data, strategy, kpi, c) for c in columns]
    return format_estimate(*values, unit_of(kpi), data.currency, True)


def _money(value: float, currency: str) -> str:
    return f"{format_number(value, 'currency')} {currency}".strip()


def summary_lines(data: ReportData) -> list[str]:
    """The findings in a few plain sentences: ranking, best against silent, the largest
    audience loss and the gap between attributed and incremental revenue."""
    kpi = data.objective
    ranked = rank(data.strategies, kpi, data.sense)
    order = []
    for _, r in ranked.iterrows():
        bounds = (r[f"{kpi}_{c}"] for c in ("mean", "ci_low", "ci_high"))
        estimate = format_estimate(*bounds, unit_of(kpi), data.currency, False)
        order.append(f"{ranked_label(r)} {estimate}")
    reps = int(data.strategies["replications"].max())
    sense = "higher" if data.sense == "max" else "lower"
    lines = [
        f"Ranking by {kpi} ({sense} is better; mean [95% CI] over {reps} "
        f"replication{'s' if reps != 1 else ''}): " + "; ".join(order) + "."
    ]

    best = str(ranked["strategy"].iloc[0])
    if best == SILENT:
        lines.append(f"silent ranks first: no strategy does better on {kpi} than sending nothing.")
    else:
        low, high = (_value(data, best, kpi, c) for c in ("diff_ci_low", "diff_ci_high"))
        clear = "the interval excludes 0" if low > 0 or high < 0 else "not clearly different"
        lines.append(
            f"Best strategy: {best}, {_versus_silent(data, best, kpi)} against silent on {kpi} "
            f"(95% CI paired by replication; {clear})."
        )

    others = [s for s in data.names if s != SILENT]
    losses = [
        (_value(data, s, f"reachable_{c}", "diff_silent"), s, c) for s in others for c in CHANNELS
    ]
    losses = [x for x in losses if not math.isnan(x[0])]
    loss, strategy, channel = min(losses, default=(0.0, "", ""))
    if loss >= 0:
        lines.append("No strategy leaves fewer members reachable than silent on any channel.")
    else:
        kpi_c = f"reachable_{channel}"
        shares = [format_number(_value(data, s, kpi_c), "fraction") for s in (strategy, SILENT)]
        lines.append(
            f"Largest audience loss: {strategy} leaves {shares[0]} of members reachable by "
            f"{channel} at the horizon against {shares[1]} under silent "
            f"({_versus_silent(data, strategy, kpi_c)})."
        )

    gaps = []
    for s in others:
        attributed = _value(data, s, "attributed_revenue")
        incremental = _value(data, s, "incremental_revenue")
        ratio = f"{attributed / incremental:.1f} times" if incremental > 0 else "no increment"
        money = (_money(v, data.currency) for v in (attributed, incremental))
        gaps.append("{} {} against {} ({})".format(s, *money, ratio))
    if gaps:
        lines.append(
            "Attributed revenue (purchases within the attribution window of an open) against "
            "incremental revenue (the difference to silent): " + "; ".join(gaps) + "."
        )
    return lines


def render_html(data: ReportData, charts: list[Chart]) -> str:
    """The page as text; every string from the results folder is escaped."""
    m = data.manifest
    scenario = m.get("scenario") if isinstance(m.get("scenario"), dict) else {}
    name = str(m.get("name") or data.folder.name)
    facts = [
        f"{m.get('replications', '?')} replications",
        f"seed {m.get('seed', '?')}",
        f"horizon {scenario.get('horizon_days', '?')} days",
        f"scenario hash {str(m.get('scenario_hash', '?'))[:12]}",
        f"loyaltysim {(m.get('versions') or {}).get('loyaltysim', '?')}",
        f"commit {str(m.get('git_commit') or 'unknown')[:12]}",
        f"created {m.get('created', '?')}",
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may load from outside the page: images are data URIs, the style is inline.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(name)}: loyaltysim report</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        f"<h1>{escape(name)}</h1>",
    ]
    if scenario.get("description"):
        parts.append(f'<p class="meta">{escape(str(scenario["description"]).strip())}</p>')
    parts.append(f'<p class="meta">{escape(" · ".join(facts))}</p>')
    parts.append('<section class="summary"><h2>Summary</h2><ul>')
    parts += [f"<li>{escape(line)}</li>" for line in summary_lines(data)]
    parts.append("</ul></section>")
    for chart in charts:
        uri = "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
        parts += [
            f'<figure id="{chart.name}"><h2>{escape(chart.title)}</h2>',
            f'<img src="{uri}" alt="{escape(chart.title)}">',
            f"<figcaption>{escape(chart.caption)}</figcaption></figure>",
        ]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def build_report(results_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write report.html and one PNG per figure into ``out_dir`` (default: the results folder)
    and return the path of report.html.

    Every file is written in full first, then each is renamed into place, report.html last
    (sim.io.atomic), so no file is ever half-written and the page never points at a missing
    figure."""
    data = load_report_data(results_dir)
    target = Path(out_dir) if out_dir is not None else Path(results_dir)
    charts = draw_figures(data)
    page = render_html(data, charts)
    target.mkdir(parents=True, exist_ok=True)
    files: dict[Path, str | bytes] = {target / f"{c.name}.png": c.png for c in charts}
    files[target / REPORT] = page
    write_files(files)
    return target / REPORT
