"""Optional sinks for what happens in a replication, for users who want more than the KPIs.

Sinks are attached to a replication's context (``build_context(..., sink=..., send_sink=...)``):
the daily step hands a ``PurchaseSink`` every member-day with purchases; a ``SendSink`` is
told the members, then every send with its outcomes and every opt-in after joining. Without
them the engine does no extra work. ``PurchaseLog`` records each strategy's purchases as a
transaction log (member, day, amount), the input ``loyaltysim calibrate`` reads; an
``EventLog`` (``run --events``, written by sim.io.eventlog_write) is both sinks at once. The
vector engine only: the reference engine (sim.engine.agent) has no sink.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from sim.spec.fields import CHANNELS, REPORT_COUNTS


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


class SendSink(Protocol):
    """Receives the members, each send and each opt-in after joining; arrays are the engine's
    own, to be copied if kept. Times are days from the start of the run; channels index
    ``sim.spec.fields.CHANNELS``; ``s`` is the strategy's index in the context."""

    def members(
        self,
        join_day: np.ndarray,
        opt_in: np.ndarray,
        segment: np.ndarray,
        segments: Sequence[str],
        control: np.ndarray | None,
    ) -> None:
        """Every member of the replication, once, before the clock starts: join days (0 for
        the starting members), opt-ins at joining (channel, member), segment indices into
        ``segments``, and the control-group mask (None without a control group)."""

    def sends(
        self,
        s: int,
        t: float,
        channel: int,
        campaign: str,
        members: np.ndarray,
        relevance: np.ndarray,
        delivered: np.ndarray,
        opened: np.ndarray,
        clicked: np.ndarray,
        exited: np.ndarray,
        complained: np.ndarray,
    ) -> None:
        """One send of campaign (or journey) ``campaign`` at t to ``members`` (sorted), each
        counted as a send; per member the relevance of the message and whether it reached
        the inbox (always on SMS and push), was opened, clicked, ended in an exit from the
        channel or in a complaint (all False where it was not delivered)."""

    def opt_ins(self, s: int, t: float, channel: int, members: np.ndarray) -> None:
        """Members who opted in to ``channel`` at t (at a purchase or by re-permission)."""


class EventLog(PurchaseSink, SendSink, Protocol):
    """Everything of one replication's strategies as events, closed when the run ends."""

    def close(self) -> None:
        """Write what is left; called once, also when the replication failed."""


class EventLogFactory(Protocol):
    """Makes the event log of one replication's strategies in the process that simulates
    them: a picklable value sent to worker processes instead of open files."""

    def __call__(self, replication: int, strategies: Sequence[str]) -> EventLog: ...


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


class CampaignCounts:
    """A campaign report of one strategy kept in memory, as the platform would export it: per
    campaign, channel and send day, the messages sent, delivered, opened and clicked, the
    exits (complaints included) and the complaints. For simulation-based fits, which need
    the report of thousands of replications and no member-level log.

    Memory: one row per campaign send, whatever the members.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int, int], np.ndarray] = {}

    def members(self, *_: object) -> None:
        """Not needed: a report has no members."""

    def opt_ins(self, s: int, t: float, channel: int, members: np.ndarray) -> None:
        """Not in a report."""

    def sends(
        self,
        s: int,
        t: float,
        channel: int,
        campaign: str,
        members: np.ndarray,
        relevance: np.ndarray,
        delivered: np.ndarray,
        opened: np.ndarray,
        clicked: np.ndarray,
        exited: np.ndarray,
        complained: np.ndarray,
    ) -> None:
        counts = np.array(
            [
                members.size,
                np.count_nonzero(delivered),
                np.count_nonzero(opened),
                np.count_nonzero(clicked),
                np.count_nonzero(exited),
                np.count_nonzero(complained),
            ],
            dtype=np.int64,
        )
        key = (campaign, channel, math.floor(t))
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = counts
        else:
            row += counts

    def table(self) -> pd.DataFrame:
        """One row per campaign, channel (its index in CHANNELS) and ``day`` (whole days from
        the start of the run), with the counts as int64; sorted by day, channel name and
        campaign, as sim.io.reports.campaign_report sorts a log's report."""
        keys = sorted(self._rows, key=lambda k: (k[2], CHANNELS[k[1]], k[0]))
        counts = np.array([self._rows[k] for k in keys], dtype=np.int64)
        counts = counts.reshape(-1, len(REPORT_COUNTS))
        frame = pd.DataFrame(
            {
                "campaign": [k[0] for k in keys],
                "channel": np.array([k[1] for k in keys], dtype=np.int8),
                "day": np.array([k[2] for k in keys], dtype=np.int64),
            }
        )
        for i, name in enumerate(REPORT_COUNTS):
            frame[name] = counts[:, i]
        return frame
