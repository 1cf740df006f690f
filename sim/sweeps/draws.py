"""Draws of a scenario's uncertain values (the ``uncertain:`` block, sim.spec.uncertain).

K draws of d uncertain values: a Latin hypercube on the unit cube (one draw per stratum of 1/K
in every value), through a Gaussian copula where the block states correlations (u -> z =
Phi^-1(u), z -> L z with L L' = R, back through Phi), then each value's inverse CDF. From a file
of weighted draws (``from:``), K rows are drawn with probability proportional to their weight.
Everything depends only on the block and the seed, never on scheduling, so draw k is the same
whether it runs first, last, locally or on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.stats import qmc

from sim.engine.runner import Task, run_tasks
from sim.errors import SimInputError
from sim.io.loader import with_values
from sim.spec.scenario import Scenario
from sim.spec.uncertain import (
    BetaPrior,
    ChoicePrior,
    Distribution,
    LogNormalPrior,
    LogUniformPrior,
    NormalPrior,
    TriangularPrior,
    Uncertain,
    UniformPrior,
)

WEIGHT = "weight"  # the column of a draws file that holds each row's weight
# Entropy word that sets the draws' stream apart from the replications' seeds.
_DRAWS_STREAM = 0xD4A5


def marginal(dist: Distribution) -> Any:
    """The scipy.stats distribution of a continuous uncertain value (frozen)."""
    if isinstance(dist, UniformPrior):
        return stats.uniform(loc=dist.low, scale=dist.high - dist.low)
    if isinstance(dist, LogUniformPrior):
        return stats.loguniform(dist.low, dist.high)
    if isinstance(dist, NormalPrior):
        if dist.low is None and dist.high is None:
            return stats.norm(loc=dist.mean, scale=dist.sd)
        low = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.sd
        high = np.inf if dist.high is None else (dist.high - dist.mean) / dist.sd
        return stats.truncnorm(low, high, loc=dist.mean, scale=dist.sd)
    if isinstance(dist, LogNormalPrior):
        return stats.lognorm(s=dist.sigma, scale=dist.median)
    if isinstance(dist, BetaPrior):
        return stats.beta(dist.a, dist.b)
    if isinstance(dist, TriangularPrior):
        width = dist.high - dist.low
        return stats.triang(c=(dist.mode - dist.low) / width, loc=dist.low, scale=width)
    raise TypeError(f"{dist.dist} has no continuous marginal")


def values_at(dist: Distribution, u: np.ndarray) -> list[Any]:
    """The value of ``dist`` at each uniform u in [0, 1) (its quantile): floats, or for a
    choice the value whose equal share of [0, 1) holds u."""
    if isinstance(dist, ChoicePrior):
        index = np.minimum((u * len(dist.values)).astype(np.int64), len(dist.values) - 1)
        return [dist.values[i] for i in index]
    return [float(x) for x in marginal(dist).ppf(u)]


def unit_draws(uncertain: Uncertain, k: int, seed: int) -> np.ndarray:
    """(k, d) uniforms, one column per uncertain value in the block's order: a Latin hypercube,
    through the block's Gaussian copula when it states correlations."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, _DRAWS_STREAM)))
    u = qmc.LatinHypercube(d=len(uncertain.parameters), rng=rng).random(k)
    if uncertain.correlation:
        lower = np.linalg.cholesky(uncertain.correlation_matrix())
        u = special.ndtr(special.ndtri(u) @ lower.T)
    return u


def parameter_draws(
    uncertain: Uncertain, k: int, seed: int, base: Path | None = None
) -> pd.DataFrame:
    """K draws of the uncertain values: one row per draw, one column per dotted path. A
    ``from`` file is read relative to ``base`` (the scenario's folder)."""
    if uncertain.from_ is not None:
        path = Path(uncertain.from_)
        return weighted_draws(path if base is None else base / path, k, seed)
    u = unit_draws(uncertain, k, seed)
    columns = uncertain.parameters.items()
    return pd.DataFrame({path: values_at(dist, u[:, j]) for j, (path, dist) in enumerate(columns)})


def weighted_draws(path: Path, k: int, seed: int) -> pd.DataFrame:
    """K rows of a draws file (one column per dotted path and ``weight``), each drawn with
    probability proportional to its weight (with replacement)."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise SimInputError(f"{path}: cannot read the draws: {exc}") from None
    if WEIGHT not in table.columns:
        raise SimInputError(f"{path}: no column {WEIGHT!r} (one per dotted path, and {WEIGHT!r})")
    weight = pd.to_numeric(table[WEIGHT], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
    if bad.size:
        raise SimInputError(f"{path}: row {bad[0] + 2}: {WEIGHT} must be a number >= 0")
    if len(table.columns) == 1 or weight.sum() <= 0:
        raise SimInputError(f"{path}: needs a dotted-path column and a positive total weight")
    rng = np.random.default_rng(np.random.SeedSequence((seed, _DRAWS_STREAM)))
    rows = rng.choice(len(table), size=k, p=weight / weight.sum())
    return table.drop(columns=WEIGHT).iloc[rows].reset_index(drop=True)


def scenario_with(scenario: Scenario, values: Mapping[str, Any], label: str) -> Scenario:
    """The scenario with each dotted path set to its drawn value, validated again (an error
    names ``label``, e.g. the draw, and the path), without its uncertain block: a plain
    scenario. Where the scenario holds an integer, a drawn number takes the nearest integer."""
    drawn = with_values(scenario, values, label, nearest_integer=True)
    return drawn.model_copy(update={"uncertain": None})


def draw_seed(seed: int, draw: int) -> int:
    """Seed of draw k's replications: spawn key (DRAWS, k) under the run's seed, reduced to one
    32-bit word; apart from the replications' own keys (i,) and from every other draw."""
    key = (_DRAWS_STREAM, draw)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def run_draws(
    scenario: Scenario,
    uncertain: Uncertain,
    draws: int,
    replications: int,
    jobs: int = 1,
    base: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``replications`` replications of the scenario at each of ``draws`` draws of
    ``uncertain`` (with the scenario's seed): the draws (one row per draw, a column ``draw``
    and one per path) and the summary rows of every run (columns ``draw``, ``strategy``,
    ``replication`` and the KPIs, in draw, replication and strategy order). Within a draw
    every strategy sees the same members and random numbers (common random numbers); the
    results do not depend on ``jobs``."""
    values = parameter_draws(uncertain, draws, scenario.seed, base)
    scenarios = [
        scenario_with(scenario, values.iloc[k].to_dict(), f"draw {k}") for k in range(draws)
    ]
    names = scenario.strategy_names
    tasks: list[Task] = [
        (scenarios[k], r, draw_seed(scenario.seed, k), names, "vector")
        for k in range(draws)
        for r in range(replications)
    ]
    parts = run_tasks(tasks, jobs, 1)  # in task order: draw k's replications r at k * R + r
    summary = pd.concat(
        [
            part.summary.assign(draw=i // replications, replication=i % replications)
            for i, part in enumerate(parts)
        ],
        ignore_index=True,
    )
    first = ["draw", "strategy", "replication"]
    summary = summary[first + [c for c in summary.columns if c not in first]]
    return values.rename_axis("draw").reset_index(), summary
