"""report.html: one self-contained page (figures embedded as data URIs, no external files,
scripts or fonts) that opens offline, with a short text summary above the figures. A run of
parameter draws gets a decision section instead: the decision table, the difference to the
leader over the draws and the EVPPI of the uncertain values."""

from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path

import pandas as pd

from sim.analysis.summary import (
    BEHIND,
    MIN_REPLICATIONS,
    SILENT,
    TIED,
    UNKNOWN,
    format_estimate,
    format_number,
    rank,
    ranked_label,
    unit_of,
    versus_best,
)
from sim.io.atomic import write_files
from sim.report.data import (
    CHANNELS,
    DecisionData,
    ReportData,
    is_draws_folder,
    load_decision_data,
    load_report_data,
)
from sim.report.figures import Chart, draw_decision_figures, draw_figures, format_amount
from sim.spec.kpis import KPIS

REPORT = "report.html"
# The summary of a run of draws names at most this many values worth measuring first.
MEASURE_FIRST = 5

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
table.decision { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 1rem 0; }
table.decision th, table.decision td { padding: 0.3rem 0.9rem; text-align: right;
                                       border-bottom: 1px solid #e4e4e4; }
table.decision th:first-child, table.decision td:first-child { text-align: left; }
table.decision tr.leader td { font-weight: 600; }
table.plans td { text-align: left; vertical-align: top; }
dl.glossary dt { font-weight: 600; margin-top: 0.5rem; }
dl.glossary dd { margin-left: 1.2rem; color: #333; }
"""
_WEEKDAYS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat"}
_WEEKDAYS |= {"sun": "Sun"}
# The KPIs of the money table and the glossary, in the order shown.
_MONEY_KPIS = ("message_cost", "incremental_revenue", "margin", "reachable_email")
_GLOSSARY_KPIS = (
    "clv_with_terminal",
    "clv_per_member",
    "margin",
    "message_cost",
    "incremental_revenue",
    "attributed_revenue",
    "retention_rate",
    "reachable_email",
    "satisfaction_index",
    "pressure_mean",
)


def _value(data: ReportData, strategy: str, kpi: str, column: str = "mean") -> float:
    return float(data.strategies.set_index("strategy").at[strategy, f"{kpi}_{column}"])


def _versus_silent(data: ReportData, strategy: str, kpi: str) -> str:
    """'+1.23 NOK [+0.50, +1.96]': the paired difference to silent with its interval."""
    columns = ("diff_silent", "diff_ci_low", "diff_ci_high")
    values = [_value(data, strategy, kpi, c) for c in columns]
    return format_estimate(*values, unit_of(kpi), data.currency, True)


def _money(value: float, currency: str) -> str:
    return f"{format_number(value, 'currency')} {currency}".strip()


def _how_sure(data: ReportData, ranked: pd.DataFrame) -> str:
    """Each strategy's paired difference to the best and whether it is tied with it."""
    kpi = data.objective
    standing = versus_best(data.summary, ranked, kpi)
    leader = str(standing["strategy"].iloc[0])
    parts = []
    for r in standing[standing["standing"].isin([TIED, BEHIND, UNKNOWN])].to_dict("records"):
        bounds = (r[f"{kpi}_diff_best{c}"] for c in ("", "_low", "_high"))
        estimate = format_estimate(*bounds, unit_of(kpi), data.currency, True)
        parts.append(f"{r['strategy']} {estimate} ({r['standing']})")
    if not parts:
        return f"{leader} is the only strategy ranked."
    reps = int(data.strategies["replications"].max())
    warning = (
        f" With {reps} replication{'s' if reps != 1 else ''}, below {MIN_REPLICATIONS}, "
        "these intervals are too rough to act on."
        if reps < MIN_REPLICATIONS
        else ""
    )
    return (
        f"How sure: each strategy against {leader}, paired by replication (tied where the 95% "
        "interval covers 0): " + "; ".join(parts) + "." + warning
    )


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

    lines.append(_how_sure(data, ranked))

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
    lines.append(
        "These intervals are Monte Carlo noise only, with every parameter at its value in the "
        "scenario; `loyaltysim run SCENARIO --draws K` gives the decision under parameter "
        "uncertainty (docs/uncertainty.md)."
    )
    return lines


def _page(data: ReportData | DecisionData, facts: list[str], body: list[str]) -> str:
    """The page around ``body``: title, description and ``facts`` from the manifest; every
    string from the results folder is escaped."""
    m = data.manifest
    scenario = m.get("scenario") if isinstance(m.get("scenario"), dict) else {}
    name = str(m.get("name") or data.folder.name)
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
    parts += body
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _provenance(m: dict) -> list[str]:
    """The facts that identify a run: seed, horizon, scenario, version, commit, time."""
    scenario = m.get("scenario") if isinstance(m.get("scenario"), dict) else {}
    return [
        f"seed {m.get('seed', '?')}",
        f"horizon {scenario.get('horizon_days', '?')} days",
        f"scenario hash {str(m.get('scenario_hash', '?'))[:12]}",
        f"loyaltysim {(m.get('versions') or {}).get('loyaltysim', '?')}",
        f"commit {str(m.get('git_commit') or 'unknown')[:12]}",
        f"created {m.get('created', '?')}",
    ]


def _summary(lines: list[str]) -> list[str]:
    return [
        '<section class="summary"><h2>Summary</h2><ul>',
        *(f"<li>{escape(line)}</li>" for line in lines),
        "</ul></section>",
    ]


def _figures(charts: list[Chart]) -> list[str]:
    parts = []
    for chart in charts:
        uri = "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
        parts += [
            f'<figure id="{chart.name}"><h2>{escape(chart.title)}</h2>',
            f'<img src="{uri}" alt="{escape(chart.title)}">',
            f"<figcaption>{escape(chart.caption)}</figcaption></figure>",
        ]
    return parts


def _cadence(campaign: dict) -> str:
    """'every 14 days at 16:00', 'Mon, Thu at 09:00', 'day 1, last of each month at 09:00' or
    'first thu of each month at 09:00', from a campaign's resolved fields."""
    hour = float(campaign.get("hour") or 0.0)
    at = f"{int(hour):02d}:{round(60 * (hour % 1)):02d}"
    if campaign.get("weekdays"):
        days = ", ".join(_WEEKDAYS.get(str(d), str(d)) for d in campaign["weekdays"])
        return f"{days} at {at}"
    if campaign.get("month_days"):
        days = ", ".join("last" if d == -1 else f"{d}" for d in campaign["month_days"])
        return f"day {days} of each month at {at}"
    if campaign.get("month_weekdays"):
        return f"{', '.join(campaign['month_weekdays'])} of each month at {at}"
    every = float(campaign.get("every_days") or 0.0)
    return f"every {every:g} days at {at}"


def _rules(strategy: dict) -> list[str]:
    """A strategy's contact rules in words: caps, cooldowns, quiet hours, sunset, policy."""
    rules = [
        f"at most {cap['max']} {channel} per "
        + (f"{cap['days']:g} days" if cap.get("days") is not None else str(cap.get("per")))
        for channel, cap in (strategy.get("caps") or {}).items()
        if isinstance(cap, dict) and "max" in cap
    ]
    rules += [f"{k} cooldown {v:g} h" for k, v in (strategy.get("cooldown_hours") or {}).items()]
    for key, words in (("quiet_hours", "quiet hours"), ("sunset", "sunset"), ("policy", "policy")):
        if strategy.get(key):
            rules.append(words)
    return rules


def plans_table(data: ReportData) -> list[str]:
    """What each strategy is: its campaigns (channel, cadence, relevance), journeys and rules."""
    strategies = ((data.manifest.get("scenario") or {}).get("strategies")) or {}
    rows = []
    for name in data.names:
        spec = strategies.get(name) or {}
        campaigns = [
            f"{escape(str(c))}: {escape(str(v.get('channel')))}, {escape(_cadence(v))}, "
            f"relevance {float(v.get('relevance', 0.5)):g}"
            + (" (with an offer)" if v.get("offer") else "")
            for c, v in (spec.get("campaigns") or {}).items()
        ]
        journeys = [escape(str(j)) for j in (spec.get("journeys") or {})]
        rules = [escape(r) for r in _rules(spec)]
        what = "no messages (the counterfactual)" if name == SILENT else ""
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{escape(str(spec.get('description') or what))}</td>"
            f"<td>{'<br>'.join(campaigns) or '-'}</td><td>{', '.join(journeys) or '-'}</td>"
            f"<td>{', '.join(rules) or '-'}</td></tr>"
        )
    return [
        '<section id="strategies"><h2>What each strategy is</h2>',
        '<table class="decision plans"><tr><th>strategy</th><th>description</th>'
        "<th>campaigns</th><th>journeys</th><th>rules</th></tr>",
        *rows,
        "</table></section>",
    ]


def money_table(data: ReportData) -> list[str]:
    """The bottom line per strategy, best first: sends, message cost, incremental revenue and
    margin against silent, return on marketing spend, reach kept and satisfaction."""
    ranked = rank(data.strategies, data.objective, data.sense)
    table = data.strategies.set_index("strategy")
    cur = data.currency
    header = (
        "<tr><th>strategy</th><th>messages sent</th><th>message cost</th>"
        "<th>incremental revenue</th><th>incremental margin</th>"
        "<th>return on marketing spend</th><th>reachable by email vs silent</th>"
        "<th>satisfaction index</th></tr>"
    )
    rows = []
    for name in ranked["strategy"]:
        row = table.loc[name]
        sends = sum(float(row[f"sends_{c}_mean"]) for c in CHANNELS)
        cost = float(row["message_cost_mean"])
        margin = float(row["margin_diff_silent"])
        roms = "-" if cost <= 0 else f"{margin / cost:,.1f} x"
        cells = [
            f"{sends:,.0f}",
            _money(cost, cur),
            _money(float(row["incremental_revenue_mean"]), cur),
            _money(margin, cur),
            roms,
            f"{100 * float(row['reachable_email_diff_silent']):+.1f} points",
            f"{float(row['satisfaction_index_mean']):.1f}",
        ]
        rows.append(
            f"<tr><td>{escape(name)}</td>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    note = (
        "Means over replications, over the whole horizon and all members. Incremental revenue "
        "and margin are against silent (margin is net of discounts, message cost and points "
        "issued); return on marketing spend is the incremental margin per unit of message "
        "cost. Reachable by email: the difference in the share of members reachable at the "
        "horizon (percentage points)."
    )
    return [
        '<section id="money"><h2>The bottom line</h2>',
        f'<table class="decision">{header}',
        *rows,
        f'</table><p class="meta">{escape(note)}</p></section>',
    ]


def glossary(data: ReportData) -> list[str]:
    """What the report's KPIs mean, from the KPI registry (the same words as docs/results.md)."""
    names = [data.objective, *(k for k in _GLOSSARY_KPIS if k != data.objective)]
    # The index's registry meaning says what it averages; what it is needs saying too.
    notes = {
        "satisfaction_index": "; an experience score the simulator builds from contact "
        "pressure, relevance, rewards and offers, read on the Customer Barometer's scale, not a "
        "survey measure"
    }
    items = [
        f"<dt>{escape(k)}</dt><dd>{escape(KPIS[k].meaning + notes.get(k, ''))} "
        f"({escape(KPIS[k].unit)})</dd>"
        for k in names
        if k in KPIS
    ]
    head = '<section id="glossary"><h2>Glossary</h2><dl class="glossary">'
    return [head, *items, "</dl></section>"]


def render_html(data: ReportData, charts: list[Chart]) -> str:
    """The page of a run as text; every string from the results folder is escaped."""
    facts = [f"{data.manifest.get('replications', '?')} replications", *_provenance(data.manifest)]
    body = [
        *_summary(summary_lines(data)),
        *plans_table(data),
        *money_table(data),
        *_figures(charts),
        *glossary(data),
    ]
    return _page(data, facts, body)


# --- a run of parameter draws -------------------------------------------------------------------


def _share(p: float) -> str:
    return format_number(p, "fraction")


def decision_cells(data: DecisionData) -> tuple[list[str], list[list[str]]]:
    """The decision table as text cells (header, rows best expected first): the expected
    objective with its 95% range over the draws, P(best), P(beats silent), P(beats the
    current plan) where there is one, and the expected loss."""
    kpi, unit, current = data.objective, unit_of(data.objective), data.current
    header = [
        "strategy",
        f"expected {kpi} [95% over draws]",
        "P(best)",
        f"P(beats {SILENT})",
        *([f"P(beats {current}, the current plan)"] if current is not None else []),
        "expected loss",
    ]
    rows = []
    for r in data.decision.to_dict("records"):
        name = str(r["strategy"])
        estimate = (r["expected"], r["low"], r["high"])
        row = [
            name,
            format_estimate(*estimate, unit, data.currency, False),
            _share(r["p_best"]),
            "-" if name == SILENT else _share(r["p_beats_silent"]),
        ]
        if current is not None:
            row.append("-" if name == current else _share(r["p_beats_current"]))
        rows.append([*row, format_amount(r["expected_loss"], unit, data.currency)])
    return header, rows


def _table(data: DecisionData) -> list[str]:
    header, rows = decision_cells(data)
    parts = ['<table class="decision"><thead><tr>']
    parts += [f"<th>{escape(cell)}</th>" for cell in header]
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        parts.append('<tr class="leader">' if i == 0 else "<tr>")
        parts += [f"<td>{escape(cell)}</td>" for cell in row]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return parts


def decision_lines(data: DecisionData) -> list[str]:
    """The decision in a few plain sentences: the leader, its P(best) and expected loss; how
    much of the spread is the parameters and how much Monte Carlo noise; EVPI and the
    uncertain values above the noise level, worth measuring first."""
    kpi, unit, m = data.objective, unit_of(data.objective), data.manifest
    leader = data.decision.iloc[0]
    name = data.leader
    estimate = (leader["expected"], leader["low"], leader["high"])
    loss = format_amount(leader["expected_loss"], unit, data.currency)
    line = (
        f"{name} leads with expected {kpi} "
        f"{format_estimate(*estimate, unit, data.currency, False)} (95% over the draws): it is "
        f"best in {_share(leader['p_best'])} of the {m['draws']} draws, and its expected loss, "
        f"what choosing it forgoes against the best choice in each draw, is {loss}."
    )
    if data.current is not None and data.current != name:
        line += (
            f" It beats the current plan, {data.current}, in "
            f"{_share(leader['p_beats_current'])} of the draws."
        )
    lines = [line]

    others = data.decision.iloc[1:]
    reps = int(m.get("replications") or 1)
    parameters, noise = others["sd_parameters"], others["sd_noise"]
    if len(others) and parameters.notna().all() and noise.notna().all():
        # Shares of the variance; a difference with no spread at all counts as parameters'.
        part = (parameters**2 / (parameters**2 + noise**2)).fillna(1.0)
        low, high = _share(part.min()), _share(part.max())
        lines.append(
            f"Of the spread over the draws of each strategy's difference to {name}, "
            f"{low if low == high else f'{low} to {high}'} is parameter uncertainty and the rest "
            f"Monte Carlo noise of {reps} replications per draw (decision.csv sd_parameters, "
            "sd_noise)."
        )
    elif len(others):
        lines.append(
            "The spread over the draws cannot be split into parameter uncertainty and Monte "
            "Carlo noise: that needs 2 or more replications per draw (--replications)."
        )

    evpi = format_amount(float(m["evpi"]), unit, data.currency)
    line = f"EVPI is {evpi}: the most that knowing every uncertain value exactly could gain."
    floor = 0.0 if data.noise is None else data.noise
    above = data.evppi[data.evppi["evppi"] > floor]
    shown = above.head(MEASURE_FIRST)
    level = "" if data.noise is None else f" {format_amount(floor, unit, data.currency)}"
    if len(above):
        named = "; ".join(
            f"{p} ({format_amount(v, unit, data.currency)})"
            for p, v in zip(shown["parameter"], shown["evppi"], strict=True)
        )
        if len(above) > MEASURE_FIRST:
            named += f"; and {len(above) - MEASURE_FIRST} more (evppi.csv)"
        line += f" Worth measuring first, EVPPI above the noise level{level}: {named}."
    elif len(data.evppi):
        line += (
            f" No uncertain value's EVPPI stands above the noise level{level} of these draws: "
            "more draws are needed to tell which to measure first."
        )
    lines.append(line)
    return lines


def render_decision_html(data: DecisionData, charts: list[Chart]) -> str:
    """The page of a run of parameter draws as text; every string from the folder is
    escaped."""
    m = data.manifest
    uncertain = len(m.get("uncertain") or data.evppi)
    priors = "the scenario's priors" if m.get("priors") == "scenario" else "the shipped priors"
    reps = m.get("replications", "?")
    facts = [
        f"{m['draws']} draws of {uncertain} uncertain values ({priors})",
        f"{reps} replication{'s' if reps != 1 else ''} per draw",
        *_provenance(m),
    ]
    sense = "higher" if data.sense == "max" else "lower"
    note = (
        f"Strategies by expected {data.objective} ({sense} is better), the leader first. The "
        "ranges and probabilities are over the draws of the uncertain values, each the mean of "
        "its replications: parameter uncertainty and Monte Carlo noise together. Expected loss: "
        "what choosing the strategy forgoes against the best choice in each draw."
    )
    body = [
        *_summary(decision_lines(data)),
        '<section id="decision"><h2>Decision under parameter uncertainty</h2>',
        *_table(data),
        f'<p class="meta">{escape(note)}</p>',
        *_figures(charts),
        "</section>",
    ]
    return _page(data, facts, body)


def build_report(results_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write report.html and one PNG per figure into ``out_dir`` (default: the results folder)
    and return the path of report.html. A run of parameter draws (``loyaltysim run --draws``)
    gets the decision section and its two figures.

    Every file is written in full first, then each is renamed into place, report.html last
    (sim.io.atomic), so no file is ever half-written and the page never points at a missing
    figure."""
    if is_draws_folder(results_dir):
        draws = load_decision_data(results_dir)
        charts = draw_decision_figures(draws)
        page = render_decision_html(draws, charts)
    else:
        data = load_report_data(results_dir)
        charts = draw_figures(data)
        page = render_html(data, charts)
    target = Path(out_dir) if out_dir is not None else Path(results_dir)
    target.mkdir(parents=True, exist_ok=True)
    files: dict[Path, str | bytes] = {target / f"{c.name}.png": c.png for c in charts}
    files[target / REPORT] = page
    write_files(files)
    return target / REPORT
