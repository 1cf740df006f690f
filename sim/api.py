"""The Python API: load a scenario, run it, get DataFrames. The command line is a thin layer
over these functions, and they work the same in a notebook."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.decision import decision_table, evpi, evppi_table
from sim.analysis.summary import UPPER_BOUND, differing_kpis, format_ranking, rank, summarise
from sim.engine.agent import unsupported
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
from sim.io.loader import load_scenario, with_values
from sim.io.manifest import build_manifest, run_identity
from sim.io.results import check_target, write_results
from sim.io.target import exclusive
from sim.spec.kpis import KPI_NAMES, OUTCOMES
from sim.spec.scenario import Scenario
from sim.strategies.compiled import compile_strategies
from sim.sweeps.draws import run_draws


@dataclass(frozen=True)
class Results:
    """The outcome of a run: tidy tables plus the manifest that makes it reproducible."""

    scenario: Scenario
    summary: pd.DataFrame  # one row per strategy x replication
    strategies: pd.DataFrame  # one row per strategy: means, 95% CIs, differences to silent
    timeseries: pd.DataFrame  # one row per strategy x replication x week
    pressure: pd.DataFrame  # reachable members per pressure bin at the horizon
    manifest: dict

    def ranking(self) -> pd.DataFrame:
        """Strategies best first by the scenario's objective."""
        objective = self.scenario.objective
        return rank(self.strategies, objective.kpi, objective.sense)

    def report(self, n_differing: int = 5) -> str:
        """The ranking as text, with the KPIs on which the strategies differ most."""
        differing = differing_kpis(self.summary, OUTCOMES, n=n_differing)
        return format_ranking(
            self.ranking(), self.scenario.objective.kpi, self.scenario.currency, differing
        )

    def save(self, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write summary, strategies, timeseries and pressure CSVs and manifest.json,
        atomically."""
        return write_results(
            Path(out_dir),
            summary=self.summary,
            strategies=self.strategies,
            timeseries=self.timeseries,
            pressure=self.pressure,
            manifest=self.manifest,
            overwrite=overwrite,
        )


def updated(scenario: Scenario, changes: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """A copy of ``scenario`` with the values at dotted paths (``population.size``) replaced,
    validated as a file would be: a bad value raises SimInputError naming its field path."""
    return with_values(scenario, changes, source)


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
    allow_plugins: bool = False,
    out: str | Path | None = None,
    overwrite: bool = False,
    check_memory: bool = True,
) -> Results:
    """Run every strategy of a scenario over its replications.

    ``scenario`` is a validated Scenario or a path to a YAML file (``overrides`` apply to a
    path only, as ``PATH=VALUE`` strings). ``replications`` and ``seed`` replace the
    scenario's own; ``jobs`` defaults to all cores. Same scenario and seed give identical
    results whatever ``jobs`` is. ``on_progress(k)`` reports k more simulated days out of
    replications x horizon_days. ``engine`` is ``vector`` (default) or ``agent``, the
    per-member reference engine (slow; docs/engines.md). ``shards`` > 1 splits the members
    into that many shards run as separate tasks and merged (``sim.engine.shards``: an
    approximation, see docs/performance.md). A plug-in policy (Python code the scenario names)
    runs only with ``allow_plugins``; without it the run is refused before anything runs.
    ``out`` also writes the results folder (``Results.save``), holding it from the start: a
    second run into the same folder, or a folder of other results (unless ``overwrite``), is
    refused before anything runs. A run whose estimated memory exceeds this machine's is
    refused unless ``check_memory`` is False (``--no-memory-check``).
    """
    path: str | None = None
    if not isinstance(scenario, Scenario):
        path = str(scenario)
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        raise ValueError("overrides apply to a scenario file; edit the Scenario object instead")
    compile_strategies(scenario, path or "<scenario>", allow_plugins=allow_plugins)
    for option, key, value in (
        ("--replications", "replications", replications),
        ("--seed", "seed", seed),
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
    jobs = default_jobs() if jobs is None else max(1, jobs)
    if check_memory:
        _refuse_beyond_memory(scenario, jobs, shards)
    if out is None:
        return _compute(scenario, path, jobs, shards, engine, overrides, on_progress)
    # Held from before the computation: a second run into ``out`` is refused at once, and so
    # is a folder of other results, before any time is spent.
    with exclusive(Path(out)):
        check_target(Path(out), run_identity(scenario, shards, engine), overwrite)
        results = _compute(scenario, path, jobs, shards, engine, overrides, on_progress)
        results.save(out, overwrite=overwrite)
    return results


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
) -> Results:
    """Run a checked scenario and gather its tables and manifest."""
    started = time.perf_counter()
    # Estimated here, before any worker starts: the workers reuse the factors (or estimate the
    # same ones), and the manifest records them.
    history = None if scenario.history is None else history_factors(scenario, scenario.seed)
    if shards == 1:
        tables = run_replications(
            scenario, scenario.replications, scenario.seed, jobs, on_progress, engine
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
    manifest["seed_scheme"] = "replication i uses numpy SeedSequence(seed).spawn(replications)[i]"
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


@dataclass
class Decision:
    """The choice among a scenario's strategies when its uncertain values are drawn from their
    priors (docs/uncertainty.md): per strategy the expected objective, its 95% range over the
    draws, P(best), P(beats silent) and the expected loss; EVPI; and per uncertain value its
    EVPPI, largest first."""

    scenario: Scenario
    decision: pd.DataFrame  # one row per strategy, best expected first (DECISION_COLUMNS)
    evppi: pd.DataFrame  # one row per numeric uncertain value (EVPPI_COLUMNS)
    evpi: float
    draws: pd.DataFrame  # one row per draw and strategy: drawn values, the objective's mean


def decide(
    scenario: Scenario | str | Path,
    *,
    draws: int,
    replications: int = 1,
    jobs: int | None = None,
    overrides: Sequence[str] = (),
) -> Decision:
    """Run ``replications`` replications at each of ``draws`` draws of the scenario's
    ``uncertain:`` block and summarise the choice (``Decision``). The objective of each draw
    is the mean over its replications; for an objective minimised the net benefit is its
    negative, so P(best) and expected loss always favour the better choice. Same scenario and
    seed give identical results whatever ``jobs`` is."""
    path: Path | None = None
    if not isinstance(scenario, Scenario):
        path = Path(scenario)
        scenario = load_scenario(scenario, overrides)
    if scenario.uncertain is None:
        raise SimInputError(
            f"{path or '<scenario>'}: uncertain: no uncertain values to draw; add a block, e.g. "
            "uncertain: {include: parts/priors.yaml} (the shipped priors)"
        )
    compile_strategies(scenario, str(path or "<scenario>"), allow_plugins=False)
    values, summary = run_draws(
        scenario,
        scenario.uncertain,
        draws,
        replications,
        jobs or default_jobs(),
        None if path is None else path.parent,
    )
    kpi, sign = scenario.objective.kpi, 1.0 if scenario.objective.sense == "max" else -1.0
    means = summary.groupby(["draw", "strategy"], sort=False)[kpi].mean()
    benefit = sign * means.unstack("strategy")[scenario.strategy_names]
    table = decision_table(benefit)
    if sign < 0:  # back in the KPI's own terms: the 95% range flips
        table["expected"], table["low"], table["high"] = (
            -table["expected"],
            -table["high"],
            -table["low"],
        )
    parameters = values.drop(columns="draw")
    per_draw = means.rename(kpi).reset_index().merge(values, on="draw")
    return Decision(
        scenario=scenario,
        decision=table,
        evppi=evppi_table(benefit, parameters),
        evpi=evpi(benefit),
        draws=per_draw,
    )
