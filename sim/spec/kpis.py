"""The KPI registry: one row per column of summary.csv, in column order, with its unit, its
meaning and how it aggregates; and one row per weekly series of timeseries.csv.

Everything that lists KPIs reads it: ``engine.tally`` keeps a running total of each
``tallied`` KPI, ``engine.outcomes`` computes the others, ``engine.shards`` merges shards by
``merge``, ``analysis.summary`` summarises replications by ``summary``, the report checks and
labels its columns by it, and tests/test_kpis.py checks the tables of docs/results.md against it.

Adding a KPI: its row below, and the one line that computes it, either an increment of
``Tally.total[name]`` where the engine counts it (``tallied=True``), or a line in
``engine.outcomes.outcomes`` for a value read off the state at the horizon. A rate of two
counts (``Ratio``) needs no line: its rule computes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

# Units whose values are whole numbers: integers in summary.csv, formatted without decimals.
COUNT_UNITS = frozenset({"members", "messages", "purchases", "points"})

# --- how the shards of one replication merge --------------------------------------------------


@dataclass(frozen=True)
class Sum:
    """Counts and money: a sharded replication's value is the sum over its shards."""


@dataclass(frozen=True)
class Mean:
    """A mean over members: the shards' values weighted by ``weight``, the count of members
    each shard's mean is over (a shard over nobody has a NaN mean and adds nothing)."""

    weight: str


@dataclass(frozen=True)
class Ratio:
    """A rate: count ``num`` over count ``den``, NaN when ``den`` is 0 (nothing to count).
    Computed from a replication's counts, and after a shard merge from the summed counts."""

    num: str
    den: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.num, self.den)

    def derive(self, counts: Mapping[str, float]) -> float:
        den = counts[self.den]
        return float(counts[self.num]) / float(den) if den else math.nan


@dataclass(frozen=True)
class ControlEstimate:
    """What a control group measures of incremental revenue: treated members' revenue minus
    the control group's scaled to as many members; NaN without a control group. Computed from
    a replication's sums, and after a shard merge from the summed ones."""

    inputs: ClassVar[tuple[str, ...]] = (
        "revenue",
        "control_revenue",
        "members_start",
        "members_joined",
        "control_members",
    )

    def derive(self, counts: Mapping[str, float]) -> float:
        control = counts["control_members"]
        if not control:
            return math.nan
        treated = counts["members_start"] + counts["members_joined"] - control
        revenue, control_revenue = counts["revenue"], counts["control_revenue"]
        return (revenue - control_revenue) - control_revenue * treated / control


@dataclass(frozen=True)
class AgainstSilent:
    """KPI ``kpi`` minus silent's in the same replication (0 for silent). Known only once a
    replication's strategies are together: NaN for a strategy or shard on its own until
    ``engine.runner.against_silent`` computes it."""

    kpi: str
    inputs: ClassVar[tuple[str, ...]] = ()

    def derive(self, counts: Mapping[str, float]) -> float:
        return math.nan


# A shard merge rule. The derived ones (a ``derive`` of the counts ``inputs`` names) are also
# how the KPI is computed in the first place.
Merge = Sum | Mean | Ratio | ControlEstimate | AgainstSilent
Derived = Ratio | ControlEstimate | AgainstSilent
SUM = Sum()

# Counts a rate or mean is over that summary.csv does not hold: ``engine.outcomes`` passes a
# replication's own to ``derive``, and ``engine.shards`` recovers each shard's from its tables.
INBOX = "_inbox"  # emails placed in the inbox
SETTLED = "_settled"  # points redeemed or expired
REACHABLE = "_reachable"  # members reachable on some channel at the horizon

# --- how replications are summarised ----------------------------------------------------------


@dataclass(frozen=True)
class MeanCI:
    """Six columns of strategies.csv: the mean over replications and its Student-t interval,
    and the mean difference to silent, paired by replication, with its interval."""

    statistics: tuple[str, ...] = (
        "mean",
        "ci_low",
        "ci_high",
        "diff_silent",
        "diff_ci_low",
        "diff_ci_high",
    )

    def columns(self, kpi: str) -> list[str]:
        return [f"{kpi}_{statistic}" for statistic in self.statistics]


Summary = MeanCI
MEAN_CI = MeanCI()

# --- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """One KPI (or weekly series) and how it aggregates."""

    name: str
    unit: str
    meaning: str
    merge: Merge = SUM  # how one replication's shards merge into its value
    tallied: bool = False  # a running total the engine keeps (Tally), its value at the horizon
    summary: Summary = MEAN_CI  # how replications are summarised

    @property
    def is_count(self) -> bool:
        return self.unit in COUNT_UNITS


def _registry(*rows: Kpi) -> dict[str, Kpi]:
    by_name = {row.name: row for row in rows}
    if len(by_name) != len(rows):
        raise ValueError("a KPI name is registered twice")
    return by_name


# name -> row, in the column order of summary.csv.
KPIS: dict[str, Kpi] = _registry(
    Kpi("members_start", "members", "members in the program at day 0"),
    Kpi("members_joined", "members", "members who joined during the horizon"),
    Kpi("members_end", "members", "members still in the program at the horizon"),
    Kpi("active_end", "members", "members in the program and still purchasing (not lapsed)"),
    Kpi(
        "retention_rate",
        "fraction",
        "starting members still in the program and active at the horizon",
        Mean("members_start"),
    ),
    Kpi(
        "program_churn",
        "fraction",
        "starting members who left the program",
        Mean("members_start"),
    ),
    Kpi(
        "reachable_email",
        "fraction",
        "members in the program at the horizon reachable by email",
        Mean("members_end"),
    ),
    Kpi(
        "reachable_sms",
        "fraction",
        "members in the program at the horizon reachable by SMS",
        Mean("members_end"),
    ),
    Kpi(
        "reachable_push",
        "fraction",
        "members in the program at the horizon reachable by push",
        Mean("members_end"),
    ),
    Kpi("sends_email", "messages", "email deliveries attempted"),
    Kpi("sends_sms", "messages", "SMS deliveries"),
    Kpi("sends_push", "messages", "push deliveries"),
    Kpi("opens_email", "messages", "emails opened"),
    Kpi("opens_sms", "messages", "SMS read"),
    Kpi("opens_push", "messages", "push notifications opened"),
    Kpi("clicks_email", "messages", "emails clicked"),
    Kpi("clicks_sms", "messages", "SMS links clicked"),
    Kpi("clicks_push", "messages", "push notifications clicked through"),
    Kpi("exits_email", "members", "email unsubscribes, spam complaints included"),
    Kpi("exits_sms", "members", "SMS STOP replies"),
    Kpi("exits_push", "members", "push notifications disabled"),
    Kpi("complaints_email", "members", "spam complaints"),
    Kpi(
        "recaptured_email",
        "members",
        "email opt-ins after joining (at purchases or by re-permission)",
    ),
    Kpi("recaptured_sms", "members", "SMS opt-ins after joining"),
    Kpi("recaptured_push", "members", "push opt-ins after joining"),
    Kpi("open_rate_email", "fraction", "opens per email sent", Ratio("opens_email", "sends_email")),
    Kpi(
        "click_rate_email",
        "fraction",
        "clicks per email sent",
        Ratio("clicks_email", "sends_email"),
    ),
    Kpi(
        "unsubscribe_rate_email",
        "fraction",
        "exits per email sent",
        Ratio("exits_email", "sends_email"),
    ),
    Kpi(
        "complaint_rate",
        "fraction",
        "spam complaints per email placed in the inbox",
        Ratio("complaints_email", INBOX),
    ),
    Kpi(
        "optout_rate_sms", "fraction", "STOP replies per SMS sent", Ratio("exits_sms", "sends_sms")
    ),
    Kpi(
        "inbox_placement",
        "fraction",
        "share of emails sent that reached the inbox",
        Ratio(INBOX, "sends_email"),
    ),
    Kpi(
        "pressure_mean",
        "pressure / tolerance",
        "mean pressure relative to tolerance of reachable members",
        Mean(REACHABLE),
    ),
    Kpi(
        "satisfaction_index",
        "index 0-100",
        "mean satisfaction of members in the program at the horizon",
        Mean("members_end"),
    ),
    Kpi(
        "satisfaction_below_60",
        "fraction",
        "members in the program with an index under 60",
        Mean("members_end"),
    ),
    Kpi(
        "satisfaction_time_effort",
        "index points",
        "mean time-and-effort driver at the horizon",
        Mean("members_end"),
    ),
    Kpi(
        "satisfaction_personalisation",
        "index points",
        "mean personalisation driver at the horizon",
        Mean("members_end"),
    ),
    Kpi(
        "satisfaction_reward",
        "index points",
        "mean reward-experience driver at the horizon",
        Mean("members_end"),
    ),
    Kpi(
        "satisfaction_expectations",
        "index points",
        "mean expectations driver at the horizon (offer targets met and missed)",
        Mean("members_end"),
    ),
    Kpi("purchases", "purchases", "purchases by members in the program", tallied=True),
    Kpi(
        "revenue",
        "currency",
        "revenue from members' purchases, net of discounts",
        tallied=True,
    ),
    Kpi(
        "incremental_revenue",
        "currency",
        "revenue minus the silent strategy's, same replication",
        AgainstSilent("revenue"),
    ),
    Kpi(
        "attributed_revenue",
        "currency",
        "revenue within the attribution window of an open",
        tallied=True,
    ),
    Kpi("message_cost", "currency", "cost of all messages sent", tallied=True),
    Kpi("discount_cost", "currency", "discounts granted by offers", tallied=True),
    Kpi("reward_cost", "currency", "value of points redeemed", tallied=True),
    Kpi(
        "margin",
        "currency",
        "gross margin less discounts, message cost and points issued net of expired, at value",
    ),
    # Discounted margin per starting member: the mean weighted by starting members is exact.
    Kpi(
        "clv_per_member",
        "currency",
        "discounted margin from starting members per starting member",
        Mean("members_start"),
    ),
    # CLV plus each starting member's relationship at the horizon, valued in closed form
    # (docs/model.md section 9); per starting member, so its mean merges exactly.
    Kpi(
        "clv_with_terminal",
        "currency",
        "discounted margin from starting members plus the discounted value of their "
        "relationships at the horizon, per starting member",
        Mean("members_start"),
    ),
    Kpi("points_opening", "points", "points held by starting members at day 0"),
    Kpi("points_issued", "points", "points earned, bonuses included", tallied=True),
    Kpi(
        "offer_points",
        "points",
        "of those, points given by offers: a multiplier's extra points over the member's earn "
        "rate, bonus points, spend-target rewards (the offers' points budget)",
        tallied=True,
    ),
    Kpi("points_redeemed", "points", "points exchanged for rewards", tallied=True),
    Kpi("points_expired", "points", "points expired or forfeited on leaving", tallied=True),
    Kpi("points_outstanding", "points", "points held by members at the horizon"),
    Kpi(
        "breakage_rate",
        "fraction",
        "expired / (redeemed + expired) points",
        Ratio("points_expired", SETTLED),
    ),
    Kpi("liability", "currency", "outstanding points at their value"),
    Kpi(
        "points_driven_revenue",
        "currency",
        "revenue of purchases the reward mechanics add, net of those they remove (same draws)",
        tallied=True,
    ),
    # Each shard keeps its own IFRS 15 ledger, so its estimate of redemptions to come is its own.
    Kpi("deferred_revenue", "currency", "IFRS 15: revenue allocated to points earned"),
    Kpi(
        "points_revenue_recognised",
        "currency",
        "IFRS 15: deferred revenue recognised as points were redeemed (breakage included)",
    ),
    Kpi("contract_liability", "currency", "IFRS 15: deferred revenue not yet recognised"),
    Kpi("tier_upgrades", "members", "status upgrades", tallied=True),
    Kpi(
        "tier_downgrades",
        "members",
        "status downgrades (a hold ending without requalifying)",
        tallied=True,
    ),
    Kpi("offers_met", "members", "spend targets reached", tallied=True),
    Kpi("offers_missed", "members", "spend targets that ended unreached", tallied=True),
    Kpi(
        "journey_sends",
        "messages",
        "messages sent by lifecycle journeys, all channels (also in `sends_*`)",
        tallied=True,
    ),
    Kpi(
        "skipped_suppressed",
        "messages",
        "marketing held back by the control group or sunset (members reachable on the channel)",
        tallied=True,
    ),
    Kpi("skipped_quiet_hours", "messages", "dropped in quiet hours", tallied=True),
    Kpi("skipped_cooldown", "messages", "held back by a cooldown", tallied=True),
    Kpi(
        "skipped_capped",
        "messages",
        "held back by a contact cap (priority rule and adaptive caps included)",
        tallied=True,
    ),
    Kpi(
        "held_quiet_hours",
        "messages",
        "held in quiet hours to go when they end (the rules apply then; not past the horizon)",
        tallied=True,
    ),
    Kpi(
        "sunset_end",
        "members",
        "members in the program under sunset at the horizon (0 without sunset)",
    ),
    Kpi("control_members", "members", "members in the control group who joined by the horizon"),
    Kpi("control_revenue", "currency", "revenue from control-group members", tallied=True),
    Kpi(
        "incremental_revenue_measured",
        "currency",
        "the control group's estimate of incremental revenue: revenue minus the control "
        "group's, scaled to the treated (empty without a control group)",
        ControlEstimate(),
    ),
)
KPI_NAMES: tuple[str, ...] = tuple(KPIS)


def summary_columns(kpi: str) -> list[str]:
    """The columns of strategies.csv that summarise ``kpi``, by its rule (``MeanCI`` for a
    column the registry does not know)."""
    return (KPIS[kpi].summary if kpi in KPIS else MEAN_CI).columns(kpi)


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
    "clv_with_terminal",
    "breakage_rate",
    "liability",
    "points_driven_revenue",
    "contract_liability",
)

# Weekly series of timeseries.csv, in column order (members per tier, ``tier_<name>``, come
# before the tallied flows when the program has tiers, and add up over shards). The weekly rows
# count neither members reachable on some channel nor emails sent, so the shards' weekly
# pressure mean is weighted by members in the program and their inbox placement by members
# reachable by email: close, not exact.
SERIES: dict[str, Kpi] = _registry(
    Kpi("members", "members", "members in the program at the end of the week"),
    Kpi("active", "members", "members in the program and still purchasing"),
    Kpi("reachable_email", "members", "members reachable by email"),
    Kpi("reachable_sms", "members", "members reachable by SMS"),
    Kpi("reachable_push", "members", "members reachable by push"),
    Kpi(
        "satisfaction_index",
        "index 0-100",
        "mean satisfaction of members in the program",
        Mean("members"),
    ),
    Kpi(
        "pressure_mean",
        "pressure / tolerance",
        "mean relative pressure of reachable members",
        Mean("members"),
    ),
    Kpi(
        "inbox_placement",
        "fraction",
        "email inbox placement at the end of the week",
        Mean("reachable_email"),
    ),
    Kpi("sends", "messages", "messages sent during the week, all channels", tallied=True),
    Kpi("exits", "members", "channel exits during the week, all channels", tallied=True),
    Kpi("purchases", "purchases", "purchases during the week", tallied=True),
    Kpi("revenue", "currency", "revenue during the week", tallied=True),
    Kpi("attributed_revenue", "currency", "attributed revenue during the week", tallied=True),
)
SERIES_NAMES: tuple[str, ...] = tuple(SERIES)
