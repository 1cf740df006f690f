"""The loyalty program block of the scenario schema: earn and burn, expiry, tiers, accounting.

Units: points, the scenario's currency, days. Defaults and their sources: docs/model.md.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.spec.fields import Frozen, NonNegative, Positive


class InactivityExpiry(Frozen):
    """The whole balance expires after ``days`` days without a purchase."""

    kind: Literal["inactivity"] = "inactivity"
    """inactivity (the default), lots, end_of_next_year or none."""
    days: Annotated[int, Field(ge=1)] = 365
    """Days without a purchase after which the whole balance expires."""


class LotExpiry(Frozen):
    """Points expire ``months`` months after the end of the month they were earned in
    (months of 365/12 days, counted from day 0)."""

    kind: Literal["lots"]
    """lots: selects this rule, each month's points expiring on their own."""
    months: Annotated[int, Field(ge=1, le=120)] = 24
    """Months after the end of the month points were earned in until they expire (1-120;
    default 24)."""


class YearEndExpiry(Frozen):
    """Points expire at the end of the year after the year they were earned in (years of
    365 days from day 0)."""

    kind: Literal["end_of_next_year"]
    """end_of_next_year: selects this rule, points lasting until the end of the following
    year."""


class NoExpiry(Frozen):
    """Points never expire."""

    kind: Literal["none"]
    """none: selects this rule, points that never expire."""


Expiry = Annotated[
    InactivityExpiry | LotExpiry | YearEndExpiry | NoExpiry, Field(discriminator="kind")
]


class Tier(Frozen):
    """A status level and its benefits while the member holds it."""

    threshold: Positive
    """Qualifying amount needed within the window: spend in the scenario's currency, or points
    earned, as tiers.qualify_on says."""
    earn_multiplier: Annotated[float, Field(ge=1.0)] = 1.0
    """Points earned are multiplied by this while the member holds the tier (1 or more; default
    1: no extra points)."""
    satisfaction: NonNegative = 0.0
    """Satisfaction index points added while the member holds the tier (default 0)."""
    leave_hazard: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    """Factor on the chance of leaving the program while the member holds the tier (over 0, at
    most 1; 0.5 halves it; default 1: no change)."""


class Tiers(Frozen):
    """Tiers above the base level, lowest first. A member qualifies on spend or points within
    a 12-month window (rolling, or calendar periods from day 0), and keeps a status for the
    following period too."""

    qualify_on: Literal["spend", "points"] = "spend"
    """What qualifies a member: spend (after discounts, in currency; the default) or points
    earned."""
    window: Literal["rolling", "calendar"] = "calendar"
    """calendar (the default): periods of window_days from day 0, the amount starting again each
    period; rolling: the last window_days, counted in 12 steps of window_days / 12."""
    window_days: Positive = 365.0
    """Length of the qualifying window in days (default 365)."""
    levels: Annotated[dict[str, Tier], Field(min_length=1, max_length=8)]
    """The tiers above the base level by name, lowest first, with increasing thresholds (1 to
    8)."""

    @field_validator("levels")
    @classmethod
    def _increasing(cls, levels: dict[str, Tier]) -> dict[str, Tier]:
        thresholds = [tier.threshold for tier in levels.values()]
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("tier thresholds must increase, lowest tier first")
        return levels


class Program(Frozen):
    points_per_currency: NonNegative = 1.0
    """Points earned per unit of currency spent."""
    point_value: NonNegative = 0.01
    """Currency per point: what a point costs the program when redeemed (0.01: 1% back at one
    point per unit of currency)."""
    redemption_threshold: Annotated[int, Field(ge=1)] = 5000
    """Points needed for a reward (e.g. 5,000 points for a 50 NOK voucher)."""
    expiry: Expiry = InactivityExpiry()
    """When points expire: after days without a purchase (default 365), by lot, at year end, or
    never."""
    tiers: Tiers | None = None
    """Status levels above the base, if any."""
    opening_balance: Literal["steady", "zero"] = "steady"
    """Balances of the members there at day 0: steady spreads them evenly over the run-up to a
    reward, as in a running program; zero starts everyone from nothing."""
    expected_redemption_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.7
    """IFRS 15: the expected share of points that will be redeemed, before any is observed."""
    control_group: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """A random share of members no strategy markets to for the whole horizon (the same members
    under every strategy), so that a strategy measures its own incrementality."""
