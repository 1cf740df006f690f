"""``loyaltysim fit``: an engagement event log in, the behaviour it shows out."""

from __future__ import annotations

from pathlib import Path

import click

from sim.api import fit as run_fit
from sim.api import fit_files
from sim.cli.common import export_options, fail
from sim.errors import SimInputError
from sim.fitting.writer import report
from sim.io.eventlog import EventLogOptions
from sim.io.tables import TableOptions


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("events", nargs=-1, required=True, type=click.Path())
@click.option(
    "--scenario",
    required=True,
    type=click.Path(dir_okay=False),
    help="The scenario whose behaviour is fitted: its values start the fit, its priors "
    "(or the shipped ones) measure what the log taught, its lift settings scale the lift.",
)
@click.option(
    "--out",
    default="fitted.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="YAML include of the fitted values; OUT.estimates.csv and OUT.posterior.csv go beside it.",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="TABLE.THEIRS=OURS",
    help="A column of the export under another name, e.g. sends.sent_at=time (repeatable).",
)
@export_options(
    "error",
    "Rows equal in every column (purchases: always kept, as two purchases of one amount): "
    "refuse the file, drop the copies, or keep them.",
)
@click.option("--draws", default=1000, show_default=True, help="Posterior draws to write.")
@click.option("--seed", default=0, show_default=True, help="Seed of the draws and bootstrap.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def fit(
    events: tuple[str, ...],
    scenario: str,
    out: str,
    columns: tuple[str, ...],
    table: TableOptions,
    draws: int,
    seed: int,
    overwrite: bool,
) -> None:
    """Fit the message-response model (opens, clicks, exits and complaints under contact
    pressure) and the purchase lift to EVENTS: a folder with members, sends and purchases
    (CSV or Parquet; docs/eventlog.md), or the tables' files."""
    try:
        options = EventLogOptions(table=table, columns=_mapping(columns))
        source = events[0] if len(events) == 1 else list(events)
        result = run_fit(
            source, scenario, out, options=options, draws=draws, seed=seed, overwrite=overwrite
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
