"""``loyaltysim run``: simulate a scenario's strategies, or decide between them under
uncertainty (``--draws``)."""

from __future__ import annotations

import io
import sys
from datetime import datetime
from pathlib import Path

import click

from sim.api import decide
from sim.api import run as run_scenario
from sim.cli.common import (
    TaskProgress,
    dask_option,
    echo_json,
    fail,
    format_option,
    json_option,
    set_option,
)
from sim.errors import SimInputError
from sim.io.eventlog_write import FORMATS
from sim.io.loader import load_scenario
from sim.io.results import RESULT_FORMATS
from sim.sweeps.draws import DrawFailed
from sim.sweeps.execute import SweepAborted


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Results folder [default: results/<scenario file stem>].",
)
@click.option("--seed", type=int, help="Base seed (replaces the scenario's).")
@click.option("--replications", type=int, help="Number of replications.")
@click.option("--jobs", type=int, help="Parallel processes [default: all cores].")
@click.option(
    "--engine",
    type=click.Choice(["vector", "agent"]),
    default="vector",
    show_default=True,
    help="vector: the fast engine; agent: one process per member, the reference (slow).",
)
@click.option(
    "--shards",
    type=int,
    default=1,
    show_default=True,
    help="Split the members into this many shards run in parallel and merged "
    "(approximate: sender reputation is per shard).",
)
@set_option
@click.option("--overwrite", is_flag=True, help="Replace a results folder from another run.")
@click.option(
    "--report",
    "make_report",
    is_flag=True,
    help="Also write report.html and its figures into the results folder.",
)
@click.option(
    "--allow-plugins",
    is_flag=True,
    help="Run the plug-in policies the scenario names (their Python code runs as you).",
)
@click.option(
    "--no-memory-check",
    is_flag=True,
    help="Run even if the memory estimate exceeds this machine's (e.g. on a larger node).",
)
@click.option(
    "--draws",
    type=int,
    help="Decide under uncertainty: run this many draws of the scenario's uncertain values "
    "(or of the shipped priors), each with --replications replications [default: 1].",
)
@dask_option("the draws (with --draws)")
@click.option("--resume", is_flag=True, help="With --draws: finish an interrupted run of draws.")
@click.option(
    "--events",
    "events_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Also write each strategy's and replication's event log (members, sends, purchases, "
    "opt-ins) into DIR/<strategy>/<replication>/.",
)
@click.option(
    "--events-format",
    type=click.Choice(FORMATS),
    default="parquet",
    show_default=True,
    help="File format of the event logs.",
)
@click.option(
    "--events-start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    default=None,
    help="Calendar date (YYYY-MM-DD) of day 0 in the event logs, a Monday: replaces the "
    "scenario's start_date (as --set start_date=DATE) [default: the scenario's start_date, "
    "2024-01-01 unless it names one].",
)
@format_option("the results tables", RESULT_FORMATS)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@json_option
def run(
    scenario: str,
    out: str | None,
    seed: int | None,
    replications: int | None,
    jobs: int | None,
    shards: int,
    engine: str,
    overrides: tuple[str, ...],
    overwrite: bool,
    make_report: bool,
    allow_plugins: bool,
    no_memory_check: bool,
    draws: int | None,
    dask_address: str | None,
    resume: bool,
    events_dir: str | None,
    events_format: str,
    events_start: datetime | None,
    results_format: str,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run SCENARIO and print the strategies ranked by its objective; with --draws (or the
    scenario's draws:), the decision under uncertainty (P(best), expected loss, what to
    measure first)."""
    try:
        resolved = load_scenario(scenario, overrides)
    except SimInputError as exc:
        fail(str(exc))
    if draws is not None or resolved.draws is not None:
        if shards != 1 or engine != "vector":
            fail(
                "--draws: a run of draws (--draws or the scenario's draws:) runs the vector "
                "engine unsharded (leave out --shards and --engine)"
            )
        if events_dir is not None:
            fail(
                "--events: a run of draws writes no event logs (leave out --draws, or "
                "--set draws=null)"
            )
        _run_draws(
            scenario,
            resolved.uncertain is None,
            out,
            seed,
            replications,
            jobs,
            overrides,
            draws,
            dask_address,
            resume,
            overwrite,
            make_report,
            allow_plugins,
            quiet,
            as_json,
            results_format,
        )
        return
    if dask_address is not None or resume:
        fail("--dask and --resume go with --draws (a single run is not resumable)")
    out_dir = Path(out) if out else Path("results") / Path(scenario).stem
    try:
        total = (replications or resolved.replications) * resolved.horizon_days
        show = not quiet and not as_json and sys.stderr.isatty()
        with click.progressbar(
            length=total,
            label=f"{resolved.name}: simulated days",
            show_eta=True,
            file=sys.stderr if show else io.StringIO(),
        ) as bar:
            results = run_scenario(
                scenario,
                replications=replications,
                seed=seed,
                jobs=jobs,
                overrides=overrides,
                shards=shards,
                engine=engine,
                on_progress=bar.update,
                allow_plugins=allow_plugins,
                out=out_dir,
                overwrite=overwrite,
                check_memory=not no_memory_check,
                events=events_dir,
                events_format=events_format,
                events_start=None if events_start is None else events_start.date(),
                results_format=results_format,
            )
        if make_report:
            from sim.report import build_report  # matplotlib: only for a report

            build_report(out_dir)
    except SimInputError as exc:
        fail(str(exc))
    if as_json:
        objective = results.scenario.objective
        echo_json(
            {
                "results": str(out_dir),
                "events": events_dir,
                "objective": {"kpi": objective.kpi, "sense": objective.sense},
                "replications": results.manifest["replications"],
                "ranking": results.ranking().reset_index(),
                "history": results.manifest.get("history"),
            }
        )
    elif not quiet:
        click.echo(results.report())
        history = results.manifest.get("history")
        if history is not None:
            factors = ", ".join(f"{k} {v:.4f}" for k, v in history["history_factor"].items())
            click.echo(
                f"\nHistory plan {history['strategy']!r}: purchase rates divided by {factors} "
                "(manifest.json: history)"
            )
        if resolved.uncertain is not None:
            click.echo(
                "\nuncertain: this run used the scenario's own values, not draws from its "
                f"uncertain block; `loyaltysim run {scenario} --draws 64` draws them"
            )
        click.echo(f"\nResults written to {out_dir}/")
        if events_dir is not None:
            click.echo(f"Event logs written to {events_dir}/")


def _run_draws(
    scenario: str,
    default_priors: bool,
    out: str | None,
    seed: int | None,
    replications: int | None,
    jobs: int | None,
    overrides: tuple[str, ...],
    draws: int | None,
    dask_address: str | None,
    resume: bool,
    overwrite: bool,
    make_report: bool,
    allow_plugins: bool,
    quiet: bool,
    as_json: bool,
    results_format: str = "csv",
) -> None:
    """``run --draws`` (or a scenario's ``draws:``): the decision under uncertainty, into
    results/<stem>_draws, its tables in ``results_format``; ``draws`` None takes the
    scenario's."""
    out_dir = Path(out) if out else Path("results") / f"{Path(scenario).stem}_draws"
    progress = TaskProgress("draws", show=not quiet and not as_json and sys.stderr.isatty())
    try:
        if default_priors and not quiet and not as_json:
            click.echo(
                f"{scenario} has no uncertain: block; drawing the shipped priors of the values "
                "it holds (docs/uncertainty.md)",
                err=True,
            )
        try:
            decision = decide(
                scenario,
                overrides=overrides,
                draws=draws,
                replications=1 if replications is None else replications,
                seed=seed,
                jobs=jobs,
                dask=dask_address,
                out=out_dir,
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                allow_plugins=allow_plugins,
                results_format=results_format,
            )
        finally:
            progress.close()
        if make_report:
            from sim.report import build_report  # matplotlib: only for a report

            build_report(out_dir)
    except SimInputError as exc:
        fail(str(exc))
    except (DrawFailed, SweepAborted) as exc:
        fail(f"{exc}; finished draws are kept: rerun with --resume", code=1)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: finished draws are kept; rerun with --resume", err=True)
        sys.exit(130)
    if as_json:
        echo_json(
            {
                "results": str(out_dir),
                "draws": decision.manifest["draws"],
                "replications": decision.manifest["replications"],
                "priors": decision.manifest["priors"],
                "decision": decision.decision,
                "evpi": decision.evpi,
                "evppi": decision.evppi,
            }
        )
    elif not quiet:
        click.echo(decision.report())
        click.echo(f"Results written to {out_dir}/")
