"""The Python API: load a scenario, run it, get DataFrames. The command line is a thin layer
over these functions, and they work the same in a notebook."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.analysis import compare as comparing
from sim.analysis.decision import (
    decision_table,
    evpi,
    evppi_noise,
    evppi_table,
    format_decision,
    pairwise,
)
from sim.analysis.summary import (
    UPPER_BOUND,
    differing_kpis,
    format_ranking,
    rank,
    summarise,
    versus_best,
)
from sim.engine.agent import unsupported
from sim.engine.executors import executor_for
from sim.engine.history import history_factors
from sim.engine.runner import (
    ENGINES,
    default_jobs,
    machine_memory,
    memory_estimate,
    run_replications,
)
from sim.engine.shards import run_sharded
from sim.errors import SimInputError
from sim.io.atomic import write_files
from sim.io.eventlog_write import FORMATS, EventLogWriter, folder_problem
from sim.io.loader import (
    DEFAULT_PRIORS,
    load_scenario,
    scenario_from_dict,
    with_default_priors,
)
from sim.io.manifest import build_manifest, run_identity, scenario_hash
from sim.io.reading import read_json_object
from sim.io.results import (
    DECISION,
    DRAWS_TABLE,
    EVPPI,
    MANIFEST,
    REPLICATIONS,
    check_format,
    check_target,
    manifest_text,
    read_results,
    read_table,
    staged,
    table_path,
    write_results,
)
from sim.io.target import exclusive
from sim.spec.kpis import KPI_NAMES, OUTCOMES, summary_columns
from sim.spec.scenario import Scenario
from sim.strategies.compiled import compile_strategies
from sim.sweeps.draws import (
    DRAWS,
    DRAWS_STREAM,
    as_run,
    check_draws,
    draws_identity,
    parameter_draws,
    run_draws,
)
from sim.sweeps.execute import point_runner
from sim.sweeps.store import Store

if TYPE_CHECKING:
    from sim.fitting.engagement import EngagementFit
    from sim.fitting.reports import ReportsFit
    from sim.fitting.responses import Quadrature
    from sim.io.eventlog import EventLogOptions
    from sim.io.tables import TableOptions


@dataclass(frozen=True)
class Results:
    """The outcome of a run: tidy tables plus the manifest that makes it reproducible."""

    scenario: Scenario
    summary: pd.DataFrame  # one row per strategy x replication
    strategies: pd.DataFrame  # one row per strategy: means, 95% CIs, differences to silent
    timeseries: pd.DataFrame  # one row per strategy x replication x week
    pressure: pd.DataFrame  # reachable members per pressure bin at the horizon
    manifest: dict

    def ranking(self, min_effect: float = 0.0) -> pd.DataFrame:
        """Strategies best first by the scenario's objective (index: strategy): its ``rank``,
        ``standing`` (best, tied, behind; tied where the 95% interval of the paired difference
        to the best covers 0 or the difference is within ``min_effect``, in the objective's
        unit), then the objective's columns of strategies.csv (mean, interval, difference to
        silent) and the difference to the best (``<kpi>_diff_best``, ``_low``, ``_high``).
        Every KPI of every strategy is in ``kpis()``."""
        full = self._ranked(min_effect)
        kpi = self.scenario.objective.kpi
        best = [f"{kpi}_diff_best", f"{kpi}_diff_best_low", f"{kpi}_diff_best_high"]
        columns = ["rank", "standing", *summary_columns(kpi), *best, "replications"]
        if UPPER_BOUND in full and full[UPPER_BOUND].astype(bool).any():
            columns.append(UPPER_BOUND)  # an oracle policy's bound, ranked after the rest
        return full.set_index("strategy")[[c for c in columns if c in full.columns]]

    def kpis(self) -> pd.DataFrame:
        """Every KPI of every strategy as a long frame: ``strategy``, ``kpi``, ``statistic``
        (mean, ci_low, ci_high, diff_silent, ...: the columns of strategies.csv) and
        ``value``, strategies in the ranking's order."""
        order = list(self.ranking().index)
        rows = []
        for kpi in self.summary.columns.intersection(list(KPI_NAMES)):
            for column in summary_columns(kpi):
                if column in self.strategies:
                    statistic = column.removeprefix(f"{kpi}_")
                    for strategy, value in zip(
                        self.strategies["strategy"], self.strategies[column], strict=True
                    ):
                        rows.append((strategy, kpi, statistic, value))
        frame = pd.DataFrame(rows, columns=["strategy", "kpi", "statistic", "value"])
        frame["strategy"] = pd.Categorical(frame["strategy"], categories=order, ordered=True)
        return frame.sort_values(["strategy", "kpi"], kind="stable").reset_index(drop=True)

    def _ranked(self, min_effect: float = 0.0) -> pd.DataFrame:
        """The ranking with every column of strategies.csv, as the printed report reads it."""
        objective = self.scenario.objective
        ranked = rank(self.strategies, objective.kpi, objective.sense)
        return versus_best(self.summary, ranked, objective.kpi, min_effect=min_effect)

    def __repr__(self) -> str:
        best = self.ranking().iloc[0]
        return (
            f"<Results {self.scenario.name!r}: {len(self.scenario.strategy_names)} strategies, "
            f"{self.manifest.get('replications')} replications, "
            f"{self.scenario.horizon_days} days; best by {self.scenario.objective.kpi}: "
            f"{best.name} ({best['standing']})>"
        )

    def _repr_html_(self) -> str:
        """The ranking as a table, for notebooks."""
        title = (
            f"<p><b>{self.scenario.name}</b>: ranked by {self.scenario.objective.kpi} "
            f"({self.scenario.currency})</p>"
        )
        return title + self.ranking().to_html()

    def report(self, n_differing: int = 5) -> str:
        """The ranking as text, with the KPIs on which the strategies differ most."""
        differing = differing_kpis(self.summary, OUTCOMES, n=n_differing)
        return format_ranking(
            self._ranked(), self.scenario.objective.kpi, self.scenario.currency, differing
        )

    def save(
        self, out_dir: str | Path, overwrite: bool = False, results_format: str = "csv"
    ) -> Path:
        """Write the summary, strategies, timeseries and pressure tables (CSV, or Parquet
        with ``results_format="parquet"``) and manifest.json, atomically."""
        return write_results(
            Path(out_dir),
            summary=self.summary,
            strategies=self.strategies,
            timeseries=self.timeseries,
            pressure=self.pressure,
            manifest=self.manifest,
            overwrite=overwrite,
            results_format=results_format,
        )


def updated(scenario: Scenario, changes: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """A copy of ``scenario`` with the values at dotted paths (``population.size``) replaced,
    validated as a file would be: a bad value raises SimInputError naming its field path."""
    return scenario.with_overrides(changes, source)


def validate(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load and check a scenario file; every problem is raised as one SimInputError naming
    the file and field path. A plug-in policy is checked for its form only: validation never
    imports or runs the code a scenario names (``run`` does, if allowed)."""
    return load_scenario(path, overrides)


def run(
    scenario: Scenario | str | Path,
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    overrides: Sequence[str] = (),
    shards: int = 1,
    engine: str = "vector",
    on_progress: Callable[[int], None] | None = None,
    progress: bool = False,
    allow_plugins: bool = False,
    out: str | Path | None = None,
    overwrite: bool = False,
    check_memory: bool = True,
    events: str | Path | None = None,
    events_format: str = "parquet",
    events_start: date | None = None,
    results_format: str = "csv",
) -> Results:
    """Run every strategy of a scenario over its replications.

    ``scenario`` is a validated Scenario or a path to a YAML file (``overrides`` apply to a
    path only, as ``PATH=VALUE`` strings). ``replications`` and ``seed`` replace the
    scenario's own; ``jobs`` defaults to all cores. Same scenario and seed give identical
    results whatever ``jobs`` is. ``on_progress(k)`` reports k more simulated days out of
    replications x horizon_days; ``progress`` shows them as a bar with the time remaining
    (tqdm: a widget in Jupyter, text in a terminal). ``engine`` is ``vector`` (default) or
    ``agent``, the per-member reference engine (slow; docs/engines.md). ``shards`` > 1 splits
    the members into that many shards run as separate tasks and merged (``sim.engine.shards``:
    an approximation, see docs/performance.md). A plug-in policy (Python code the scenario names)
    runs only with ``allow_plugins``; without it the run is refused before anything runs.
    ``out`` also writes the results folder (``Results.save``, its tables in
    ``results_format``: ``csv`` or ``parquet``), holding it from the start: a
    second run into the same folder, or a folder of other results (unless ``overwrite``), is
    refused before anything runs. A run whose estimated memory exceeds this machine's is
    refused unless ``check_memory`` is False (``--no-memory-check``). ``events`` also writes
    the event log of every strategy and replication into that folder (sim.io.eventlog_write,
    docs/results.md), in ``events_format`` (``parquet`` or ``csv``), day 0 on the scenario's
    ``start_date`` (``events_start``, a Monday, replaces it as ``--set start_date=`` would, so
    that calendar-month campaigns fall on the log's dates): whole or not at all, and refused
    as ``out`` is when it holds something else; an unsharded run of the vector engine only.
    """
    scenario, file = _loaded(scenario, overrides)
    path = None if file is None else str(file)
    compile_strategies(scenario, path or "<scenario>", allow_plugins=allow_plugins)
    for option, key, value in (
        ("--replications", "replications", replications),
        ("--seed", "seed", seed),
        ("--events-start", "start_date", events_start),
    ):
        if value is not None:
            scenario = updated(scenario, {key: value}, source=f"{option} {value}")
    if not 1 <= shards <= scenario.population.size:
        raise SimInputError(
            f"--shards: must be between 1 and population.size "
            f"({scenario.population.size}), got {shards}"
        )
    if engine not in ENGINES:
        raise SimInputError(f"--engine: must be one of {sorted(ENGINES)}, got {engine!r}")
    if engine != "vector" and shards > 1:
        raise SimInputError("--shards: sharding runs the vector engine only")
    if scenario.history is not None and shards > 1:
        raise SimInputError(
            "--shards: a scenario with history is normalised once per run, and sharded runs "
            "draw each shard with a seed of its own: run it unsharded"
        )
    if engine == "agent" and (missing := unsupported(scenario)):
        raise SimInputError(
            [f"--engine agent: the reference engine does not implement {m}" for m in missing]
        )
    check_format(results_format)  # before any time is spent, as save would refuse it after
    if events is not None:
        _check_events(scenario, Path(events), out, events_format, shards, engine)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    if check_memory:
        _refuse_beyond_memory(scenario, jobs, shards)
    bar = None
    if progress and on_progress is None:
        from tqdm.auto import tqdm  # imported here: only a run that shows a bar needs it

        total = scenario.replications * scenario.horizon_days
        bar = tqdm(total=total, desc=f"{scenario.name}: simulated days", unit="day")
        on_progress = bar.update
    # Both folders are held from before the computation: a second run into either is refused
    # at once, and so is a folder of something else, before any time is spent.
    with (
        exclusive(Path(out)) if out is not None else nullcontext(),
        bar if bar is not None else nullcontext(),
    ):
        if out is not None:
            check_target(Path(out), run_identity(scenario, shards, engine), overwrite)
        with (
            staged(Path(events), None, overwrite, "--events")
            if events is not None
            else nullcontext()
        ) as folder:
            log = (
                None
                if folder is None
                else EventLogWriter(folder, events_format, scenario.start_date)
            )
            results = _compute(scenario, path, jobs, shards, engine, overrides, on_progress, log)
        if out is not None:
            results.save(out, overwrite=overwrite, results_format=results_format)
    return results


def _check_events(
    scenario: Scenario,
    events: Path,
    out: str | Path | None,
    fmt: str,
    shards: int,
    engine: str,
) -> None:
    """SimInputError for an event log the run cannot write."""
    if fmt not in FORMATS:
        raise SimInputError(f"--events-format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if engine != "vector":
        raise SimInputError("--events: the reference engine writes no event log")
    if shards > 1:
        raise SimInputError(
            "--events: the shards of a sharded run are populations of their own, each "
            "numbering its members from 0: run it unsharded"
        )
    if out is not None:
        a, b = events.absolute(), Path(out).absolute()
        if a == b or a.is_relative_to(b) or b.is_relative_to(a):
            raise SimInputError(f"--events: {events} must lie apart from the results folder {out}")
    names = scenario.strategy_names
    for name in names:
        if (problem := folder_problem(name, names)) is not None:
            raise SimInputError(
                f"--events: strategies.{name}: {problem}, so it cannot name a folder of the log"
            )


def _loaded(
    scenario: Scenario | str | Path, overrides: Sequence[str]
) -> tuple[Scenario, Path | None]:
    """A validated scenario and its file (None for a Scenario given in Python): a path is
    loaded with its ``--set`` overrides, which a Scenario object does not take."""
    if isinstance(scenario, Scenario):
        if overrides:
            raise ValueError("overrides apply to a scenario file; edit the Scenario object instead")
        return scenario, None
    return load_scenario(scenario, overrides), Path(scenario)


def _refuse_beyond_memory(scenario: Scenario, jobs: int, shards: int) -> None:
    """SimInputError if the run would need more memory than this machine has."""
    need = memory_estimate(scenario, scenario.replications, jobs * shards) / shards
    have = machine_memory()
    if have is not None and need > have:
        raise SimInputError(
            f"this run needs about {need / 1e9:.1f} GB of memory and this machine has "
            f"{have / 1e9:.1f} GB: use fewer --jobs or fewer members (population.size, "
            "acquisition_per_day), or pass --no-memory-check where more is available "
            "(docs/performance.md)"
        )


def _compute(
    scenario: Scenario,
    path: str | None,
    jobs: int,
    shards: int,
    engine: str,
    overrides: Sequence[str],
    on_progress: Callable[[int], None] | None,
    events: EventLogWriter | None = None,
) -> Results:
    """Run a checked scenario and gather its tables and manifest; ``events`` makes each
    replication's event log."""
    started = time.perf_counter()
    # Estimated here, before any worker starts: the workers reuse the factors (or estimate the
    # same ones), and the manifest records them.
    history = None if scenario.history is None else history_factors(scenario, scenario.seed)
    if shards == 1:
        tables = run_replications(
            scenario, scenario.replications, scenario.seed, jobs, on_progress, engine, events
        )
    else:
        tables = run_sharded(
            scenario, scenario.replications, scenario.seed, jobs, shards, on_progress
        )
    manifest = build_manifest(
        scenario,
        scenario_path=path,
        seeds=[scenario.seed] * scenario.replications,
        wall_time_s=round(time.perf_counter() - started, 3),
        jobs=jobs,
        overrides=list(overrides),
    )
    manifest["seed_scheme"] = (
        "replication i uses numpy SeedSequence(seed).spawn(replications)[i]; its member draws "
        "are Philox4x32-10 under the key SeedSequence(seed, spawn_key=(i, 13)).generate_state(2, "
        "uint32) (docs/model.md, section 1)"
    )
    manifest.update(run_identity(scenario, shards, engine))
    if history is not None:
        manifest["history"] = history.manifest()
    if shards > 1:
        manifest["seed_scheme"] = (
            "shard k of replication i runs as replication i of seed "
            "int(numpy SeedSequence(seed, spawn_key=(i, 1000 + k)).generate_state(1)[0])"
        )
    strategies = summarise(tables.summary, KPI_NAMES)
    strategies.insert(
        2,
        UPPER_BOUND,
        [scenario.strategies[name].is_oracle for name in strategies["strategy"]],
    )
    return Results(
        scenario=scenario,
        summary=tables.summary,
        strategies=strategies,
        timeseries=tables.timeseries,
        pressure=tables.pressure,
        manifest=manifest,
    )


# progress(draws done, of which failed, draws to run in this call); first called with 0, 0.
DrawsProgress = Callable[[int, int, int], None]


@dataclass
class Decision:
    """The choice among a scenario's strategies when its uncertain values are drawn from their
    priors (docs/uncertainty.md): per strategy the expected objective, its 95% range over the
    draws, P(best), P(beats silent), P(beats the current plan), the expected loss and the
    spread of its difference to the leader split into parameters and Monte Carlo noise; EVPI;
    and per uncertain value its EVPPI, largest first."""

    scenario: Scenario  # with the uncertain block that was drawn
    decision: pd.DataFrame  # one row per strategy, best expected first (decision.csv)
    evppi: pd.DataFrame  # one row per numeric uncertain value, largest first (evppi.csv)
    evpi: float
    draws: pd.DataFrame  # one row per draw and strategy: drawn values, KPI means (draws.csv)
    replications: pd.DataFrame  # one row per draw, strategy and replication
    manifest: dict

    def values(self, kpi: str | None = None) -> pd.DataFrame:
        """One row per draw, one column per strategy: ``kpi`` (default: the objective) as
        drawn, averaged over the draw's replications."""
        return self.draws.pivot(
            index="draw", columns="strategy", values=kpi or self.scenario.objective.kpi
        )

    def evppi_between(
        self, strategies: Sequence[str], kpi: str | None = None, sense: str | None = None
    ) -> pd.DataFrame:
        """EVPPI (evppi.csv's columns but ``above_noise``) of the choice among ``strategies``
        alone, on ``kpi`` (default: the objective) to maximise or minimise (``sense``,
        default the objective's): which unknown decides between, say, the current plan and
        one alternative."""
        sense = sense or self.scenario.objective.sense
        benefit = self.values(kpi)[list(strategies)]
        benefit = benefit if sense == "max" else -benefit
        parameters = self.draws.drop_duplicates("draw").set_index("draw")
        parameters = parameters[self.manifest["uncertain"]].loc[benefit.index]
        table = evppi_table(benefit, parameters)
        total = evpi(benefit)
        table["share_of_evpi"] = table["evppi"] / total if total > 0 else 0.0
        return table

    def report(self, n_parameters: int = 3) -> str:
        """The decision as text: the table, the variance split, EVPI and what to measure."""
        m = self.manifest
        values = self.values()
        pairs = pairwise(values if self.scenario.objective.sense == "max" else -values)
        title = (
            f"{self.scenario.name}: {m['draws']} draws of {len(m['uncertain'])} uncertain "
            f"values ({_source_of_draws(self.scenario, m['priors'])}) x "
            f"{m['replications']} replication{'s' if m['replications'] > 1 else ''}"
        )
        return format_decision(
            self.decision,
            self.evppi,
            self.evpi,
            objective=self.scenario.objective,
            currency=self.scenario.currency,
            title=title,
            current=m.get("current_plan"),
            noise=m.get("evppi_noise"),
            pairs=pairs,
            n_parameters=n_parameters,
        )


def _source_of_draws(scenario: Scenario, priors: str) -> str:
    """Where a decision's draws came from, for its title."""
    if priors != "scenario":
        return "the shipped priors"
    uncertain = scenario.uncertain
    if uncertain is not None and uncertain.from_ is not None:
        return f"draws from {uncertain.from_}"
    return "its priors"


def decide(
    scenario: Scenario | str | Path,
    *,
    draws: int | None = None,
    replications: int = 1,
    seed: int | None = None,
    jobs: int | None = None,
    dask: Any = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: DrawsProgress | None = None,
    allow_plugins: bool = False,
    results_format: str = "csv",
) -> Decision:
    """Run ``replications`` replications at each of ``draws`` draws (default: the scenario's
    ``draws:``) of the scenario's ``uncertain:`` block (or, if it has none, of the shipped
    priors of the values it holds: the manifest's ``priors`` says which) and summarise the
    choice (``Decision``); ``seed`` replaces the scenario's.

    The objective of a draw is the mean over its replications; for an objective minimised the
    net benefit is its negative, so P(best) and expected loss favour the better choice. The
    current plan is the scenario's history plan, if it names one. ``jobs`` local processes or
    ``dask`` (a scheduler address or ``distributed.Client``) run the draws, each draw in one
    process; the files do not depend on either. ``out`` writes decision.csv, evppi.csv,
    draws.csv, replications.csv and manifest.json there (with ``results_format="parquet"``
    the four tables as .parquet files), each draw saved as it finishes: ``resume`` finishes an
    interrupted run (in the format it started in), ``overwrite`` discards another.
    """
    started = time.perf_counter()
    check_format(results_format)
    scenario, path = _loaded(scenario, overrides)
    source = str(path or "<scenario>")
    if draws is not None:  # validated as the scenario's own field (its bounds, its message)
        scenario = updated(scenario, {"draws": draws}, f"--draws {draws}")
    if scenario.draws is None:
        raise SimInputError(f"{source}: draws: how many? Give --draws K or the scenario's draws: K")
    draws = scenario.draws
    # Validated as the scenario's own field (its bounds, its message).
    scenario = updated(scenario, {"replications": replications}, f"--replications {replications}")
    if seed is not None:
        scenario = updated(scenario, {"seed": seed}, source=f"--seed {seed}")
    priors = "scenario"
    if scenario.uncertain is None:
        scenario, priors = with_default_priors(scenario), str(DEFAULT_PRIORS.name)
    compile_strategies(scenario, source, allow_plugins=allow_plugins)
    assert scenario.uncertain is not None
    values = as_run(
        parameter_draws(
            scenario.uncertain, draws, scenario.seed, None if path is None else path.parent
        ),
        scenario,
    )
    drawn_from = scenario.uncertain.from_
    if drawn_from is not None and path is not None:
        drawn_from = str(path.parent / drawn_from)
    check_draws(scenario, values, drawn_from or source)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    identity = draws_identity(scenario, values, replications)
    if out is None:
        with point_runner(jobs=jobs, dask=dask) as runner:
            runs = run_draws(scenario, values, replications, runner, None, progress, allow_plugins)
        return _decision(
            scenario, values, runs, priors, runner.description, started, path, overrides
        )
    out_dir = Path(out)
    with exclusive(out_dir):
        store = Store(out_dir, draws, DRAWS, results_format)
        with point_runner(jobs=jobs, dask=dask) as runner:
            if store.open(identity, resume=resume, overwrite=overwrite):
                return read_decision(out_dir, scenario)
            runs = run_draws(scenario, values, replications, runner, store, progress, allow_plugins)
        result = _decision(
            scenario, values, runs, priors, runner.description, started, path, overrides
        )
        result.manifest["definition_hash"] = identity
        store.finish(
            list(runs.columns),
            {DRAWS_TABLE: result.draws, DECISION: result.decision, EVPPI: result.evppi},
            result.manifest,
        )
    return result


def _decision(
    scenario: Scenario,
    values: pd.DataFrame,
    runs: pd.DataFrame,
    priors: str,
    executor: str,
    started: float,
    path: Path | None,
    overrides: Sequence[str] = (),
) -> Decision:
    """The decision tables from the replications of every draw. An oracle policy (an upper
    bound no marketer can run) is not a choice: it is left out of the decision and EVPPI,
    and kept in draws.csv and replications.csv."""
    kpi, sign = scenario.objective.kpi, 1.0 if scenario.objective.sense == "max" else -1.0
    names = [n for n in scenario.strategy_names if not scenario.strategies[n].is_oracle]
    per_run = sign * runs.set_index(["draw", "replication", "strategy"])[kpi].unstack("strategy")
    benefit = per_run.groupby(level="draw").mean()[names]
    current = None if scenario.history is None else scenario.history.strategy
    table = decision_table(benefit, current, per_run[names])
    if sign < 0:  # back in the KPI's own terms: each range flips
        for low, high in (("low", "high"), ("diff_low", "diff_high")):
            table[low], table[high] = -table[high], -table[low]
        table["expected"] = -table["expected"]
    drawn = values.rename_axis("draw").reset_index()
    kpis = [c for c in runs.columns if c not in ("draw", "strategy", "replication", "seed")]
    means = runs.groupby(["draw", "strategy"], sort=False)[kpis].mean().reset_index()
    means.insert(2, "replications", scenario.replications)
    per_draw = drawn.merge(means, on="draw")
    per_draw = per_draw[["draw", *values.columns, "strategy", "replications", *kpis]]
    evpi_value = evpi(benefit)
    noise = evppi_noise(benefit, scenario.seed)
    evppi_rows = evppi_table(benefit, values)
    evppi_rows["share_of_evpi"] = evppi_rows["evppi"] / evpi_value if evpi_value > 0 else 0.0
    evppi_rows["above_noise"] = evppi_rows["evppi"] > noise
    manifest = build_manifest(
        scenario,
        scenario_path=None if path is None else str(path),
        seeds=[scenario.seed] * scenario.replications,
        wall_time_s=round(time.perf_counter() - started, 3),
        jobs=1,
        overrides=list(overrides),
    )
    manifest.pop("seeds")
    manifest.pop("jobs")  # the executor says how the draws ran
    manifest.update(
        draws=len(values),
        priors=priors,
        uncertain=list(values.columns),
        current_plan=current,
        not_choices=[n for n in scenario.strategy_names if n not in names],
        evpi=evpi_value,
        evppi_noise=noise,
        executor=executor,
        seed_scheme=(
            "draw k's values: a Latin hypercube (Gaussian copula where correlated) from numpy "
            f"SeedSequence((seed, {DRAWS_STREAM})); its replication i uses SeedSequence(s)."
            f"spawn(replications)[i] with s = SeedSequence(seed, spawn_key=({DRAWS_STREAM}, k))"
            ".generate_state(1)[0]"
        ),
    )
    return Decision(
        scenario=scenario,
        decision=table,
        evppi=evppi_rows,
        evpi=evpi_value,
        draws=per_draw,
        replications=runs,
        manifest=manifest,
    )


def load_results(path: str | Path) -> Results:
    """The Results of a run, read back from the folder ``run`` wrote (its scenario from the
    manifest). A folder of draws is read with ``read_decision``."""
    folder = Path(path)
    manifest = read_json_object(folder / MANIFEST)
    if manifest is None or not isinstance(manifest.get("scenario"), dict):
        raise SimInputError(f"{folder}: not a results folder (no readable {MANIFEST})")
    if "draws" in manifest:
        raise SimInputError(f"{folder}: holds a run of draws; read it with sim.api.read_decision")
    tables = read_results(folder)
    return Results(
        scenario=scenario_from_dict(manifest["scenario"], str(folder / MANIFEST)),
        summary=tables["summary"],
        # A copy: the frame read back is fragmented column by column, which pandas warns about.
        strategies=tables["strategies"].copy(),
        timeseries=tables["timeseries"],
        pressure=tables["pressure"],
        manifest=manifest,
    )


def compare(
    a: str | Path, b: str | Path, kpis: Sequence[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """B against A (results folders, or their summary.csv or strategies.csv) as
    ``loyaltysim compare`` tabulates it: one row per strategy and KPI with both means, the
    difference, its interval and ``significant`` (Benjamini-Hochberg over the rows). What the
    command prints as warnings (strategies or KPIs only one side has, parameters that differ)
    is in ``attrs["warnings"]`` and ``attrs["parameters"]``."""
    result = comparing.compare(a, b, kpis, confidence)
    table = result.table.copy()
    table.attrs["warnings"] = list(result.warnings)
    table.attrs["parameters"] = result.parameters
    return table


def read_decision(out: str | Path, scenario: Scenario | None = None) -> Decision:
    """The Decision of a finished run of draws, read back from its folder (CSV or Parquet)."""
    out = Path(out)
    manifest = read_json_object(out / MANIFEST)
    if manifest is None or "draws" not in manifest:
        raise SimInputError(f"{out}: holds no finished run of draws (no {MANIFEST} with draws)")
    return Decision(
        scenario=scenario if scenario is not None else scenario_from_dict(manifest["scenario"]),
        decision=read_table(table_path(out, DECISION)),
        evppi=read_table(table_path(out, EVPPI)),
        evpi=float(manifest["evpi"]),
        draws=read_table(table_path(out, DRAWS_TABLE)),
        replications=read_table(table_path(out, REPLICATIONS)),
        manifest=manifest,
    )


def fit(
    events: str | Path | Sequence[str | Path],
    scenario: str | Path | Scenario,
    out: str | Path | None = None,
    *,
    options: EventLogOptions | None = None,
    quadrature: Quadrature | None = None,
    draws: int = 1000,
    seed: int = 0,
    overwrite: bool = False,
    starts: int = 1,
    progress: Callable[[str], None] | None = None,
    subset: int | None = None,
) -> EngagementFit:
    """Fit the message-response model and the purchase lift to an engagement event log
    (docs/fit.md), starting from ``scenario``'s values (and with ``starts`` > 1 from other
    points of the fatigue mechanism too, keeping the highest maximum) and measuring what the
    log taught against its priors. With ``subset``, the response model is fitted on that many
    members with a delivered message, drawn at random under ``seed``, for a log too large to
    fit whole in the time at hand (docs/fit.md, section 7). With ``out`` (``fitted.yaml``),
    write it with ``fitted.estimates.csv``, ``fitted.posterior.csv``, ``fitted.diagnostics.csv`` and
    ``fitted.png`` beside it, all or none; an existing file is refused unless
    ``overwrite``. ``progress`` receives a line after each stage of the maximisation."""
    # Imported here: the fit's compiled kernel (numba) and its writers cost a second to import,
    # which a run does not need.
    from sim.fitting.engagement import fit_events
    from sim.fitting.writer import (
        diagnostics_csv,
        diagnostics_png,
        estimates_csv,
        fitted_yaml,
        posterior_csv,
    )
    from sim.io.eventlog import read_event_log

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    targets = fit_files(Path(out)) if out is not None else None
    if targets is not None and len(set(targets.values())) < len(targets):
        raise SimInputError(f"--out {out}: give the fit a .yaml name (its figure is the .png)")
    if targets is not None and not targets["yaml"].parent.is_dir():  # before a long fit
        raise SimInputError(f"--out {out}: the folder {targets['yaml'].parent} does not exist")
    if targets is not None and not overwrite:
        existing = [str(p) for p in targets.values() if p.exists()]
        if existing:
            raise SimInputError(
                f"{existing[0]} exists: give another --out, or --overwrite to replace it"
            )
    from sim.fitting.responses import check_starts

    check_starts(starts)  # before the log is read
    if subset is not None and subset < 1:
        raise SimInputError(f"--subset: {subset} members; give at least 1")
    log = read_event_log(events, options)
    result = fit_events(log, base, quadrature, draws, seed, starts, progress, subset)
    if targets is not None:
        posterior = targets["posterior"]
        write_files(
            {
                targets["yaml"]: fitted_yaml(result, log.source, posterior.name),
                targets["estimates"]: estimates_csv(result),
                posterior: posterior_csv(result),
                targets["diagnostics"]: diagnostics_csv(result),
                targets["figure"]: diagnostics_png(result, log.source),
            }
        )
    return result


def fit_files(out: Path) -> dict[str, Path]:
    """The files a fit writes for ``--out F.yaml``: F.yaml, F.estimates.csv,
    F.posterior.csv, F.diagnostics.csv and F.png."""
    stem = out.with_suffix("")
    return {
        "yaml": out,
        "estimates": stem.with_name(stem.name + ".estimates.csv"),
        "posterior": stem.with_name(stem.name + ".posterior.csv"),
        "diagnostics": stem.with_name(stem.name + ".diagnostics.csv"),
        "figure": stem.with_name(stem.name + ".png"),
    }


def fit_reports(
    reports: str | Path,
    scenario: str | Path | Scenario,
    out: str | Path | None = None,
    *,
    tests: str | Path | None = None,
    program: str | Path | None = None,
    start: date | None = None,
    options: TableOptions | None = None,
    rename: dict[str, str] | None = None,
    members: int | None = None,
    particles: int | None = None,
    generations: int | None = None,
    block_days: int | None = None,
    seed: int = 0,
    jobs: int | None = None,
    dask: Any = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReportsFit:
    """Fit the uncertain values of ``scenario`` (its ``uncertain:`` priors) to a campaign
    report, to a holdout test's result (``tests``) and to monthly program figures (``program``)
    if given, by simulation-based inference
    (docs/reports.md, "Fitting"): the scenario's
    ``history`` plan simulated at ``members`` members per particle over the report's period,
    which begins on ``start`` (the scenario's day 0, a Monday, which replaces its
    ``start_date``; default: the Monday on or before the report's first date). With ``out`` (a
    folder), write posterior.csv (what ``uncertain: {from: ...}`` reads), parameters.csv,
    statistics.csv, generations.csv, predictive.png and manifest.json, all or none. A fit
    that stops part-way keeps its generations in a database beside ``out`` and goes on from
    them when run again with the same inputs."""
    # Imported here: pyabc (an optional dependency) and the fit take seconds to import.
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise SimInputError("fit --reports needs pyabc: pip install 'loyaltysim[fit]'") from None
    from sim.fitting import reports as fitting
    from sim.fitting.summaries import BLOCK_DAYS, Observed, Statistics, report_days
    from sim.fitting.writer import reports_files
    from sim.io.reports import read_campaign_report, read_program_figures, read_test_result

    started = time.perf_counter()
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    fitting.priors(base)  # refuses a block the fit cannot take before anything is read
    particle = fitting.fit_scenario(base, members or fitting.MEMBERS)
    assert particle.history is not None
    sent = list(particle.strategies[particle.history.strategy].messages)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        check_target(out_dir, None, overwrite)
    if start is not None and start.weekday() != 0:
        raise SimInputError(f"--start {start}: a scenario's day 0 is a Monday")
    read = read_campaign_report(
        reports, options, rename, days=base.horizon_days, start=start, campaigns=sent
    )
    if read.start is None:
        raise SimInputError(f"{read.source}: no rows to fit")
    start = read.start
    if start != base.start_date:  # the plan's calendar-month sends fall on the report's dates
        base = updated(base, {"start_date": start}, source=f"--start {start}")
        particle = fitting.fit_scenario(base, members or fitting.MEMBERS)
    cells = None
    if tests is not None:
        if not base.program.control_group:
            raise SimInputError(
                f"--tests {tests}: the scenario holds no one back (program.control_group is 0), "
                "so its plan cannot be compared with a holdout"
            )
        cells = read_test_result(tests, options)
    months = None
    if program is not None:
        months = read_program_figures(program, options, start=start, days=base.horizon_days)
    observed = Observed(report_days(read.rows, start), cells, months)
    statistics = Statistics.of(observed, base.horizon_days, block_days or BLOCK_DAYS)
    if not statistics.names:
        raise SimInputError(f"{read.source}: no delivered messages to fit")
    settings = {
        "members": particle.population.size,
        "particles": particles or fitting.PARTICLES,
        "generations": generations or fitting.GENERATIONS,
        "block_days": statistics.block_days,
        "seed": seed,
        "start": start.isoformat(),
    }
    # The database of a fit part-way is named by everything that decides the fit, so a run
    # with other inputs never goes on from it.
    digest = hashlib.sha256()
    for part in (scenario_hash(base), json.dumps(settings, sort_keys=True), repr(options)):
        digest.update(part.encode())
    digest.update(json.dumps(rename or {}, sort_keys=True).encode())
    digest.update(observed.report.to_csv(index=False).encode())
    digest.update(repr(observed.cells).encode())
    if months is not None:
        digest.update(months.to_csv(index=False).encode())
    where = out_dir if out_dir is not None else Path(tempfile.gettempdir()) / "loyaltysim-fit"
    database = where.parent / f".{where.name}.fit-{digest.hexdigest()[:16]}.db"
    with executor_for(default_jobs() if jobs is None else max(1, jobs), dask) as (
        executor,
        workers,
    ):
        fit = fitting.fit_reports(
            base,
            observed,
            database,
            statistics=statistics,
            members=settings["members"],
            particles=settings["particles"],
            generations=settings["generations"],
            seed=seed,
            executor=executor,
            workers=workers,
            progress=progress,
        )
    if out_dir is not None:
        environment = build_manifest(
            base,
            scenario_path=None,
            seeds=[base.seed] * base.replications,
            wall_time_s=0.0,
            jobs=workers,
            overrides=[],
        )
        manifest = {
            "name": base.name,
            "scenario_file": None if isinstance(scenario, Scenario) else str(scenario),
            "scenario_hash": scenario_hash(base),
            "reports": read.source,
            "tests": None if tests is None else str(tests),
            "program": None if program is None else str(program),
            "history_strategy": particle.history.strategy,
            **settings,
            "workers": workers,
            "statistics": list(statistics.names),
            "candidate_seeds": "candidate j of generation t draws from numpy.random seeded "
            "with SeedSequence((0xABC5, seed, t + 1, j)).generate_state(4); t = -1 is the "
            "calibration sample from the prior",
            "notes": list(fit.notes),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "versions": environment["versions"],
            "git_commit": environment["git_commit"],
            "git_dirty": environment["git_dirty"],
            "created": environment["created"],
            # Last, so the short facts above are what a reader sees first.
            "scenario": base.model_dump(mode="json"),
        }
        with staged(out_dir, None, overwrite) as staging:
            for name, content in reports_files(fit).items():
                if isinstance(content, bytes):
                    (staging / name).write_bytes(content)
                else:
                    (staging / name).write_text(content, encoding="utf-8")
            (staging / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
    database.unlink(missing_ok=True)
    return fit
