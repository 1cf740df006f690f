"""The vectorised engine against the per-member reference engine: member-days per second.

One run measures both engines on scenarios/bench_1m.yaml (the demo program, 730 days, 4
strategies including silent), one replication in this process each: the vectorised engine at
20,000 members, the reference engine at two smaller sizes. Throughput is member-days per CPU
second of this process, which other load on the machine disturbs less than wall time (both are
printed). The reference engine's cost is linear in members when its throughput is the same at
both sizes; the ratio then uses the higher of its two throughputs, which favours it.

Run: ``.venv/bin/python benchmarks/engines.py`` (about two minutes). Prints a Markdown table
for docs/engines.md; ``--json FILE`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import sim
from sim.engine.agent import run_replication_agent
from sim.engine.replication import ReplicationResult, build_context, run_replication
from sim.io.reading import read_yaml_mapping
from sim.spec.merge import deep_merge
from sim.spec.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "bench_1m.yaml"
CORE = read_yaml_mapping(ROOT / "scenarios" / "parts" / "core_behaviour.yaml")
# bench_1m.yaml has 240 joiners a day for 1,000,000 members: keep that proportion.
JOINERS_PER_MEMBER_DAY = 240 / 1_000_000
VECTOR_MEMBERS = 20_000
REFERENCE_MEMBERS = (1_000, 2_000)
# Throughputs at the two reference sizes within this share of each other count as linear.
LINEAR_WITHIN = 0.15

Engine = Callable[[Scenario, int, int], ReplicationResult]


def scenario(members: int) -> Scenario:
    """bench_1m.yaml at ``members`` in the core model (scenarios/parts/core_behaviour.yaml),
    which the reference engine implements, so that both engines simulate the same model."""
    sc = sim.load_scenario(
        SCENARIO,
        [
            f"population.size={members}",
            f"population.acquisition_per_day={members * JOINERS_PER_MEMBER_DAY}",
        ],
    )
    data = sc.model_dump()
    data["behaviour"] = deep_merge(data["behaviour"], CORE, null_removes=False)
    return Scenario.model_validate(data)


def measure(engine: Engine, label: str, members: int) -> dict:
    """One replication of ``engine``: wall and CPU time, member-days per CPU second."""
    sc = scenario(members)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = engine(sc, 0, sc.seed)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # Each member counts from the day it joined to the horizon.
    joined = build_context(sc, 0, sc.seed).state.members.join_day
    member_days = float(np.sum(sc.horizon_days - joined))
    print(f"{label} at {members:,} members: {wall:.1f} s ({cpu:.1f} s CPU)", file=sys.stderr)
    return {
        "engine": label,
        "members_start": members,
        "members_total": int(joined.size),
        "days": sc.horizon_days,
        "strategies": len(sc.strategy_names),
        "deliveries": float(result.summary.filter(like="sends_").to_numpy().sum()),
        "wall_s": wall,
        "cpu_s": cpu,
        "member_days": member_days,
        "member_days_per_s": member_days / cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    rows = [measure(run_replication, "vector", VECTOR_MEMBERS)]
    rows += [measure(run_replication_agent, "agent", n) for n in REFERENCE_MEMBERS]

    vector, small, large = rows
    spread = abs(large["member_days_per_s"] / small["member_days_per_s"] - 1)
    linear = spread <= LINEAR_WITHIN
    agent_rate = max(small["member_days_per_s"], large["member_days_per_s"])
    ratio = vector["member_days_per_s"] / agent_rate

    print(
        f"Machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, NumPy {np.__version__}; one core per engine\n"
    )
    print(
        "| engine | members (start / all) | days | strategies | deliveries | wall s | CPU s "
        "| member-days per CPU s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['engine']} | {r['members_start']:,} / {r['members_total']:,} | {r['days']} "
            f"| {r['strategies']} | {r['deliveries']:,.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} "
            f"| {r['member_days_per_s']:,.0f} |"
        )
    print(
        f"\nReference throughput at {small['members_start']:,} and {large['members_start']:,} "
        f"members differs by {spread:.1%}: "
        + ("linear in members" if linear else "NOT linear: the extrapolation does not hold")
    )
    print(f"Ratio vector / agent (member-days per CPU second): {ratio:,.0f}")
    if args.json:
        summary = {"rows": rows, "linear_spread": spread, "ratio": ratio}
        args.json.write_text(json.dumps(summary, indent=2))
    if not linear:
        sys.exit(1)


if __name__ == "__main__":
    main()
