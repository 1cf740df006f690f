"""The machine's side of the engine's floor (docs/performance.md, "How far from the floor"):
memory bandwidth and the member draws' generator throughput, on one core, now.

The floor of a run is the memory traffic and the uniforms the model cannot avoid, counted from
the run, divided by these rates. This machine's speed varies by the hour, so the rates are
measured in the same sitting as the run they are set against.

Run: ``python benchmarks/floor.py`` from the repository's root (about ten seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sim.engine import philox

# 256 MB of float64: far larger than the caches, as a 1,000,000-member run's arrays are.
VALUES = 32_000_000
# Members of bench_1m.yaml's replication (starting members and joiners), for the draws.
MEMBERS = 1_200_000
REPEAT = 7


def _best(work: Callable[[], object]) -> float:
    """The shortest of REPEAT timings of ``work``, seconds."""
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    a = np.random.default_rng(0).random(VALUES)
    b = np.empty_like(a)
    moved = 2 * a.nbytes  # read and written
    copy = moved / _best(lambda: np.copyto(b, a)) / 1e9
    scale = moved / _best(lambda: np.multiply(a, 1.0, out=a)) / 1e9
    key, members = np.array([1, 2], dtype=np.uint32), np.arange(MEMBERS, dtype=np.int64)
    philox.uniforms(key, 0, 0, 0, members, 2)  # compiled (or loaded from the cache) first
    counter = _best(lambda: philox.uniforms(key, 0, 1, 0, members, 2)) / (2 * MEMBERS) * 1e9
    rng = np.random.default_rng(1)
    pcg = _best(lambda: rng.random(2 * MEMBERS)) / (2 * MEMBERS) * 1e9
    print("| measure | one core |")
    print("| --- | --- |")
    print(f"| copy of 256 MB (bytes read and written per second) | {copy:.1f} GB/s |")
    print(f"| in-place scale of 256 MB | {scale:.1f} GB/s |")
    print(f"| member draws (Philox4x32-10, sim.engine.philox) | {counter:.2f} ns a uniform |")
    print(f"| NumPy's PCG64 (Generator.random) | {pcg:.2f} ns a uniform |")


if __name__ == "__main__":
    main()
