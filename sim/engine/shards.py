"""Very large populations: one scenario's members split into shards that run as separate tasks
and are merged KPI by KPI.

Shard k of K is the scenario with its share of ``population.size`` (sizes differ by at most
one and sum to the original) and ``acquisition_per_day / K``. Shard k of replication i runs as
replication i of seed ``shard_seed(seed, i, k)``. The merge is exact for counts and money, and
rates and means are recomputed from the merged counts with their own denominators (``RULES``).

What is approximate: sender reputation is computed per shard (each shard has its own
complaint-rate window and hence its own inbox placement), and each shard draws its own random
numbers, so a sharded run is a different sample of the same model, not the same sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.engine.replication import ReplicationResult
from sim.engine.runner import Tables, Task, merge_results, run_tasks
from sim.spec.kpis import KPI_NAMES, SERIES_NAMES, measured_incremental
from sim.spec.scenario import Scenario


@dataclass(frozen=True)
class Sum:
    """Counts and money: the run's value is the sum over shards."""


@dataclass(frozen=True)
class Ratio:
    """A rate: merged numerator over merged denominator (NaN when the denominator is 0)."""

    num: str
    den: str


@dataclass(frozen=True)
class Mean:
    """A mean over members: shards weighted by how many members the mean is over."""

    weight: str


@dataclass(frozen=True)
class AgainstSilent:
    """Filled in after the merge against the merged silent strategy (``runner.against_silent``)."""


@dataclass(frozen=True)
class ControlEstimate:
    """Recomputed from the merged revenue and control-group sums (kpis.measured_incremental)."""


Rule = Sum | Ratio | Mean | AgainstSilent | ControlEstimate

# Columns the rules need that the summary does not have, derived per shard by ``_helpers``.
INBOX, SETTLED, REACHABLE = "_inbox", "_settled", "_reachable"

_SUM = Sum()
RULES: dict[str, Rule] = {
    **{name: _SUM for name in ("members_start", "members_joined", "members_end", "active_end")},
    "retention_rate": Mean("members_start"),
    "program_churn": Mean("members_start"),
    **{f"reachable_{c}": Mean("members_end") for c in ("email", "sms", "push")},
    **{
        f"{kind}_{c}": _SUM
        for kind in ("sends", "opens", "clicks", "exits")
        for c in ("email", "sms", "push")
    },
    "complaints_email": _SUM,
    "open_rate_email": Ratio("opens_email", "sends_email"),
    "click_rate_email": Ratio("clicks_email", "sends_email"),
    "unsubscribe_rate_email": Ratio("exits_email", "sends_email"),
    "complaint_rate": Ratio("complaints_email", INBOX),
    "optout_rate_sms": Ratio("exits_sms", "sends_sms"),
    "inbox_placement": Ratio(INBOX, "sends_email"),
    "pressure_mean": Mean(REACHABLE),
    "satisfaction_index": Mean("members_end"),
    "satisfaction_below_60": Mean("members_end"),
    "satisfaction_time_effort": Mean("members_end"),
    "satisfaction_personalisation": Mean("members_end"),
    "satisfaction_reward": Mean("members_end"),
    "satisfaction_expectations": Mean("members_end"),
    "purchases": _SUM,
    "revenue": _SUM,
    "incremental_revenue": AgainstSilent(),
    "attributed_revenue": _SUM,
    "message_cost": _SUM,
    "discount_cost": _SUM,
    "reward_cost": _SUM,
    "margin": _SUM,
    # clv_per_member is discounted margin per starting member: the weighted mean is exact.
    "clv_per_member": Mean("members_start"),
    "points_opening": _SUM,
    "points_issued": _SUM,
    "offer_points": _SUM,
    "points_redeemed": _SUM,
    "points_expired": _SUM,
    "points_outstanding": _SUM,
    "breakage_rate": Ratio("points_expired", SETTLED),
    "liability": _SUM,
    "points_driven_revenue": _SUM,
    # Each shard keeps its own ledger, so its estimate of redemptions to come is the shard's.
    **{k: _SUM for k in ("deferred_revenue", "points_revenue_recognised", "contract_liability")},
    **{k: _SUM for k in ("tier_upgrades", "tier_downgrades", "offers_met", "offers_missed")},
    **{k: _SUM for k in ("journey_sends", "held_quiet_hours", "sunset_end")},
    **{f"skipped_{k}": _SUM for k in ("suppressed", "quiet_hours", "cooldown", "capped")},
    **{k: _SUM for k in ("control_members", "control_revenue")},
    "incremental_revenue_measured": ControlEstimate(),
}
assert set(RULES) == set(KPI_NAMES), "every KPI needs a merge rule"

# Weekly series. The weekly rows carry no count of members reachable on any channel nor of
# emails sent, so the weekly pressure mean is weighted by members in the program and the
# weekly inbox placement by members reachable by email: close, not exact.
SERIES_RULES: dict[str, Rule] = {
    **{name: _SUM for name in ("members", "active", "reachable_email", "reachable_sms")},
    "reachable_push": _SUM,
    "satisfaction_index": Mean("members"),
    "pressure_mean": Mean("members"),
    "inbox_placement": Mean("reachable_email"),
    **{name: _SUM for name in ("sends", "exits", "purchases", "revenue", "attributed_revenue")},
}
assert set(SERIES_RULES) == set(SERIES_NAMES), "every weekly series needs a merge rule"


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
    series_rules = {**SERIES_RULES, **dict.fromkeys(tiers, _SUM)}
    merged_summary["seed"] = seed
    series = pd.concat([p.timeseries for p in parts], ignore_index=True)
    pressure = pd.concat([p.pressure for p in parts], ignore_index=True)
    bins = ["strategy", "pressure_from", "pressure_to"]
    return ReplicationResult(
        summary=merged_summary,
        timeseries=_apply(series, ["strategy", "week"], series_rules, first.timeseries),
        pressure=_apply(pressure, bins, {"members": _SUM}, first.pressure),
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
    table: pd.DataFrame, keys: list[str], rules: dict[str, Rule], like: pd.DataFrame
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


def _combine(group: pd.DataFrame, name: str, rule: Rule) -> float:
    if isinstance(rule, Sum):
        return group[name].sum()
    if isinstance(rule, Ratio):
        den = group[rule.den].sum()
        return float(group[rule.num].sum() / den) if den else float("nan")
    if isinstance(rule, Mean):
        # A shard whose mean is over nobody (weight 0) has a NaN mean and contributes nothing.
        weight = group[rule.weight]
        counted = weight > 0
        total = weight[counted].sum()
        return (
            float((group[name][counted] * weight[counted]).sum() / total) if total else float("nan")
        )
    if isinstance(rule, ControlEstimate):
        members = group["members_start"].sum() + group["members_joined"].sum()
        return measured_incremental(
            group["revenue"].sum(),
            group["control_revenue"].sum(),
            members,
            group["control_members"].sum(),
        )
    return float("nan")
