"""Benchmarks: engine throughput and the 1,000,000-member scenario. Run with ``make bench``.

Each case runs in a fresh subprocess, as `loyaltysim run` would (all cores), so that its wall
time is its own; peak memory is the largest sum of resident memory over that process and its
workers, sampled every 0.1 s.
Prints a Markdown table to paste into docs/performance.md; ``--json FILE`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One replication, end to end as `loyaltysim run` does it (simulate, summarise, write the
# results folder), in a fresh process; then what the engine did.
_CASE = """
import json, sys, tempfile, time
import numpy as np
import sim
from sim.world.population import sample_members
from sim.engine.rng import Streams
scenario = sim.load_scenario(sys.argv[1], sys.argv[2:])
started = time.perf_counter()
results = sim.run(scenario, replications=1)  # all cores, as `loyaltysim run` does
with tempfile.TemporaryDirectory() as tmp:
    results.save(tmp + "/out")
wall = time.perf_counter() - started
# Member-days simulated: each member counts from the day it joined to the horizon.
streams = Streams(scenario.seed, 0)
joined = sample_members(
    scenario.population, scenario.horizon_days, streams.population, streams.acquisition
).join_day
sends = results.summary.filter(like="sends_").to_numpy().sum()
print(json.dumps({
    "members_start": scenario.population.size,
    "members_total": int(joined.size),
    "days": scenario.horizon_days,
    "strategies": len(scenario.strategy_names),
    "member_days": float(np.sum(scenario.horizon_days - joined)),
    "deliveries": float(sends),
    "wall_s": wall,
}))
"""


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(
                next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1]
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue  # the process ended between listing and reading
    return total / 1024


def run_case(scenario: str, overrides: list[str]) -> dict:
    """Run one replication in a child process, sampling the memory of its process tree."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CASE, scenario, *overrides],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, _tree_rss_mb(child.pid))
        time.sleep(0.1)
    out = child.stdout.read() if child.stdout else ""
    if child.returncode:
        raise SystemExit(f"{scenario} {overrides}: failed with exit code {child.returncode}")
    figures = json.loads(out)
    figures["peak_rss_mb"] = peak
    strategy_days = figures["member_days"] * figures["strategies"]
    figures["member_days_per_s"] = figures["member_days"] / figures["wall_s"]
    figures["member_strategy_days_per_s"] = strategy_days / figures["wall_s"]
    figures["deliveries_per_s"] = figures["deliveries"] / figures["wall_s"]
    return figures


CASES: list[tuple[str, str, list[str]]] = [
    (
        "bench_1m at 10,000 members",
        "scenarios/bench_1m.yaml",
        ["population.size=10000", "population.acquisition_per_day=2.4"],
    ),
    (
        "bench_1m at 100,000 members",
        "scenarios/bench_1m.yaml",
        ["population.size=100000", "population.acquisition_per_day=24"],
    ),
    ("bench_1m (1,000,000 members)", "scenarios/bench_1m.yaml", []),
]
# Linear scaling beyond the target: about 8 minutes and 10 GB on the reference machine.
LARGEST = (
    "bench_1m at 10,000,000 members",
    "scenarios/bench_1m.yaml",
    ["population.size=10000000", "population.acquisition_per_day=2400"],
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 1,000,000-member case")
    parser.add_argument("--largest", action="store_true", help="add the 10,000,000-member case")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case; the table shows the median run"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    cases = CASES[:-1] if args.quick else CASES + ([LARGEST] if args.largest else [])
    rows = []
    for label, scenario, overrides in cases:
        runs = []
        for _ in range(args.repeat):
            figures = run_case(scenario, overrides)
            print(f"{label}: {figures['wall_s']:.1f} s", file=sys.stderr)
            runs.append(figures)
        runs.sort(key=lambda r: r["wall_s"])
        figures = runs[len(runs) // 2]
        figures["case"] = label
        figures["wall_s_runs"] = [r["wall_s"] for r in runs]
        rows.append(figures)

    print(
        f"Machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {_cores()} cores\n"
    )
    print(
        "| case | members (start / all) | strategies | days | wall s | peak MB "
        "| member-days/s | member-strategy-days/s | deliveries/s | runs (wall s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['case']} | {r['members_start']:,} / {r['members_total']:,} "
            f"| {r['strategies']} | {r['days']} | {r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['member_days_per_s']:,.0f} | {r['member_strategy_days_per_s']:,.0f} "
            f"| {r['deliveries_per_s']:,.0f} "
            f"| {', '.join(f'{w:.1f}' for w in r['wall_s_runs'])} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
