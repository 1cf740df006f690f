"""KPI names, units and meaning: one place that summary.csv, the docs and the schema share."""

from __future__ import annotations

# name -> (unit, meaning). Order is the column order of summary.csv.
KPIS: dict[str, tuple[str, str]] = {
    "members_start": ("members", "members in the program at day 0"),
    "members_joined": ("members", "members who joined during the horizon"),
    "members_end": ("members", "members still in the program at the horizon"),
    "active_end": ("members", "members in the program and still purchasing (not lapsed)"),
    "retention_rate": (
        "fraction",
        "starting members still in the program and active at the horizon",
    ),
    "program_churn": ("fraction", "starting members who left the program"),
    "reachable_email": ("fraction", "members in the program at the horizon reachable by email"),
    "reachable_sms": ("fraction", "members in the program at the horizon reachable by SMS"),
    "reachable_push": ("fraction", "members in the program at the horizon reachable by push"),
    "sends_email": ("messages", "email deliveries attempted"),
    "sends_sms": ("messages", "SMS deliveries"),
    "sends_push": ("messages", "push deliveries"),
    "opens_email": ("messages", "emails opened"),
    "opens_sms": ("messages", "SMS read"),
    "opens_push": ("messages", "push notifications opened"),
    "clicks_email": ("messages", "emails clicked"),
    "clicks_sms": ("messages", "SMS links clicked"),
    "clicks_push": ("messages", "push notifications clicked through"),
    "exits_email": ("members", "email unsubscribes, spam complaints included"),
    "exits_sms": ("members", "SMS STOP replies"),
    "exits_push": ("members", "push notifications disabled"),
    "complaints_email": ("members", "spam complaints"),
    "open_rate_email": ("fraction", "opens per email sent"),
    "click_rate_email": ("fraction", "clicks per email sent"),
    "unsubscribe_rate_email": ("fraction", "exits per email sent"),
    "complaint_rate": ("fraction", "spam complaints per email placed in the inbox"),
    "optout_rate_sms": ("fraction", "STOP replies per SMS sent"),
    "inbox_placement": ("fraction", "share of emails sent that reached the inbox"),
    "pressure_mean": (
        "pressure / tolerance",
        "mean pressure relative to tolerance of reachable members",
    ),
    "satisfaction_index": (
        "index 0-100",
        "mean satisfaction of members in the program at the horizon",
    ),
    "satisfaction_below_60": ("fraction", "members in the program with an index under 60"),
    "satisfaction_time_effort": ("index points", "mean time-and-effort driver at the horizon"),
    "satisfaction_personalisation": ("index points", "mean personalisation driver at the horizon"),
    "satisfaction_reward": ("index points", "mean reward-experience driver at the horizon"),
    "satisfaction_expectations": (
        "index points",
        "mean expectations driver at the horizon (offer targets met and missed)",
    ),
    "purchases": ("purchases", "purchases by members in the program"),
    "revenue": ("currency", "revenue from members' purchases, net of discounts"),
    "incremental_revenue": ("currency", "revenue minus the silent strategy's, same replication"),
    "attributed_revenue": ("currency", "revenue within the attribution window of an open"),
    "message_cost": ("currency", "cost of all messages sent"),
    "discount_cost": ("currency", "discounts granted by offers"),
    "reward_cost": ("currency", "value of points redeemed"),
    "margin": (
        "currency",
        "gross margin less discounts, message cost and points issued net of expired, at value",
    ),
    "clv_per_member": ("currency", "discounted margin from starting members per starting member"),
    "points_opening": ("points", "points held by starting members at day 0"),
    "points_issued": ("points", "points earned, bonuses included"),
    "offer_points": ("points", "points given by offers: multipliers' extra, bonuses, targets"),
    "points_redeemed": ("points", "points exchanged for rewards"),
    "points_expired": ("points", "points expired or forfeited on leaving"),
    "points_outstanding": ("points", "points held by members at the horizon"),
    "breakage_rate": ("fraction", "expired / (redeemed + expired) points"),
    "liability": ("currency", "outstanding points at their value"),
    "points_driven_revenue": (
        "currency",
        "revenue of purchases the reward mechanics add, net of those they remove (same draws)",
    ),
    "deferred_revenue": ("currency", "IFRS 15: revenue allocated to points earned"),
    "points_revenue_recognised": (
        "currency",
        "IFRS 15: deferred revenue recognised as points were redeemed (breakage included)",
    ),
    "contract_liability": ("currency", "IFRS 15: deferred revenue not yet recognised"),
    "tier_upgrades": ("members", "status upgrades"),
    "tier_downgrades": ("members", "status downgrades (a hold ending without requalifying)"),
    "offers_met": ("members", "spend targets reached"),
    "offers_missed": ("members", "spend targets that ended unreached"),
    "journey_sends": ("messages", "messages sent by lifecycle journeys (all channels)"),
    "skipped_suppressed": ("messages", "held back: control group or sunset"),
    "skipped_quiet_hours": ("messages", "dropped in quiet hours"),
    "skipped_cooldown": ("messages", "held back by a cooldown"),
    "skipped_capped": ("messages", "held back by a contact cap"),
    "held_quiet_hours": (
        "messages",
        "held in quiet hours, to go when they end (the rules apply then; not past the horizon)",
    ),
    "sunset_end": ("members", "members in the program under sunset at the horizon"),
    "control_members": ("members", "members in the control group (joined by the horizon)"),
    "control_revenue": ("currency", "revenue from control-group members"),
    "incremental_revenue_measured": (
        "currency",
        "revenue minus the control group's, scaled to the treated: what the program measures",
    ),
}

KPI_NAMES: tuple[str, ...] = tuple(KPIS)


def measured_incremental(
    revenue: float, control_revenue: float, members: float, control_members: float
) -> float:
    """The control-group estimate of incremental revenue (currency): treated members'
    revenue minus the control group's scaled to as many members. NaN without a control."""
    if not control_members:
        return float("nan")
    treated = members - control_members
    return (revenue - control_revenue) - control_revenue * treated / control_members


# The outcomes a ranking is explained by: not message volumes, which differ by design.
OUTCOMES: tuple[str, ...] = (
    "retention_rate",
    "program_churn",
    "members_end",
    "reachable_email",
    "reachable_sms",
    "reachable_push",
    "complaint_rate",
    "inbox_placement",
    "satisfaction_index",
    "satisfaction_below_60",
    "revenue",
    "incremental_revenue",
    "attributed_revenue",
    "margin",
    "clv_per_member",
    "breakage_rate",
    "liability",
    "points_driven_revenue",
    "contract_liability",
)

# Weekly series in timeseries.csv: name -> (unit, meaning).
SERIES: dict[str, tuple[str, str]] = {
    "members": ("members", "members in the program at the end of the week"),
    "active": ("members", "members in the program and still purchasing"),
    "reachable_email": ("members", "members reachable by email"),
    "reachable_sms": ("members", "members reachable by SMS"),
    "reachable_push": ("members", "members reachable by push"),
    "satisfaction_index": ("index 0-100", "mean satisfaction of members in the program"),
    "pressure_mean": ("pressure / tolerance", "mean relative pressure of reachable members"),
    "inbox_placement": ("fraction", "email inbox placement at the end of the week"),
    "sends": ("messages", "messages sent during the week, all channels"),
    "exits": ("members", "channel exits during the week, all channels"),
    "purchases": ("purchases", "purchases during the week"),
    "revenue": ("currency", "revenue during the week"),
    "attributed_revenue": ("currency", "attributed revenue during the week"),
}
SERIES_NAMES: tuple[str, ...] = tuple(SERIES)
