"""Benchmark: how far a sharded run is from the unsharded one, and how long each takes.

Runs the Nordic retail scenario (20,000 members by default, its 730 days and strategies) with
``shards=1`` and ``shards=K`` on all cores, same seed and replications, and prints, for the main
KPIs of every strategy, both means and the sharded minus unsharded difference with its Welch 95%
interval, as a Markdown table for docs/performance.md. Run with
``python benchmarks/shards.py [--size N] [--replications R] [--shards K]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from scipy import stats

import sim

ROOT = Path(__file__).resolve().parents[1]
KPIS = (
    "clv_per_member",
    "retention_rate",
    "revenue",
    "satisfaction_index",
    "reachable_email",
    "open_rate_email",
    "inbox_placement",
    "complaint_rate",
)


def timed_run(scenario: sim.Scenario, shards: int) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    results = sim.run(scenario, shards=shards)
    return results.summary, time.perf_counter() - started


def compare(plain: pd.DataFrame, sharded: pd.DataFrame, names: list[str]) -> list[str]:
    """Markdown rows: strategy, KPI, means, difference and its Welch 95% interval."""
    rows = []
    for strategy in names:
        a = sharded[sharded["strategy"] == strategy]
        b = plain[plain["strategy"] == strategy]
        for kpi in KPIS:
            x, y = a[kpi].dropna(), b[kpi].dropna()
            if x.empty or y.empty:
                continue
            diff = x.mean() - y.mean()
            if x.std() == 0 and y.std() == 0:
                interval = "(no variation)"
            else:
                low, high = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
                interval = f"[{low:.4g}, {high:.4g}]"
            rows.append(
                f"| {strategy} | {kpi} | {y.mean():.5g} | {x.mean():.5g} | {diff:.4g} | "
                f"{diff / y.mean():+.2%} | {interval} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    acquisition = 12 * args.size / 50_000  # the demo's rate, scaled with the members
    scenario = sim.load_scenario(
        ROOT / "scenarios" / "nordic_retail.yaml",
        [
            f"population.size={args.size}",
            f"population.acquisition_per_day={acquisition}",
            f"replications={args.replications}",
        ],
    )
    plain, plain_s = timed_run(scenario, 1)
    sharded, sharded_s = timed_run(scenario, args.shards)
    print(
        f"nordic_retail at {args.size:,} members, {scenario.horizon_days} days, "
        f"{args.replications} replications, all cores: unsharded {plain_s:.1f} s, "
        f"{args.shards} shards {sharded_s:.1f} s\n"
    )
    print("| strategy | KPI | unsharded | sharded | difference | relative | 95% CI of difference |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(compare(plain, sharded, scenario.strategy_names)))


if __name__ == "__main__":
    main()
