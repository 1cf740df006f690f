"""A pyabc sampler whose particles depend only on the seed, never on the workers.

pyabc's parallel samplers seed their workers at random, so two runs of one fit differ. Here
candidate j of generation t draws everything (its parameters from the proposal, the seed of
its simulation) from NumPy's global generator seeded with the key (seed, t, j), and the
generation keeps the first n accepted candidates in the order of j, as pyabc's ordered
samplers do to avoid favouring fast simulations. Candidates are evaluated in rounds on an
executor (this process, local worker processes or a Dask cluster); a round may evaluate
candidates beyond the n-th accepted one, which are then dropped, so the number of workers and
the size of the rounds change the time a generation takes, never its particles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import cloudpickle
import numpy as np
from pyabc.sampler import Sampler

# The key's first word sets these streams apart from every other stream of the package.
STREAM = 0xABC5
# Candidates per task sent to a worker: enough to make pickling the proposal negligible.
_PER_TASK = 8
# Rounds never exceed this many times the particles still needed (a low acceptance rate
# estimated from few candidates must not launch a huge round).
_MAX_ROUND = 8

# (generation, accepted, wanted, evaluated, seconds since the generation began)
Progress = Callable[[int, int, int, int, float], None]


def candidate_seed(seed: int, t: int, j: int) -> np.ndarray:
    """The words that seed candidate j of generation t (t = -1 for pyabc's calibration
    sample from the prior)."""
    return np.random.SeedSequence((STREAM, seed, t + 1, j)).generate_state(4)


def _evaluate(payload: bytes, seed: int, t: int, first: int, count: int) -> list[Any]:
    """Candidates first .. first + count - 1 of generation t, each seeded by its key."""
    simulate_one = cloudpickle.loads(payload)
    out = []
    for j in range(first, first + count):
        np.random.seed(candidate_seed(seed, t, j))
        out.append(simulate_one())
    return out


class OrderedSampler(Sampler):
    """Deterministic ABC-SMC sampling on ``executor`` (None: this process) with ``workers``
    parallel slots; ``progress`` is told each round's standing."""

    def __init__(
        self,
        seed: int,
        executor: Executor | None = None,
        workers: int = 1,
        progress: Progress | None = None,
    ) -> None:
        super().__init__()
        self.seed = seed
        self.executor = executor
        self.workers = max(1, workers)
        self.progress = progress
        self._rate = 0.5  # acceptance rate guessed for the next generation's first round

    def sample_until_n_accepted(
        self,
        n: int,
        simulate_one: Callable[[], Any],
        t: int,
        *,
        max_eval: float = np.inf,
        all_accepted: bool = False,
        ana_vars: Any = None,
    ) -> Any:
        began = time.perf_counter()
        payload = cloudpickle.dumps(simulate_one)
        sample = self._create_empty_sample()
        accepted = evaluated = 0
        rate = 1.0 if all_accepted else self._rate
        while accepted < n and evaluated < max_eval:
            wanted = n - accepted
            size = math.ceil(wanted / max(rate, 1.0 / _MAX_ROUND))
            size = max(size, self.workers * _PER_TASK)
            for particle in self._round(payload, t, evaluated, size):
                if accepted == n or evaluated >= max_eval:
                    break
                sample.append(particle)
                evaluated += 1
                accepted += bool(particle.accepted)
            rate = max(accepted, 1) / evaluated
            if self.progress is not None:
                self.progress(t, accepted, n, evaluated, time.perf_counter() - began)
        if not all_accepted:
            self._rate = rate
        self.nr_evaluations_ = evaluated
        if accepted < n:
            sample.ok = False
        return sample

    def _round(self, payload: bytes, t: int, first: int, size: int) -> list[Any]:
        """Candidates first .. first + size - 1, in order."""
        if self.executor is None:
            return _evaluate(payload, self.seed, t, first, size)
        starts = range(first, first + size, _PER_TASK)
        futures = [
            self.executor.submit(
                _evaluate, payload, self.seed, t, j, min(_PER_TASK, first + size - j)
            )
            for j in starts
        ]
        return [particle for future in futures for particle in future.result()]
