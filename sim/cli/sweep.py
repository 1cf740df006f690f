"""``loyaltysim sweep``: run a sweep file's points on local processes or a Dask cluster.

Exit codes: 0 done (also when some points failed: they are listed, with a warning, unless
``--strict``), 1 some points failed under ``--strict`` or the executor broke down, 2 bad input,
130 interrupted. Finished points are kept in every case; ``--resume`` runs the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim.cli.common import TaskProgress, dask_option, fail, format_option
from sim.errors import SimInputError
from sim.io.results import RESULT_FORMATS, table_file
from sim.sweeps.api import SweepOutcome, analyze_sobol, run_sweep, sobol_path
from sim.sweeps.execute import SweepAborted
from sim.sweeps.sobol import format_sobol
from sim.sweeps.spec import Sweep, load_sweep
from sim.sweeps.store import POINTS

_SHOWN_FAILURES = 10


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Output folder [default: results/<sweep file stem>].",
)
@click.option("--jobs", type=int, help="Local processes [default: all cores].")
@dask_option("the points")
@click.option("--resume", is_flag=True, help="Run only the points an earlier run did not finish.")
@click.option("--overwrite", is_flag=True, help="Discard the folder's sweep files and start again.")
@click.option(
    "--analyze",
    type=click.Choice(["sobol"]),
    help="Then report Sobol indices (saltelli design) and write sobol.csv.",
)
@click.option("--strict", is_flag=True, help="Exit with code 1 if any point failed.")
@format_option("the sweep's tables", RESULT_FORMATS)
@click.option(
    "--allow-plugins",
    is_flag=True,
    help="Run the plug-in policies the scenarios name (their Python code runs as you).",
)
@click.option("--quiet", is_flag=True, help="Print nothing but warnings and errors.")
def sweep(
    sweep_file: str,
    out: str | None,
    jobs: int | None,
    dask_address: str | None,
    resume: bool,
    overwrite: bool,
    analyze: str | None,
    strict: bool,
    results_format: str,
    allow_plugins: bool,
    quiet: bool,
) -> None:
    """Run every point of SWEEP_FILE (a base scenario, parameters and a design) with
    replications, into sweep.csv, points.csv and manifest.json (or, with --format parquet,
    sweep.parquet and points.parquet)."""
    progress = TaskProgress("points", show=not quiet and sys.stderr.isatty())
    try:
        definition = load_sweep(sweep_file)
        if analyze and definition.spec.design.kind != "saltelli":
            raise SimInputError(
                f"{sweep_file}: design.kind: --analyze sobol needs the saltelli design, "
                f"not {definition.spec.design.kind}"
            )
        try:
            outcome = run_sweep(
                definition,
                jobs=jobs,
                dask=dask_address,
                out=out,
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                allow_plugins=allow_plugins,
                results_format=results_format,
            )
        finally:
            progress.close()
        if not quiet:
            _print_summary(definition, outcome)
        if outcome.failed:
            _warn_failures(outcome, results_format)
        if analyze:
            table = analyze_sobol(definition, outcome.out)
            if not quiet:
                click.echo("\n" + format_sobol(table, definition.spec.analysis.confidence))
                click.echo(f"\nIndices written to {sobol_path(outcome.out)}")
    except SimInputError as exc:
        fail(str(exc))
    except SweepAborted as exc:
        fail(f"{exc}; finished points are kept: rerun with --resume", code=1)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: finished points are kept; rerun with --resume", err=True)
        sys.exit(130)
    if outcome.failed and strict:
        sys.exit(1)


def _print_summary(definition: Sweep, outcome: SweepOutcome) -> None:
    ok = outcome.points - len(outcome.failed)
    ran = "" if outcome.ran == outcome.points else f", {outcome.ran} run now"
    click.echo(
        f"{definition.name}: {outcome.points} points x {definition.replications} replications "
        f"({ok} ok, {len(outcome.failed)} failed{ran}); written to {Path(outcome.out)}/"
    )


def _warn_failures(outcome: SweepOutcome, results_format: str) -> None:
    click.echo(
        f"warning: {len(outcome.failed)} of {outcome.points} points failed "
        f"(all listed in {Path(outcome.out) / table_file(POINTS, results_format)}):",
        err=True,
    )
    for failure in outcome.failed[:_SHOWN_FAILURES]:
        values = ", ".join(f"{name}={value!r}" for name, value in failure.values.items())
        click.echo(f"  point {failure.point} ({values}): {failure.error}", err=True)
    if len(outcome.failed) > _SHOWN_FAILURES:
        click.echo(f"  ... and {len(outcome.failed) - _SHOWN_FAILURES} more", err=True)
