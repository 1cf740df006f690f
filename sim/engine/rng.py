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
# Streams of their own, each added without changing any other draw, and drawn only when its
# mechanism is on. (replication, 7, ...) is also the reference engine's member streams
# (sim.engine.agent).
_REVIVED = _CONTROL + 1
_ENGAGEMENT = _CONTROL + 2
# The branch of the history pilot (sim.engine.history): spawn key (0, PILOT) and below.
PILOT = _CONTROL + 3
# Consent granted after joining: at purchases (one stream per replication) and by messages
# that ask (one stream per send, keyed as the send's own).
_CONSENT = _CONTROL + 4
_REQUESTS = _CONTROL + 5


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

    def _keyed(self, *key: int) -> np.random.Generator:
        """The stream of spawn key (*self.key, *key) under the scenario's seed."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(*self.key, *key))
        return np.random.Generator(np.random.PCG64(seq))

    @property
    def control(self) -> np.random.Generator:
        """Stream for the control-group assignment (one uniform per member)."""
        return self._keyed(_CONTROL)

    @property
    def engagement(self) -> np.random.Generator:
        """Stream for the members' engagement factors (one normal per member), drawn only when
        engagement is on."""
        return self._keyed(_ENGAGEMENT)

    def message(self, channel: int, minute: int, occurrence: int) -> np.random.Generator:
        """Stream for one send: channel index, send time in minutes, n-th send at that minute."""
        return self._keyed(_MESSAGES, channel, minute, occurrence)

    def revived(self, day: int) -> np.random.Generator:
        """Stream of day d's dropout draws of members lapsed at baseline whom a message
        revived (behaviour.lapse): the k-th uniform is member k's."""
        return self._keyed(_REVIVED, day)

    def consent(self, day: int) -> np.random.Generator:
        """Stream of day d's opt-ins at purchases (behaviour.consent): member k's uniforms, one
        per channel, are the k-th row, whatever the number of rows drawn."""
        return self._keyed(_CONSENT, day)

    def request(self, channel: int, minute: int, occurrence: int) -> np.random.Generator:
        """Stream for the consent request of one send (keyed as ``message``)."""
        return self._keyed(_REQUESTS, channel, minute, occurrence)


def by_member(stream: np.random.Generator, idx: np.ndarray, per_member: int = 1) -> np.ndarray:
    """Uniforms of members idx (sorted, non-empty) from ``stream``, where member k's are the
    k-th row: drawn up to the last of them, so that a member's draws do not depend on which
    other members are drawn for. Shape (len(idx),) for one per member, else (len(idx), n)."""
    rows = int(idx[-1]) + 1
    drawn = stream.random(rows if per_member == 1 else (rows, per_member))
    return drawn.take(idx, axis=0)
