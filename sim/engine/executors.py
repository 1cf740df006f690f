"""Where independent tasks run: worker processes on this machine or the workers of a Dask
cluster, both seen through ``concurrent.futures.Executor`` (sweeps, runs of draws and
simulation-based fits submit their tasks to one of these)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from sim.errors import SimInputError


@contextmanager
def local_executor(jobs: int) -> Iterator[Executor]:
    """``jobs`` worker processes on this machine."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        try:
            yield pool
        except BaseException:
            # Ctrl-C or an error: drop queued tasks instead of running them first.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


@contextmanager
def executor_for(jobs: int, dask: Any = None) -> Iterator[tuple[Executor | None, int]]:
    """The executor for ``jobs`` local processes (None with 1: this process) or for ``dask``
    (sim.engine.executors.dask_executor), and how many tasks it runs at once."""
    if dask is not None:
        with dask_executor(dask) as pair:
            yield pair
    elif jobs <= 1:
        yield None, 1
    else:
        with local_executor(jobs) as pool:
            yield pool, jobs


@contextmanager
def dask_executor(dask: Any) -> Iterator[tuple[Executor, int]]:
    """A concurrent.futures view of a Dask cluster (a scheduler address such as
    ``tcp://host:8786``, or a ``distributed.Client``), and its number of worker threads.
    Entering connects, so an unreachable scheduler fails before anything else."""
    try:
        from distributed import Client
    except ImportError:
        raise SimInputError(
            "--dask needs dask.distributed: pip install 'loyaltysim[dask]'"
        ) from None
    if isinstance(dask, Client):
        client, own = dask, False
    else:
        try:
            client, own = Client(dask, timeout="20s"), True
        except (OSError, TimeoutError, ValueError) as exc:
            raise SimInputError(f"--dask {dask}: cannot reach a Dask scheduler ({exc})") from None
    # Each task is new work even if its arguments repeat an earlier one: never reuse results.
    executor = client.get_executor(pure=False)
    try:
        yield executor, max(1, sum(client.nthreads().values()))
    except BaseException:
        executor.shutdown(wait=False)
        raise
    finally:
        if own:
            client.close()
