"""``loyaltysim fit``: an engagement event log in, the behaviour it shows out; or campaign
reports in (``--reports``), the posterior of the scenario's uncertain values out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sim.api import fit as run_fit
from sim.api import fit_files, fit_reports
from sim.cli.common import dask_option, export_options, fail
from sim.errors import SimInputError
from sim.fitting.reports import GENERATIONS, MEMBERS, PARTICLES
from sim.fitting.responses import START_SCALES
from sim.fitting.summaries import BLOCK_DAYS
from sim.fitting.writer import report, reports_summary
from sim.io.eventlog import EventLogOptions
from sim.io.tables import TableOptions


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("events", nargs=-1, type=click.Path())
@click.option(
    "--reports",
    type=click.Path(dir_okay=False),
    help="Fit to this campaign report (docs/reports.md) instead of an event log: the "
    "scenario's uncertain values, by simulation-based inference.",
)
@click.option(
    "--tests",
    type=click.Path(dir_okay=False),
    help="--reports: a holdout test's result over the report's period (cell treated/holdout, "
    "members, revenue_per_member).",
)
@click.option(
    "--program",
    type=click.Path(dir_okay=False),
    help="--reports: monthly program figures (month, members, active_members, points_issued, "
    "points_redeemed).",
)
@click.option(
    "--scenario",
    required=True,
    type=click.Path(dir_okay=False),
    help="The scenario whose behaviour is fitted: its values start the fit, its priors "
    "(or the shipped ones) measure what the log taught, its lift settings scale the lift. "
    "With --reports: its history plan is simulated and its uncertain block is fitted.",
)
@click.option(
    "--out",
    type=click.Path(),
    help="Event log: YAML include of the fitted values (default fitted.yaml; "
    "OUT.estimates.csv and OUT.posterior.csv go beside it). --reports: the folder to write.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="TABLE.THEIRS=OURS",
    help="A column of the export under another name, e.g. sends.sent_at=time (repeatable); "
    "for the campaign report of --reports, reports.THEIRS=OURS, e.g. reports.Kampanje=campaign.",
)
@export_options(
    "error",
    "Rows equal in every column (purchases: always kept, as two purchases of one amount): "
    "refuse the file, drop the copies, or keep them.",
)
@click.option("--draws", default=1000, show_default=True, help="Posterior draws to write.")
@click.option(
    "--seed", default=0, show_default=True, help="Seed of the draws, bootstrap and --subset."
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option(
    "--starts",
    type=click.IntRange(min=1, max=len(START_SCALES) + 1),
    default=1,
    show_default=True,
    help="Starts of the response fit: 1 starts from the scenario's values; more also start "
    "from its half-life and tolerance median halved, doubled, quartered, quadrupled, keeping "
    "the highest maximum (each start costs about one fit).",
)
@click.option(
    "--subset",
    type=int,
    help="EVENTS: fit the response model on a random N of the members with a delivered "
    "message, for a log too large to fit whole; intervals are those N members give "
    "[default: every member].",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="--reports: the calendar date of the scenario's day 0, a Monday [default: the Monday "
    "on or before the report's first date].",
)
@click.option(
    "--members",
    type=click.IntRange(min=100),
    help=f"--reports: members simulated per particle [default: {MEMBERS:,}].",
)
@click.option(
    "--particles",
    type=click.IntRange(min=20),
    help=f"--reports: particles per generation [{PARTICLES}].",
)
@click.option(
    "--generations", type=click.IntRange(min=1), help=f"--reports: generations [{GENERATIONS}]."
)
@click.option(
    "--block-days",
    type=click.IntRange(min=1),
    help=f"--reports: days per block of the rates compared over time [{BLOCK_DAYS}].",
)
@click.option("--jobs", type=int, help="--reports: local processes [default: all cores].")
@dask_option("--reports' simulations")
def fit(
    events: tuple[str, ...],
    reports: str | None,
    tests: str | None,
    program: str | None,
    scenario: str,
    out: str | None,
    columns: tuple[str, ...],
    table: TableOptions,
    draws: int,
    seed: int,
    overwrite: bool,
    starts: int,
    subset: int | None,
    start: datetime | None,
    members: int | None,
    particles: int | None,
    generations: int | None,
    block_days: int | None,
    jobs: int | None,
    dask_address: str | None,
) -> None:
    """Fit the message-response model (opens, clicks, exits and complaints under contact
    pressure) and the purchase lift to EVENTS: a folder with members, sends and purchases
    (CSV or Parquet; docs/eventlog.md), or the tables' files.

    With --reports R.csv instead of EVENTS: fit the scenario's uncertain values to a campaign
    report by simulating its history plan (ABC-SMC; docs/reports.md), writing OUT/posterior.csv
    for ``uncertain: {from: ...}``."""
    if (tests is not None or program is not None) and reports is None:
        fail("--tests and --program go with --reports")
    if starts != 1 and reports is not None:
        fail("--starts is for fits from an event log, not --reports")
    if subset is not None and reports is not None:
        fail("--subset is for fits from an event log, not --reports")
    if reports is not None:
        if events:
            fail("give EVENTS or --reports, not both")
        if out is None:
            fail("--reports needs --out DIR, the folder to write")
        _fit_reports(
            reports,
            scenario,
            out,
            columns,
            tests=tests,
            program=program,
            start=start.date() if start is not None else None,
            options=table,
            members=members,
            particles=particles,
            generations=generations,
            block_days=block_days,
            seed=seed,
            jobs=jobs,
            dask=dask_address,
            overwrite=overwrite,
        )
        return
    if not events:
        fail("give EVENTS (an event log) or --reports (a campaign report)")
    out = out or "fitted.yaml"
    try:
        options = EventLogOptions(table=table, columns=_mapping(columns))
        source = events[0] if len(events) == 1 else list(events)
        result = run_fit(
            source,
            scenario,
            out,
            options=options,
            draws=draws,
            seed=seed,
            overwrite=overwrite,
            starts=starts,
            progress=lambda line: click.echo(line, err=True),
            subset=subset,
        )
    except SimInputError as exc:
        fail(str(exc))
    click.echo(report(result))
    files = fit_files(Path(out))
    click.echo(f"\nwrote {', '.join(str(p) for p in files.values())}")


def _mapping(columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``--column sends.sent_at=time`` as {"sends": {"sent_at": "time"}}."""
    mapping: dict[str, dict[str, str]] = {}
    for given in columns:
        where, _, ours = given.partition("=")
        table, _, theirs = where.partition(".")
        if not (table and theirs and ours):
            raise SimInputError(f"--column {given}: expected TABLE.THEIRS=OURS")
        mapping.setdefault(table, {})[theirs] = ours
    return mapping


def _fit_reports(
    reports: str, scenario: str, out: str, columns: tuple[str, ...], **settings: Any
) -> None:
    """``fit --reports``: one line of progress per round of simulations on stderr."""
    rename = {}
    for given in columns:
        theirs, _, ours = given.partition("=")
        if not (theirs and ours):
            fail(f"--column {given}: expected THEIRS=OURS")
        rename[theirs.removeprefix("reports.")] = ours
    try:
        result = fit_reports(
            reports,
            scenario,
            out,
            rename=rename,
            progress=lambda line: click.echo(line, err=True),
            **settings,
        )
    except SimInputError as exc:
        fail(str(exc))
    click.echo(reports_summary(result))
    click.echo(f"\nwrote {out}/ (posterior.csv for uncertain: {{from: {out}/posterior.csv}})")
