"""Draws of a scenario's uncertain values (the ``uncertain:`` block, sim.spec.uncertain).

K draws of d uncertain values: a Latin hypercube on the unit cube (one draw per stratum of 1/K
in every value), through a Gaussian copula where the block states correlations (u -> z =
Phi^-1(u), z -> L z with L L' = R, back through Phi), then each value's inverse CDF. From a file
of weighted draws (``from:``), K rows are drawn with probability proportional to their weight.
Everything depends only on the block and the seed, never on scheduling, so draw k is the same
whether it runs first, last, locally or on a cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy.stats import qmc

from sim.errors import SimInputError
from sim.io.manifest import scenario_hash
from sim.io.results import (
    DECISION,
    DRAW,
    DRAWS_TABLE,
    EVPPI,
    REPLICATIONS,
    at_csv_digits,
    read_table,
)
from sim.spec.scenario import Scenario
from sim.spec.uncertain import (
    ChoicePrior,
    Distribution,
    Uncertain,
    marginal,
)
from sim.sweeps.execute import PointResult, PointRunner, PointTask
from sim.sweeps.spec import override, package_version
from sim.sweeps.store import Layout, Store

WEIGHT = "weight"  # the column of a draws file that holds each row's weight
# Entropy word that sets the draws' stream apart from the replications' seeds.
DRAWS_STREAM = 0xD4A5
# Drawn numbers keep the 10 significant digits the files write (%.10g).
_DIGITS = 10

# The folder of a run of draws (``loyaltysim run --draws``).
DRAWS = Layout(
    "draws run",
    DRAW,
    REPLICATIONS,
    (REPLICATIONS, DRAWS_TABLE, DECISION, EVPPI),
    "the scenario, its uncertain values, the draws, replications or the loyaltysim version",
)


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
    rng = np.random.default_rng(np.random.SeedSequence((seed, DRAWS_STREAM)))
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
    rng = np.random.default_rng(np.random.SeedSequence((seed, DRAWS_STREAM)))
    rows = rng.choice(len(table), size=k, p=weight / weight.sum())
    return table.drop(columns=WEIGHT).iloc[rows].reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A drawn value as a Python number (YAML writes numpy scalars as objects)."""
    return value.item() if isinstance(value, np.generic) else value


def scenario_with(scenario: Scenario, values: Mapping[str, Any], label: str) -> Scenario:
    """The scenario with each dotted path set to its drawn value, validated again (an error
    names ``label``, e.g. the draw, and the path), without its uncertain block: a plain
    scenario. Where the scenario holds an integer, a drawn number takes the nearest integer."""
    return scenario.with_overrides(values, label, nearest_integer=True, plain=True)


def as_run(values: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """The draws as they run: a number drawn for a value the scenario holds as an integer takes
    the nearest integer, and every other number its first 10 significant digits (the digits
    the files hold), so draws.csv holds exactly the values that ran."""
    resolved = scenario.model_dump()
    out = values.copy()
    for path in values.columns:
        node: Any = resolved
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        column = values[path]
        if not pd.api.types.is_float_dtype(column):
            continue
        if isinstance(node, int) and not isinstance(node, bool):
            out[path] = column.round().astype(np.int64)
        else:
            out[path] = [float(f"{v:.{_DIGITS}g}") for v in column]
    return out


def check_draws(scenario: Scenario, values: pd.DataFrame, origin: str) -> None:
    """Validate the scenario at every draw before any runs: SimInputError naming each draw
    whose values the scenario cannot take (``ORIGIN: draw k: field.path: reason``; ``origin``
    is where the values come from, the scenario or its draws file)."""
    problems: list[str] = []
    for k, row in enumerate(values.to_dict("records")):
        try:
            scenario_with(scenario, row, f"{origin}: draw {k}")
        except SimInputError as exc:
            problems += exc.problems
    if problems:
        raise SimInputError(problems, origin)


def draw_seed(seed: int, draw: int) -> int:
    """Seed of draw k's replications: spawn key (DRAWS, k) under the run's seed, reduced to one
    32-bit word; apart from the replications' own keys (i,) and from every other draw."""
    key = (DRAWS_STREAM, draw)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def draws_identity(scenario: Scenario, values: pd.DataFrame, replications: int) -> str:
    """What decides a run of draws, as a hash: the scenario (with its priors), the drawn values
    (which also cover a ``from`` file's content), the replications and the package version."""
    parts = [scenario_hash(scenario), values.to_csv(index=False), str(replications)]
    text = "\n".join([*parts, str(package_version())])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DrawFailed(RuntimeError):
    """A draw failed while it ran (its values were checked before): the finished draws are
    kept in the results folder's parts, and a resumed run tries the failed ones again."""


def run_draws(
    scenario: Scenario,
    values: pd.DataFrame,
    replications: int,
    runner: PointRunner,
    store: Store | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    allow_plugins: bool = False,
) -> pd.DataFrame:
    """Run ``replications`` replications of the scenario at each draw (a row of ``values``,
    one column per dotted path, as ``as_run`` gives them) on ``runner``: the summary rows of
    every run (columns ``draw``, ``strategy``, ``replication``, ``seed`` and the KPIs) in draw,
    replication and strategy order. Draw k's replications use ``draw_seed(seed, k)``, and
    within a draw every strategy sees the same members and random numbers (common random
    numbers), so the rows do not depend on the runner. With a ``store`` each finished draw is
    written as a part file and draws already there are not run again (resume); the rows are
    then read back from the parts, their numbers at the digits a CSV part holds whatever the
    store's format, so the decision computed from them is the same in either format.
    ``progress(done, failed, to run)`` follows the draws run by this call."""
    base = scenario.model_dump(mode="json", exclude={"uncertain"})
    todo = [k for k in range(len(values)) if store is None or not store.is_done(k)]
    finished: dict[int, pd.DataFrame] = {}
    failed: dict[int, str] = {}
    done = 0

    def on_result(result: PointResult) -> None:
        nonlocal done
        done += 1
        if result.rows is None:
            failed[result.point] = result.error or "unknown error"
            if store is not None:
                store.write_error(result.point, failed[result.point])
        elif store is not None:
            store.write_part(result.point, result.rows)
        else:
            finished[result.point] = result.rows
        if progress is not None:
            progress(done, len(failed), len(todo))

    def task(k: int) -> PointTask:
        row = values.iloc[k].to_dict()
        return PointTask(
            point=k,
            names=(),
            values=(),
            overrides=tuple(override(path, _plain(value)) for path, value in row.items()),
            seed=draw_seed(scenario.seed, k),
            replications=replications,
            base=base,
            source=f"draw {k}",
            allow_plugins=allow_plugins,
            index="draw",
        )

    if progress is not None:
        progress(0, 0, len(todo))
    runner.run((task(k) for k in todo), on_result)
    if failed:
        k = min(failed)
        raise DrawFailed(f"{len(failed)} of {len(todo)} draws failed; draw {k}: {failed[k]}")
    if store is not None:
        finished = {k: at_csv_digits(read_table(store.part(k))) for k in range(len(values))}
    return pd.concat([finished[k] for k in range(len(values))], ignore_index=True)
