"""Optional sinks for what happens in a replication, for users who want more than the KPIs.

A sink is attached to a replication's context (``build_context(..., sink=...)``); the daily
step hands it every member-day with purchases. Without one the engine does no extra work.
``PurchaseLog`` records each strategy's purchases as a transaction log (member, day, amount),
the input ``loyaltysim calibrate`` reads. The vector engine only: the reference engine
(sim.engine.agent) has no sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd


class PurchaseSink(Protocol):
    """Receives the purchases of one day; arrays are the engine's own, to be copied if kept.

    members: member indices (0 .. size - 1 the starting members, then joiners in join order);
    counts: purchases of each member that day; amounts: their net spend that day, currency.
    """

    def baseline(self, day: int, members: np.ndarray, counts: np.ndarray) -> None:
        """Baseline purchases (rate multiplier 1) of active members, on which lapse runs
        (docs/model.md, section 3), capped on the lapse day at the last purchase."""

    def purchases(
        self, s: int, day: int, members: np.ndarray, counts: np.ndarray, amounts: np.ndarray
    ) -> None:
        """Purchases of strategy ``s`` (its index in the context) by members in the program."""


class PurchaseLog:
    """Every purchase of each strategy in one replication (the baseline is not recorded).

    Memory: about 20 bytes per member-day with purchases and strategy.
    """

    def __init__(self, strategies: Sequence[str]) -> None:
        self.strategies = list(strategies)
        self._days: list[list[np.ndarray]] = [[] for _ in self.strategies]
        self._members: list[list[np.ndarray]] = [[] for _ in self.strategies]
        self._counts: list[list[np.ndarray]] = [[] for _ in self.strategies]
        self._amounts: list[list[np.ndarray]] = [[] for _ in self.strategies]

    def baseline(self, day: int, members: np.ndarray, counts: np.ndarray) -> None:
        """Not a strategy's purchases: not recorded."""

    def purchases(
        self, s: int, day: int, members: np.ndarray, counts: np.ndarray, amounts: np.ndarray
    ) -> None:
        self._days[s].append(np.full(members.size, day, dtype=np.int32))
        self._members[s].append(members.astype(np.int64))
        self._counts[s].append(counts.astype(np.int32))
        self._amounts[s].append(amounts.astype(np.float64))

    def transactions(self, strategy: str) -> pd.DataFrame:
        """One row per purchase of ``strategy``: ``member_id``, ``day`` (0 = the first day of
        the run), ``amount`` (net, currency), ordered by day and member. Purchases of a member
        on one day share one basket (docs/model.md, section 3): each gets an equal part of the
        day's spend."""
        s = self.strategies.index(strategy)
        columns = (self._days[s], self._members[s], self._counts[s], self._amounts[s])
        day, member, count, amount = (
            np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
            for parts, dtype in zip(
                columns, (np.int32, np.int64, np.int32, np.float64), strict=True
            )
        )
        order = np.lexsort((member, day))
        count = count[order]
        return pd.DataFrame(
            {
                "member_id": np.repeat(member[order], count),
                "day": np.repeat(day[order], count),
                "amount": np.repeat(amount[order] / np.maximum(count, 1), count),
            }
        )
