"""Sweeps from Python: ``sweep()`` for notebooks, ``run_sweep()`` for the command line.

A run opens the output folder (refusing to mix with or replace anything else), runs every
point that has no part file yet, then merges the parts into sweep.csv and writes points.csv
and manifest.json (``results_format="parquet"``: sweep.parquet and points.parquet).
Interrupted, it keeps every finished point; ``resume=True`` runs the rest and gives byte for
byte the files of an uninterrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.engine.runner import default_jobs
from sim.io.manifest import build_manifest, scenario_hash
from sim.io.results import (
    check_format,
    read_table,
    table_file,
    table_format,
    write_table_atomic,
)
from sim.io.target import exclusive
from sim.strategies.compiled import compile_strategies
from sim.sweeps.design import Value, design_points, point_seed
from sim.sweeps.execute import PointResult, PointTask, point_runner
from sim.sweeps.sobol import sweep_sobol
from sim.sweeps.spec import ROW_COLUMNS, Sweep, SweepSpec, load_sweep, override
from sim.sweeps.store import POINTS, SOBOL, SWEEP_TABLE, Store

SweepSource = str | Path | SweepSpec | Mapping[str, Any] | Sweep
# progress(points done, of which failed, points to run in this call); first called with 0, 0.
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class FailedPoint:
    point: int
    values: dict[str, Value]
    error: str


@dataclass
class _Tally:
    """Points finished in this call, for the progress callback and the manifest."""

    total: int
    progress: Progress | None
    done: int = 0
    failed: int = 0
    seconds: float = 0.0  # time spent in points, summed over workers

    def add(self, result: PointResult) -> None:
        self.done += 1
        self.failed += 0 if result.error is None else 1
        self.seconds += result.seconds
        self.report()

    def report(self) -> None:
        if self.progress:
            self.progress(self.done, self.failed, self.total)


@dataclass(frozen=True)
class SweepOutcome:
    out: Path
    points: int
    ran: int  # points run by this call; fewer than ``points`` after a resume
    failed: list[FailedPoint]


def sweep(
    sweep_file: SweepSource,
    jobs: int | None = None,
    dask: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
    *,
    overwrite: bool = False,
    allow_plugins: bool = False,
    results_format: str = "csv",
) -> pd.DataFrame:
    """Run a sweep and return sweep.csv as a DataFrame (one row per point x strategy x
    replication: point, each parameter, strategy, replication, seed, every KPI).

    ``sweep_file`` is a sweep YAML file or its content as a mapping or SweepSpec (whose
    ``base`` is then relative to the current directory). ``jobs`` local processes (default: all
    cores) or ``dask``, a scheduler address or a ``distributed.Client``. ``out`` defaults to
    ``results/<sweep file stem>`` (``results/sweep`` for an in-memory definition). ``resume``
    finishes an interrupted sweep; ``overwrite`` discards one. Failed points are listed in
    points.csv. Plug-in policies (Python code a scenario names) run only with
    ``allow_plugins``. ``results_format`` is ``csv`` or ``parquet`` (sweep.parquet,
    points.parquet: typed columns, full float precision); a sweep resumes in the format it
    started in.
    """
    outcome = run_sweep(
        sweep_file,
        jobs=jobs,
        dask=dask,
        out=out,
        resume=resume,
        overwrite=overwrite,
        allow_plugins=allow_plugins,
        results_format=results_format,
    )
    return read_table(outcome.out / table_file(SWEEP_TABLE, results_format))


def run_sweep(
    sweep_file: SweepSource,
    *,
    jobs: int | None = None,
    dask: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    allow_plugins: bool = False,
    results_format: str = "csv",
) -> SweepOutcome:
    """Run (or finish, with ``resume``) a sweep into its output folder; see :func:`sweep`."""
    started = time.perf_counter()
    check_format(results_format)
    definition = load_sweep(sweep_file)
    compile_strategies(definition.scenario, definition.source, allow_plugins=allow_plugins)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    out_dir = Path(out) if out is not None else Path("results") / definition.name
    points = design_points(definition.spec, definition.seed)
    with exclusive(out_dir):  # one sweep at a time into a folder
        store = Store(out_dir, len(points), results_format=results_format)
        with point_runner(jobs=jobs, dask=dask) as runner:
            if store.open(definition.definition_hash, resume=resume, overwrite=overwrite):
                return _outcome(store, definition, ran=0)
            todo = [k for k in range(len(points)) if not store.is_done(k)]
            tally = _Tally(total=len(todo), progress=progress)
            tally.report()

            def on_result(result: PointResult) -> None:
                if result.rows is not None:
                    store.write_part(result.point, result.rows)
                else:
                    store.write_error(result.point, result.error or "unknown error")
                tally.add(result)

            tasks = (_task(definition, k, points[k], allow_plugins) for k in todo)
            runner.run(tasks, on_result)
        table = _points_table(definition, points, store)
        manifest = _manifest(
            definition, table, runner.description, started, len(todo), tally.seconds
        )
        store.finish(_columns(definition), {POINTS: table}, manifest)
        return _outcome(store, definition, ran=len(todo), table=table)


def analyze_sobol(sweep_file: SweepSource, out: str | Path | None = None) -> pd.DataFrame:
    """Sobol indices of a finished Saltelli sweep (see its ``analysis:``); also written to
    sobol.csv in the output folder (sobol.parquet beside a sweep.parquet)."""
    definition = load_sweep(sweep_file)
    out_dir = Path(out) if out is not None else Path("results") / definition.name
    table = sweep_sobol(definition, out_dir)
    write_table_atomic(table, sobol_path(out_dir))
    return table


def sobol_path(out: Path) -> Path:
    """Where the Sobol indices of the sweep in ``out`` go: sobol.csv, or sobol.parquet for a
    sweep written as Parquet."""
    return Path(out) / table_file(SOBOL, table_format(Path(out), SWEEP_TABLE))


def _columns(definition: Sweep) -> list[str]:
    return [ROW_COLUMNS[0], *definition.parameters, *ROW_COLUMNS[1:]]


def _task(
    definition: Sweep, point: int, values: tuple[Value, ...], allow_plugins: bool
) -> PointTask:
    overrides = tuple(
        override(path, value)
        for name, value in zip(definition.parameters, values, strict=True)
        for path in definition.paths(name)
    )
    return PointTask(
        point=point,
        names=definition.parameters,
        values=values,
        overrides=overrides,
        seed=point_seed(definition.seed, point),
        replications=definition.replications,
        base=definition.base_data,
        source=f"point {point}",
        allow_plugins=allow_plugins,
    )


def _points_table(definition: Sweep, points: list[tuple[Value, ...]], store: Store) -> pd.DataFrame:
    """One row per point: its parameters, seed, status (ok or failed) and error."""

    def rows() -> Iterator[dict[str, Any]]:
        for k, values in enumerate(points):
            done = store.is_done(k)
            error = None if done else store.error(k)
            if not done and error is None:
                raise RuntimeError(f"point {k} has neither a part file nor an error")
            yield {
                "point": k,
                **dict(zip(definition.parameters, values, strict=True)),
                "seed": point_seed(definition.seed, k),
                "status": "ok" if error is None else "failed",
                "error": error or "",
            }

    return pd.DataFrame(
        rows(), columns=["point", *definition.parameters, "seed", "status", "error"]
    )


def _outcome(
    store: Store, definition: Sweep, ran: int, table: pd.DataFrame | None = None
) -> SweepOutcome:
    if table is None:
        table = read_table(store.table(POINTS))
    failed = [
        FailedPoint(row["point"], {p: row[p] for p in definition.parameters}, row["error"])
        # Records hold Python numbers, which print as the user wrote them.
        for row in table[table["status"] != "ok"].to_dict("records")
    ]
    return SweepOutcome(store.out, len(table), ran, failed)


def _manifest(
    definition: Sweep,
    table: pd.DataFrame,
    executor: str,
    started: float,
    ran: int,
    point_seconds: float,
) -> dict[str, Any]:
    """What was swept, with what and how long it took. Timings and versions live here only:
    sweep.csv and points.csv hold what the definition determines, and nothing else."""
    base = definition.scenario
    # The run manifest already gathers versions and the git state; reuse its fields.
    environment = build_manifest(
        base,
        scenario_path=None,
        seeds=[base.seed] * base.replications,
        wall_time_s=0.0,
        jobs=1,
        overrides=[],
    )
    spec = definition.spec
    failed = int((table["status"] != "ok").sum())
    return {
        "sweep_file": definition.source,
        "description": spec.description,
        "definition_hash": definition.definition_hash,
        "base_scenario": spec.base,
        "base_scenario_hash": scenario_hash(base),
        "design": spec.design.model_dump(mode="json"),
        "parameters": list(definition.parameters),
        "points": len(table),
        "points_ok": len(table) - failed,
        "points_failed": failed,
        "replications": definition.replications,
        "seed": definition.seed,
        "seed_scheme": (
            "point k uses seed SeedSequence(seed).spawn(points)[k].generate_state(1)[0]; "
            "its replication i uses SeedSequence(point seed).spawn(replications)[i]"
        ),
        "strategies": base.strategy_names,
        "currency": base.currency,
        "executor": executor,
        "points_run": ran,
        "resumed": ran < len(table),
        "wall_time_s": round(time.perf_counter() - started, 3),
        "points_time_s": round(point_seconds, 3),  # summed over workers
        "versions": environment["versions"],
        "git_commit": environment["git_commit"],
        "git_dirty": environment["git_dirty"],
        "created": environment["created"],
        # Last, so the short facts above are what a reader sees first.
        "sweep": spec.model_dump(mode="json", by_alias=True),
        "base": base.model_dump(mode="json"),
    }
