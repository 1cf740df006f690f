"""Random streams: one SeedSequence tree per replication; sequential streams for what is drawn
once (the population, the joiners, the control group, engagement) and counter-based uniforms
for what is drawn per member and day or send.

Replication i of seed s is ``SeedSequence(s).spawn(n)[i]``, i.e. spawn key (i,). A side
computation that must not shift a replication's draws (the history pilot, sim.engine.history)
takes a branch of its own: the same tree under spawn key (i, *branch).

Member draws are Philox4x32-10 (sim.engine.philox) under the replication's key, at the counter
(member, stream * 16 + block, time, sub): the uniform of member k for a given purpose, day or
send is a function of those words alone. A draw is therefore made for the members it concerns
(a send's recipients, the day's buyers), never for the members before them, and a member's
uniform does not depend on which other members, or which other strategies, are drawn with it.
Message uniforms are keyed by channel, send minute and a counter, not by strategy: two
strategies sending on the same channel at the same minute see the same uniforms for the same
member (common random numbers).
"""

from __future__ import annotations

import numpy as np

from sim.engine import philox

COMPONENTS: tuple[str, ...] = ("population", "acquisition", "purchase", "dropout", "spend", "leave")
_USED = ("population", "acquisition", "leave")  # the other slots are retired: member draws below
_CONTROL = len(COMPONENTS) + 1  # 6 is retired (message streams), 7 the control group
# Streams of their own, each added without changing any other draw. (replication, 7, ...) is
# also the reference engine's member streams (sim.engine.agent).
_ENGAGEMENT = _CONTROL + 2
# The branch of the history pilot (sim.engine.history): spawn key (0, PILOT) and below.
PILOT = _CONTROL + 3
# The key of the counter-based member draws (8, 11 and 12 are retired).
_MEMBER_DRAWS = _CONTROL + 6
# The second counter word of the member draws: what the uniform is for (times 16, plus the
# block). Per day: purchases, spend, dropout, consent at purchases; per send: the message's
# own (open, exit, placement) and its consent request.
PURCHASE, SPEND, DROPOUT, CONSENT, MESSAGE, REQUEST = range(6)


class Streams:
    def __init__(self, seed: int, replication: int, branch: tuple[int, ...] = ()) -> None:
        self.seed = seed
        self.replication = replication
        self.key = (replication, *branch)
        root = np.random.SeedSequence(seed, spawn_key=self.key)
        for name, child in zip(COMPONENTS, root.spawn(len(COMPONENTS)), strict=True):
            if name in _USED:
                setattr(self, name, np.random.Generator(np.random.PCG64(child)))
        draws = np.random.SeedSequence(seed, spawn_key=(*self.key, _MEMBER_DRAWS))
        self.member_key = draws.generate_state(2, np.uint32)  # of the member draws (philox)

    population: np.random.Generator
    acquisition: np.random.Generator
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

    def uniforms(
        self, purpose: int, time: int, members: np.ndarray, rows: int = 1, sub: int = 0
    ) -> np.ndarray:
        """Uniforms (rows, len(members)) of members (int, below 2^32) for ``purpose`` (PURCHASE,
        ...) at ``time`` (a day, or a send's minute) and ``sub`` (a send's channel and count):
        column j is member members[j]'s, whatever the other members."""
        idx = np.asarray(members, dtype=np.int64)
        return philox.uniforms(self.member_key, purpose, time, sub, idx, rows)
