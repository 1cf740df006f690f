"""Running points: the point function, and one loop that feeds it to this process, to local
worker processes or to a Dask cluster, with a bounded number of points in flight.

A point is ``run_summaries(point scenario, R, point seed)``: its replications run
one after another inside one worker, with common random numbers across strategies, exactly
as ``loyaltysim run`` would run that scenario. Points are distributed, never replications,
so the results cannot depend on the executor or the number of jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

import pandas as pd

from sim.engine.executors import executor_for
from sim.engine.runner import run_summaries
from sim.errors import SimInputError
from sim.io.loader import apply_overrides, scenario_from_dict
from sim.strategies.compiled import compile_strategies
from sim.sweeps.design import Value

# Points in flight per worker: enough to keep every worker busy while results are written,
# few enough that pending results never pile up in memory.
_IN_FLIGHT_PER_WORKER = 2


class SweepAborted(RuntimeError):
    """The executor itself failed (e.g. a worker process was killed); finished points are kept."""


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one point; small and picklable."""

    point: int
    names: tuple[str, ...]  # parameter (column) names
    values: tuple[Value, ...]
    overrides: tuple[str, ...]  # PATH=VALUE for every scenario value the parameters set
    seed: int
    replications: int
    base: dict[str, Any]  # the resolved base scenario as plain data
    source: str  # names the point in error messages
    allow_plugins: bool = False  # a point's plug-in policy runs only if the user allowed it
    index: str = "point"  # the column that numbers the tasks: "point", or "draw"


@dataclass(frozen=True)
class PointResult:
    point: int
    rows: pd.DataFrame | None  # point (or draw), parameters, strategy, replication, seed, KPIs
    error: str | None  # why the point failed (then rows is None)
    seconds: float


def run_point(task: PointTask) -> PointResult:
    """Run one point's replications; an invalid scenario or any error becomes a failed point."""
    started = time.perf_counter()
    try:
        data = apply_overrides(task.base, task.overrides, task.source)
        data.update(seed=task.seed, replications=task.replications)
        scenario = scenario_from_dict(data, task.source)
        compile_strategies(scenario, task.source, allow_plugins=task.allow_plugins)
        rows = run_summaries(scenario, task.replications, task.seed)
    # Any error is this point's alone: record it and let the other points finish.
    except Exception as exc:
        return PointResult(
            task.point, None, _one_line(exc, task.source), time.perf_counter() - started
        )
    for i, (name, value) in enumerate(zip(task.names, task.values, strict=True)):
        rows.insert(i, name, value)
    rows.insert(0, task.index, task.point)
    return PointResult(task.point, rows, None, time.perf_counter() - started)


def _one_line(exc: Exception, source: str) -> str:
    """The error as one line for points.csv, without the point's name (its row says it)."""
    if isinstance(exc, SimInputError):
        return "; ".join(line.removeprefix(f"{source}: ") for line in exc.problems)
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class PointRunner:
    """Runs points on one executor; ``description`` names it for the manifest."""

    def __init__(self, executor: Executor | None, window: int, description: str) -> None:
        self.executor = executor  # None: in this process
        self.window = window
        self.description = description

    def run(self, tasks: Iterable[PointTask], on_result: Callable[[PointResult], None]) -> None:
        """Run every task and pass each result to ``on_result`` as it arrives (in any order)."""
        if self.executor is None:
            for task in tasks:
                on_result(run_point(task))
        else:
            _feed(self.executor, iter(tasks), self.window, on_result)


@contextmanager
def point_runner(*, jobs: int, dask: Any = None) -> Iterator[PointRunner]:
    """``jobs`` local processes (1: this process), or with ``dask`` (a scheduler address such
    as ``tcp://host:8786``, or a ``distributed.Client``) the workers of a Dask cluster.

    Entering connects to the cluster, so an unreachable scheduler fails before anything else.
    """
    with executor_for(jobs, dask) as (executor, workers):
        if dask is not None:
            description = f"dask, {workers} worker threads at start"
        else:
            description = f"local, {workers} process{'es' if workers > 1 else ''}"
        yield PointRunner(executor, workers * _IN_FLIGHT_PER_WORKER, description)


def _feed(
    executor: Executor,
    tasks: Iterator[PointTask],
    window: int,
    on_result: Callable[[PointResult], None],
) -> None:
    """Keep ``window`` points submitted; as each finishes, hand it on and submit the next."""
    running: dict[Future, int] = {}

    def submit(batch: Iterable[PointTask]) -> None:
        for task in batch:
            running[executor.submit(run_point, task)] = task.point

    submit(islice(tasks, max(window, 1)))
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            point = running.pop(future)
            on_result(_result(future, point))
            submit(islice(tasks, 1))


def _result(future: Future, point: int) -> PointResult:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise SweepAborted(f"a worker process stopped unexpectedly ({exc})") from None
    # run_point catches its own errors, so this is the executor's, e.g. a Dask worker lost
    # repeatedly while running this point: the point failed, the others go on.
    except Exception as exc:
        return PointResult(point, None, f"{type(exc).__name__}: {exc}", 0.0)
