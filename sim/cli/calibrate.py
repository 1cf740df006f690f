"""``loyaltysim calibrate``: a transaction export (CSV or Parquet) in, a calibrated population
block out."""

from __future__ import annotations

from pathlib import Path

import click

from sim.calibration import calibrate as run_calibration
from sim.cli.common import fail
from sim.errors import SimInputError
from sim.io.atomic import write_files
from sim.io.tables import Duplicates, TableOptions


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("transactions", type=click.Path(dir_okay=False))
@click.option("--customer-col", default="customer", show_default=True, help="Customer id column.")
@click.option("--date-col", default="date", show_default=True, help="Purchase date column.")
@click.option("--amount-col", default="amount", show_default=True, help="Amount column.")
@click.option(
    "--calibration-end",
    metavar="DATE",
    help="Last day (YYYY-MM-DD) of the calibration period; later purchases are the holdout.",
)
@click.option("--segment-col", help="Fit one segment per value of this column.")
@click.option("--sep", help="CSV field separator (one character, or 'tab'); default: sniffed.")
@click.option(
    "--decimal-comma/--decimal-point",
    default=None,
    help="Amounts use a decimal comma (12,50) or point; default: a comma in a ';'-separated file.",
)
@click.option("--encoding", help="Text encoding of a CSV without byte-order mark [utf-8].")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Zone of times without an offset; a purchase counts on its calendar day in this zone.",
)
@click.option("--date-format", help="strftime format of the dates, e.g. %d.%m.%Y; default ISO.")
@click.option(
    "--duplicates",
    type=click.Choice(["error", "drop", "keep"]),
    default="keep",
    show_default=True,
    help="Rows equal in every column: refuse the file, drop the copies, or keep them as "
    "purchases (noted in the report).",
)
@click.option(
    "--out",
    default="population.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Population YAML to write; the PNG goes next to it with the suffix .png.",
)
def calibrate(
    transactions: str,
    customer_col: str,
    date_col: str,
    amount_col: str,
    calibration_end: str | None,
    segment_col: str | None,
    sep: str | None,
    decimal_comma: bool | None,
    encoding: str | None,
    timezone: str,
    date_format: str | None,
    duplicates: Duplicates,
    out: str,
) -> None:
    """Fit BG/NBD and Gamma-Gamma to TRANSACTIONS (.csv, or .parquet; one row per purchase)
    and write the population block that a scenario includes, with a plot of actual against
    model."""
    yaml_path = Path(out)
    png_path = yaml_path.with_suffix(".png")
    if png_path == yaml_path:
        fail(f"--out {out}: give the YAML file a name not ending in .png (the plot goes there)")
    try:
        options = TableOptions(
            sep=sep,
            decimal_comma=decimal_comma,
            encoding=encoding,
            timezone=timezone,
            date_format=date_format,
            duplicates=duplicates,
        )
        result = run_calibration(
            transactions,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            segment_col=segment_col,
            calibration_end=calibration_end,
            options=options,
        )
        text, png = result.population_yaml(), result.figure_png()
    except SimInputError as exc:
        fail(str(exc))
    try:
        yaml_path.parent.mkdir(parents=True, exist_ok=True)
        # Both files are written in full before either is put in place.
        write_files({yaml_path: text.encode("utf-8"), png_path: png})
    except OSError as exc:
        fail(f"cannot write {exc.filename or out}: {exc.strerror}")
    click.echo(result.report())
    click.echo(f"\nwrote {yaml_path} and {png_path}")
