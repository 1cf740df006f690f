"""Very large populations: one scenario's members split into shards that run as separate tasks
and are merged KPI by KPI.

Shard k of K is the scenario with its share of ``population.size`` (sizes differ by at most
one and sum to the original) and ``acquisition_per_day / K``. Shard k of replication i runs as
replication i of seed ``shard_seed(seed, i, k)``. The merge is exact for counts and money, and
rates and means are recomputed from the merged counts with their own denominators (each KPI's
``merge`` in the registry, ``sim.spec.kpis``).

What is approximate: sender reputation is computed per shard (each shard has its own
complaint-rate window and hence its own inbox placement), and each shard draws its own random
numbers, so a sharded run is a different sample of the same model, not the same sample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sim.engine.replication import ReplicationResult
from sim.engine.runner import Tables, Task, merge_results, run_tasks
from sim.spec.kpis import INBOX, KPIS, REACHABLE, SERIES, SETTLED, SUM, Kpi, Mean, Merge, Sum
from sim.spec.scenario import Scenario


def _rules(registry: dict[str, Kpi]) -> dict[str, Merge]:
    return {name: kpi.merge for name, kpi in registry.items()}


# How each column merges, from the registry: KPIs of the summary, weekly series.
RULES: dict[str, Merge] = _rules(KPIS)
SERIES_RULES: dict[str, Merge] = _rules(SERIES)


def shard_sizes(size: int, shards: int) -> list[int]:
    """Members per shard: as even as possible, the first ``size % shards`` one larger."""
    base, extra = divmod(size, shards)
    return [base + (k < extra) for k in range(shards)]


def shard_scenario(scenario: Scenario, size: int, shards: int) -> Scenario:
    """The scenario of one shard: ``size`` members and 1/shards of the acquisition."""
    population = scenario.population.model_copy(
        update={
            "size": size,
            "acquisition_per_day": scenario.population.acquisition_per_day / shards,
        }
    )
    return scenario.model_copy(update={"population": population})


def shard_seed(seed: int, replication: int, shard: int) -> int:
    """Seed of shard k of replication i: spawn key (i, 1000 + k) under the run's seed, apart
    from the keys (i,) of unsharded replications and (i, 0..) of their streams."""
    key = (replication, 1000 + shard)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def run_sharded(
    scenario: Scenario,
    replications: int,
    seed: int,
    jobs: int,
    shards: int,
    on_progress: Callable[[int], None] | None = None,
) -> Tables:
    """Run every (replication, shard) as a task on ``jobs`` processes, merge each
    replication's shards and return the tables of an unsharded run (same columns and order,
    ``seed`` = the run's seed). Results do not depend on ``jobs``."""
    scenarios = [
        shard_scenario(scenario, n, shards) for n in shard_sizes(scenario.population.size, shards)
    ]
    names = scenario.strategy_names
    tasks: list[Task] = [
        (scenarios[k], i, shard_seed(seed, i, k), names, "vector")
        for i in range(replications)
        for k in range(shards)
    ]
    results = run_tasks(tasks, jobs, shards, on_progress)
    merged = [
        merge_shards(results[i * shards : (i + 1) * shards], seed) for i in range(replications)
    ]
    return merge_results(merged, names)


def merge_shards(parts: list[ReplicationResult], seed: int) -> ReplicationResult:
    """One replication's shards merged into one result, strategy by strategy (rules above)."""
    first = parts[0]
    summary = pd.concat([_helpers(p) for p in parts], ignore_index=True)
    merged_summary = _apply(summary, ["strategy"], RULES, first.summary)
    # Members per tier (tier_<name>, as many as the program has tiers) add up over shards.
    tiers = [c for c in first.timeseries.columns if c.startswith("tier_")]
    series_rules = {**SERIES_RULES, **dict.fromkeys(tiers, SUM)}
    merged_summary["seed"] = seed
    series = pd.concat([p.timeseries for p in parts], ignore_index=True)
    pressure = pd.concat([p.pressure for p in parts], ignore_index=True)
    bins = ["strategy", "pressure_from", "pressure_to"]
    return ReplicationResult(
        summary=merged_summary,
        timeseries=_apply(series, ["strategy", "week"], series_rules, first.timeseries),
        pressure=_apply(pressure, bins, {"members": SUM}, first.pressure),
    )


def _helpers(part: ReplicationResult) -> pd.DataFrame:
    """The shard's summary with the counts that rates and means need: emails placed in the
    inbox, points settled (redeemed or expired) and members reachable on some channel at the
    horizon (the pressure histogram counts exactly those)."""
    s = part.summary
    inbox = np.rint(s["inbox_placement"].fillna(0.0) * s["sends_email"])
    reachable = part.pressure.groupby("strategy", sort=False)["members"].sum()
    return s.assign(
        **{
            INBOX: inbox,
            SETTLED: s["points_redeemed"] + s["points_expired"],
            REACHABLE: s["strategy"].map(reachable),
        }
    )


def _apply(
    table: pd.DataFrame, keys: list[str], rules: dict[str, Merge], like: pd.DataFrame
) -> pd.DataFrame:
    """Merge the rows of ``table`` that share ``keys`` by ``rules``; other columns (the
    replication) are taken from the first shard. Columns, row order and dtypes of ``like``."""
    rows = []
    for _, group in table.groupby(keys, sort=False):
        row = group.iloc[0].to_dict()
        for name, rule in rules.items():
            row[name] = _combine(group, name, rule)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(like.columns)).astype(like.dtypes.to_dict())


def _combine(group: pd.DataFrame, name: str, rule: Merge) -> float:
    if isinstance(rule, Sum):
        return group[name].sum()
    if isinstance(rule, Mean):
        # A shard whose mean is over nobody (weight 0) has a NaN mean and contributes nothing.
        weight = group[rule.weight]
        counted = weight > 0
        total = weight[counted].sum()
        return (
            float((group[name][counted] * weight[counted]).sum() / total) if total else float("nan")
        )
    # Rates and estimates are recomputed from the summed counts they are derived from.
    return rule.derive({count: group[count].sum() for count in rule.inputs})
