"""Counters of one replication: totals per strategy and flows per strategy and week."""

from __future__ import annotations

import numpy as np

from sim.spec.fields import CHANNELS

# Totals kept per strategy and channel.
PER_CHANNEL: tuple[str, ...] = ("sends", "inbox", "opens", "clicks", "exits", "complaints")
# Totals kept per strategy.
TOTALS: tuple[str, ...] = (
    "purchases",
    "revenue",
    "attributed_revenue",
    "message_cost",
    "discount_cost",
    "reward_cost",
    "gross_margin",
    "clv_margin",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "leavers",
    "points_driven_revenue",
    "tier_upgrades",
    "tier_downgrades",
    "offers_met",
    "offer_points",
    "offers_missed",
    "skipped_suppressed",
    "skipped_quiet_hours",
    "skipped_cooldown",
    "skipped_capped",
    "held_quiet_hours",
    "journey_sends",
    "control_revenue",
)
# Flows kept per strategy and week.
WEEKLY: tuple[str, ...] = ("sends", "exits", "purchases", "revenue", "attributed_revenue")


class Tally:
    def __init__(self, n_strategies: int, n_weeks: int) -> None:
        self.channel = {k: np.zeros((n_strategies, len(CHANNELS))) for k in PER_CHANNEL}
        self.total = {k: np.zeros(n_strategies) for k in TOTALS}
        # Points are integers so that the ledger balances exactly.
        for k in ("points_issued", "points_redeemed", "points_expired"):
            self.total[k] = np.zeros(n_strategies, dtype=np.int64)
        self.weekly = {k: np.zeros((n_strategies, n_weeks)) for k in WEEKLY}
