"""Replications in parallel processes. Results are ordered by replication, never by finishing
time, so they are identical whatever the number of jobs."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import closing
from multiprocessing.sharedctypes import Synchronized
from typing import NamedTuple

import pandas as pd

from sim.engine.agent import run_replication_agent
from sim.engine.events import EventLogFactory
from sim.engine.replication import Progress, ReplicationResult, run_replication, run_summary
from sim.spec.kpis import KPIS, AgainstSilent
from sim.spec.scenario import Scenario
from sim.spec.strategy import SILENT
from sim.strategies.compiled import compile_strategy


class Tables(NamedTuple):
    """The tidy tables of a run, rows in replication order."""

    summary: pd.DataFrame  # strategy x replication
    timeseries: pd.DataFrame  # strategy x replication x week
    pressure: pd.DataFrame  # strategy x replication x pressure bin


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# A run's peak memory, from the measurements of docs/performance.md (0.42 GB at 100,000
# members, 1.05 GB at 1,000,000 and 7.05 GB at 10,000,000, four strategies in two processes):
# a fixed part for the Python processes, and per member in each process the member's own
# arrays plus those of each strategy the process simulates.
MEMORY_FIXED_BYTES = 350e6
MEMORY_MEMBER_BYTES = 120.0
MEMORY_MEMBER_STRATEGY_BYTES = 110.0


def memory_estimate(scenario: Scenario, replications: int, jobs: int) -> float:
    """Bytes a run of ``replications`` in ``jobs`` processes needs at its peak (about):
    every member who ever joins is held from the start."""
    members = scenario.population.size + scenario.population.acquisition_per_day * (
        scenario.horizon_days
    )
    groups = strategy_groups(scenario, max(1, jobs // replications))
    processes = min(max(1, jobs), replications * len(groups))
    largest = max(len(group) for group in groups)
    per_task = members * (MEMORY_MEMBER_BYTES + MEMORY_MEMBER_STRATEGY_BYTES * largest)
    return MEMORY_FIXED_BYTES + processes * per_task


def machine_memory() -> float | None:
    """Bytes of physical memory of this machine, or None where the system does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    jobs: int,
    on_progress: Callable[[int], None] | None = None,
    engine: str = "vector",
    events: EventLogFactory | None = None,
) -> Tables:
    """Run replications 0..n-1 of ``seed``; return their tables in replication order.

    ``engine`` is ``vector`` (the default) or ``agent``, the per-member reference engine.
    With more jobs than replications, each replication's strategies are split into groups
    that run in separate processes (results are the same: see ``run_replication``).
    ``on_progress(k)`` reports k more simulated days (replications x horizon in all), from
    this process or, every half second, from the workers. ``events`` (vector engine only)
    makes the event log of each replication's strategies where they are simulated.
    """
    groups = strategy_groups(scenario, max(1, jobs // replications))
    tasks = [(scenario, i, seed, group, engine) for i in range(replications) for group in groups]
    parts = run_tasks(tasks, jobs, len(groups), on_progress, events)
    return merge_results(parts, scenario.strategy_names)


def run_summaries(scenario: Scenario, replications: int, seed: int) -> pd.DataFrame:
    """``run_replications(scenario, replications, seed, jobs=1).summary``, in this process,
    without the tables a point of a sweep or a run of draws does not keep."""
    parts = [run_summary(scenario, i, seed) for i in range(replications)]
    return against_silent(pd.concat(parts, ignore_index=True))


# The engines: the same signature, the same tables.
ENGINES: dict[str, Callable[..., ReplicationResult]] = {
    "vector": run_replication,
    "agent": run_replication_agent,
}

# One unit of work: (scenario, replication, seed, strategies, engine).
Task = tuple[Scenario, int, int, list[str], str]


def run_tasks(
    tasks: list[Task],
    jobs: int,
    split: int,
    on_progress: Callable[[int], None] | None = None,
    events: EventLogFactory | None = None,
) -> list[ReplicationResult]:
    """Run tasks in this process (one job or one task) or in a process pool; results in task
    order. Progress is days of whole replications: a replication split into ``split`` tasks
    counts each of its days once in ``split``. ``events``: as in ``run_replications``."""
    if jobs <= 1 or len(tasks) == 1:
        days = 0

        def count(n: int) -> None:
            nonlocal days
            days += n
            if on_progress and days % split == 0:
                on_progress(1)

        step = on_progress if split == 1 else (count if on_progress else None)
        return [run_task(task, step, events) for task in tasks]
    # Workers count the days they simulate in shared memory.
    counter = multiprocessing.get_context().Value("q", 0)
    reported = 0
    parts: dict[int, ReplicationResult] = {}
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)), initializer=_share_counter, initargs=(counter,)
    ) as pool:
        futures = {pool.submit(_run_task, task, events): k for k, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                parts[futures[future]] = future.result()
            if on_progress:
                now = counter.value // split
                on_progress(now - reported)
                reported = now
    return [parts[k] for k in range(len(tasks))]


_days_done: Synchronized | None = None


def _share_counter(counter: Synchronized) -> None:
    global _days_done
    _days_done = counter


def _count_day(days: int) -> None:
    assert _days_done is not None
    with _days_done.get_lock():
        _days_done.value += days


def run_task(task: Task, on_day: Progress, events: EventLogFactory | None) -> ReplicationResult:
    """One replication's group of strategies; with ``events``, their event log is made here
    (in the process that simulates them) and closed when the task ends, also on failure."""
    scenario, replication, seed, group, engine = task
    if events is None:
        return ENGINES[engine](scenario, replication, seed, on_day, group)
    if engine != "vector":
        raise ValueError(f"the {engine} engine writes no event log")
    with closing(events(replication, group)) as log:
        return run_replication(scenario, replication, seed, on_day, group, log, log)


def _run_task(task: Task, events: EventLogFactory | None) -> ReplicationResult:
    """``run_task`` in a worker process, counting its days."""
    return run_task(task, _count_day, events)


def strategy_groups(scenario: Scenario, n: int) -> list[list[str]]:
    """Split the strategies into at most n groups of similar work, in strategy order within
    each: every strategy costs a day step, plus its sends (campaigns per day)."""
    names = scenario.strategy_names
    n = min(n, len(names))
    if n <= 1:
        return [names]

    per_day = {name: compile_strategy(scenario, name).sends_per_day for name in names}

    def work(name: str) -> float:
        return 1.0 + 4.0 * per_day[name]  # a send costs about as much as a few day steps

    loads = [0.0] * n
    members: list[list[str]] = [[] for _ in range(n)]
    for name in sorted(names, key=work, reverse=True):  # longest first, to the lightest group
        k = loads.index(min(loads))
        members[k].append(name)
        loads[k] += work(name)
    order = {name: i for i, name in enumerate(names)}
    return [sorted(group, key=order.__getitem__) for group in members if group]


def merge_results(parts: list[ReplicationResult], names: list[str]) -> Tables:
    """Concatenate per-task results into the canonical order (replication, strategy order;
    weekly rows by replication, week, strategy) and compute the KPIs against silent."""
    order = {name: i for i, name in enumerate(names)}

    def concat(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
        table = pd.concat(frames, ignore_index=True)
        rank = table["strategy"].map(order)
        table = table.assign(_rank=rank).sort_values([*keys, "_rank"], kind="stable")
        return table.drop(columns="_rank").reset_index(drop=True)

    return Tables(
        summary=against_silent(concat([p.summary for p in parts], ["replication"])),
        timeseries=concat([p.timeseries for p in parts], ["replication", "week"]),
        pressure=concat([p.pressure for p in parts], ["replication"]),
    )


def against_silent(summary: pd.DataFrame) -> pd.DataFrame:
    """Fill in, in place, the KPIs defined against silent (``AgainstSilent`` in the registry,
    e.g. ``incremental_revenue``): the KPI minus silent's in the same replication. The one
    place they are computed; ``summary`` holds every strategy of its replications."""
    silent = summary[summary["strategy"] == SILENT].set_index("replication")
    for kpi in KPIS.values():
        if isinstance(kpi.merge, AgainstSilent):
            of = kpi.merge.kpi
            summary[kpi.name] = summary[of] - summary["replication"].map(silent[of])
    return summary
