"""Replications in parallel processes. Results are ordered by replication, never by finishing
time, so they are identical whatever the number of jobs."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import NamedTuple

import pandas as pd

from sim.engine.replication import ReplicationResult, run_replication
from sim.io.scenario import Scenario


class Tables(NamedTuple):
    """The tidy tables of a run, rows in replication order."""

    summary: pd.DataFrame  # strategy x replication
    timeseries: pd.DataFrame  # strategy x replication x week
    pressure: pd.DataFrame  # strategy x replication x pressure bin


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    jobs: int,
    on_progress: Callable[[int], None] | None = None,
) -> Tables:
    """Run replications 0..n-1 of ``seed``; return their tables in replication order.

    ``on_progress(k)`` reports k more simulated days (replications x horizon in all): day by
    day in this process, a whole replication at a time from worker processes.
    """
    results: dict[int, ReplicationResult] = {}
    if jobs <= 1 or replications == 1:
        for i in range(replications):
            results[i] = run_replication(scenario, i, seed, on_progress)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, replications)) as pool:
            futures = {
                pool.submit(run_replication, scenario, i, seed): i for i in range(replications)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_progress:
                    on_progress(scenario.horizon_days)
    ordered = [results[i] for i in range(replications)]
    return Tables(
        *(
            pd.concat([getattr(r, name) for r in ordered], ignore_index=True)
            for name in Tables._fields
        )
    )
