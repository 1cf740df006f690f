"""Random streams: one SeedSequence tree per replication, one stream per model component.

Replication i of seed s is ``SeedSequence(s).spawn(n)[i]``, i.e. spawn key (i,). Streams that
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
# Consent granted after joining: at purchases (one stream per replication) and by messages
# that ask (one stream per send, keyed as the send's own). Streams of their own, drawn only
# when consent can change, so that the mechanism switched off changes no draw.
_CONSENT = _MESSAGES + 2
_REQUESTS = _MESSAGES + 3


class Streams:
    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        root = np.random.SeedSequence(seed, spawn_key=(replication,))
        for name, child in zip(COMPONENTS, root.spawn(len(COMPONENTS)), strict=True):
            setattr(self, name, np.random.Generator(np.random.PCG64(child)))
        self.consent = self._generator(_CONSENT)

    population: np.random.Generator
    acquisition: np.random.Generator
    purchase: np.random.Generator
    dropout: np.random.Generator
    spend: np.random.Generator
    leave: np.random.Generator
    consent: np.random.Generator  # opt-ins at purchases: uniforms per candidate buyer and day

    def _generator(self, *key: int) -> np.random.Generator:
        """A stream of its own under this replication: spawn key (replication, *key)."""
        sequence = np.random.SeedSequence(self.seed, spawn_key=(self.replication, *key))
        return np.random.Generator(np.random.PCG64(sequence))

    @property
    def control(self) -> np.random.Generator:
        """Stream for the control-group assignment (one uniform per member)."""
        return self._generator(_CONTROL)

    def message(self, channel: int, minute: int, occurrence: int) -> np.random.Generator:
        """Stream for one send: channel index, send time in minutes, n-th send at that minute."""
        return self._generator(_MESSAGES, channel, minute, occurrence)

    def request(self, channel: int, minute: int, occurrence: int) -> np.random.Generator:
        """Stream for the consent request of one send (keyed as ``message``)."""
        return self._generator(_REQUESTS, channel, minute, occurrence)
