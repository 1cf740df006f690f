"""``loyaltysim calibrate``: a transaction export (CSV or Parquet) in, a calibrated population
block out."""

from __future__ import annotations

from pathlib import Path

import click

from sim.calibration import calibrate as run_calibration
from sim.cli.common import export_options, fail
from sim.errors import SimInputError
from sim.io.atomic import write_files
from sim.io.tables import TableOptions


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
@export_options(
    "keep",
    "Rows equal in every column: refuse the file, drop the copies, or keep them as purchases "
    "(noted in the report).",
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
    table: TableOptions,
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
        result = run_calibration(
            transactions,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            segment_col=segment_col,
            calibration_end=calibration_end,
            options=table,
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
