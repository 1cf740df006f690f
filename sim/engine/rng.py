"""Random streams: one SeedSequence tree per replication, one stream per model component.

Replication i of seed s is ``SeedSequence(s).spawn(n)[i]``, i.e. spawn key (i,). A side
computation that must not shift a replication's draws (the history pilot, sim.engine.history)
takes a branch of its own: the same tree under spawn key (i, *branch). Streams that
every strategy shares (purchases, spend, leaving) are drawn once per day for all strategies.
Message streams are keyed by channel, send minute and a counter, not by strategy: two strategies
sending on the same channel at the same minute see the same uniforms (common random numbers),
and no strategy's results depend on which other strategies are in the run.
"""

from __future__ import annotations

import numpy as np

COMPONENTS: tuple[str, ...] = ("population", "acquisition", "purchase", "dropout", "spend", "leave")
_MESSAGES = len(COMPONENTS)
_CONTROL = _MESSAGES + 1  # a stream of its own, so adding it changed no other draw
# The branch of the history pilot (sim.engine.history): spawn key (0, PILOT) and below.
PILOT = _CONTROL + 1


class Streams:
    def __init__(self, seed: int, replication: int, branch: tuple[int, ...] = ()) -> None:
        self.seed = seed
        self.replication = replication
        self.key = (replication, *branch)
        root = np.random.SeedSequence(seed, spawn_key=self.key)
        for name, child in zip(COMPONENTS, root.spawn(len(COMPONENTS)), strict=True):
            setattr(self, name, np.random.Generator(np.random.PCG64(child)))

    population: np.random.Generator
    acquisition: np.random.Generator
    purchase: np.random.Generator
    dropout: np.random.Generator
    spend: np.random.Generator
    leave: np.random.Generator

    @property
    def control(self) -> np.random.Generator:
        """Stream for the control-group assignment (one uniform per member)."""
        key = (*self.key, _CONTROL)
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
        )

    def message(self, channel: int, minute: int, occurrence: int) -> np.random.Generator:
        """Stream for one send: channel index, send time in minutes, n-th send at that minute."""
        key = (*self.key, _MESSAGES, channel, minute, occurrence)
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
        )
