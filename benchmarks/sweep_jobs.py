"""Benchmark: a sweep on 2 local processes against 1. Target: at least 1.7 times faster.

Runs the same sweep (the Nordic retail scenario, 4,000 members, one year, 8 points x 2
replications) with ``jobs=1`` and ``jobs=2``, checks that both give the same bytes, and prints
the wall times and the speed-up. Run with ``python benchmarks/sweep_jobs.py [--points N]``.
On Linux it also reports the CPU time other processes took during each case: a speed-up
measured on a busy machine says little about the sweep.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from sim.sweeps.api import run_sweep

ROOT = Path(__file__).resolve().parents[1]


def definition(points: int) -> dict:
    """A grid over the email unsubscribe rate; every point costs about the same."""
    rates = [round(0.001 + 0.0005 * k, 6) for k in range(points)]
    return {
        "base": str(ROOT / "scenarios" / "nordic_retail.yaml"),
        "set": {"population.size": 4000, "horizon_days": 365},
        "replications": 2,
        "design": {"kind": "grid"},
        "parameters": {"channels.email.exit": {"values": rates}},
    }


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy since boot (Linux), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def _own_seconds() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def timed(jobs: int, points: int, out: Path) -> tuple[float, str]:
    """Wall time of the sweep, and a note of the CPU time other processes took meanwhile."""
    busy, own = _busy_seconds(), _own_seconds()
    started = time.perf_counter()
    run_sweep(definition(points), jobs=jobs, out=out)
    wall = time.perf_counter() - started
    after = _busy_seconds()
    if busy is None or after is None:
        return wall, ""
    others = after - busy - (_own_seconds() - own)
    return wall, f" (other processes: {max(others, 0.0):.1f} CPU s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=8, help="points in the sweep [8]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (one, one_note), (two, two_note) = (
            timed(jobs, args.points, Path(tmp) / f"jobs{jobs}") for jobs in (1, 2)
        )
        same = all(
            (Path(tmp) / "jobs1" / name).read_bytes() == (Path(tmp) / "jobs2" / name).read_bytes()
            for name in ("sweep.csv", "points.csv")
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores available")
    print(f"sweep: {args.points} points x 2 replications, nordic_retail at 4,000 members, 365 days")
    print(f"jobs=1: {one:.2f} s{one_note}")
    print(f"jobs=2: {two:.2f} s{two_note}")
    print(f"speed-up: {one / two:.2f}x (target 1.7x); identical output: {same}")


if __name__ == "__main__":
    main()
