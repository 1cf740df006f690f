"""Counters of one replication: totals per strategy and flows per strategy and week."""

from __future__ import annotations

import numpy as np

from sim.spec.fields import CHANNELS
from sim.spec.kpis import KPIS, SERIES

# Totals kept per strategy and channel.
PER_CHANNEL: tuple[str, ...] = (
    "sends",
    "inbox",
    "opens",
    "clicks",
    "exits",
    "complaints",
    "recaptures",
)
# Totals kept per strategy: the tallied KPIs, and what other KPIs are computed from.
TOTALS: tuple[str, ...] = (
    *(kpi.name for kpi in KPIS.values() if kpi.tallied),
    "gross_margin",
    "clv_margin",
    "leavers",
    "winbacks",  # lapsed members a message made active again (behaviour.lapse)
    "contact_lapses",  # active members a message made lapse (behaviour.lapse)
    # Over the final window (clv_with_terminal), of starting members: the margin of purchases
    # and breakage, that of their baseline purchases while in the program, message costs,
    # member-days reachable on some channel; with messages acting on lapse, the day-to-day
    # changes of reachability of members in the program with the member-days exposed to them.
    "window_margin",
    "window_baseline",
    "window_cost",
    "window_reachable_days",
    "window_reachability_lost",
    "window_reachability_gained",
    "window_reachable_exposed",
    "window_unreachable_exposed",
)
# Flows kept per strategy and week: the tallied weekly series.
WEEKLY: tuple[str, ...] = tuple(series.name for series in SERIES.values() if series.tallied)


class Tally:
    def __init__(self, n_strategies: int, n_weeks: int) -> None:
        self.channel = {k: np.zeros((n_strategies, len(CHANNELS))) for k in PER_CHANNEL}
        self.total = {k: np.zeros(n_strategies) for k in TOTALS}
        # Points are integers so that the ledger balances exactly.
        for k in ("points_issued", "points_redeemed", "points_expired"):
            self.total[k] = np.zeros(n_strategies, dtype=np.int64)
        self.weekly = {k: np.zeros((n_strategies, n_weeks)) for k in WEEKLY}
