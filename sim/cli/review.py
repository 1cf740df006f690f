"""``loyaltysim compare`` and ``loyaltysim report``: reviewing results.

Exit codes as for every command: 0 success, 1 a comparison gate tripped, 2 bad input.
"""

from __future__ import annotations

import sys

import click

from sim.analysis import compare as comparing
from sim.cli.common import echo_json, fail, json_option
from sim.errors import SimInputError

GATE_TRIPPED = 1


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option(
    "--csv", "csv_file", type=click.Path(dir_okay=False), help="Also write the tidy table here."
)
@click.option("--markdown", is_flag=True, help="Print Markdown for a pull-request comment.")
@click.option(
    "--fail-if",
    "gates",
    multiple=True,
    metavar='"KPI OP THRESHOLD"',
    help="Exit 1 if B - A crosses this for some strategy; OP is <, <=, > or >=, and a "
    'threshold ending in % is relative to A, e.g. "retention_rate < -1%". Repeatable.',
)
@click.option(
    "--gate-on",
    type=click.Choice(sorted(comparing.GATE_MODES)),
    default="point",
    show_default=True,
    help="point: a gate trips when B - A crosses its limit; ci: only when the whole 95% "
    "interval of B - A lies beyond it.",
)
@click.option(
    "--min-effect",
    "min_effects",
    multiple=True,
    metavar="KPI=VALUE|P%",
    help="Hide differences too small to matter: KPI=VALUE in the KPI's unit, or P% of A for "
    "every KPI. Repeatable.",
)
@click.option("--kpi", "kpis", multiple=True, help="Compare only this KPI. Repeatable.")
@json_option
def compare(
    a: str,
    b: str,
    csv_file: str | None,
    markdown: bool,
    gates: tuple[str, ...],
    gate_on: str,
    min_effects: tuple[str, ...],
    kpis: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare results B against A (results folders, or summary.csv / strategies.csv files):
    per strategy and KPI, B - A with its 95% CI, the objective and gated KPIs first, and the
    scenario parameters that differ. Significance is controlled over all rows
    (Benjamini-Hochberg)."""
    try:
        parsed = [comparing.parse_gate(g) for g in gates]
        min_effect = comparing.parse_min_effect(min_effects)
        # Gated KPIs are compared even when --kpi leaves them out.
        selected = [*kpis, *(g.kpi for g in parsed if g.kpi not in kpis)] if kpis else None
        comparison = comparing.compare(
            a, b, kpis=selected, lead=[g.kpi for g in parsed], min_effect=min_effect
        )
        trips = comparing.check_gates(comparison, parsed, on=gate_on)
        if csv_file:
            comparing.write_csv(comparison, csv_file)
    except SimInputError as exc:
        fail(str(exc))
    if as_json:
        parameters = comparison.parameters or []
        echo_json(
            {
                "a": comparison.a,
                "b": comparison.b,
                "confidence": comparison.confidence,
                "warnings": comparison.warnings,
                "parameters": [{"parameter": name, "a": x, "b": y} for name, x, y in parameters],
                "rows": comparison.table,
                "gates_tripped": [
                    {
                        "kpi": trip.gate.kpi,
                        "strategy": trip.strategy,
                        "diff": trip.diff,
                        "limit": trip.limit,
                        "message": comparing.describe_trip(trip, comparison.currency),
                    }
                    for trip in trips
                ],
            }
        )
        sys.exit(GATE_TRIPPED if trips else 0)
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
    if markdown:
        click.echo(comparing.format_markdown(comparison, trips, gates=len(parsed)), nl=False)
    else:
        click.echo(comparing.format_table(comparison), nl=False)
    for trip in trips:
        click.echo(comparing.describe_trip(trip, comparison.currency), err=True)
    if trips:
        sys.exit(GATE_TRIPPED)


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Write report.html and the figures here [default: RESULTS_DIR].",
)
def report(results_dir: str, out: str | None) -> None:
    """Write report.html (self-contained, opens offline) and the figures as PNG files."""
    # matplotlib loads only for this command, not for every loyaltysim call.
    from sim.report.html import build_report

    try:
        written = build_report(results_dir, out)
    except SimInputError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or out or results_dir}: cannot write the report ({exc.strerror})")
    click.echo(f"Report written to {written}")
