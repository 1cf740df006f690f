"""The strategy schema: campaigns, lifecycle journeys, contact rules, audiences and policies.

It speaks the platforms' vocabulary (docs/strategies.md): caps over rolling or calendar
windows (Braze, Iterable), cooldowns (Klaviyo smart sending), priorities under a cap (Adobe
Campaign pressure rules), quiet hours, sunset and saturation classes (Salesforce).
Units: time in days unless a field says hours; hours of the day 0-24 (day 0 is a Monday, the
scenario's ``start_date``, which places days of the month and calendar months).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from sim.spec.fields import ChannelName, Frozen, NonNegative, Positive, Probability
from sim.spec.merge import deep_merge
from sim.spec.policies import AdaptivePolicy, OraclePolicy, Policy
from sim.spec.program import Expiry

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Hour = Annotated[float, Field(ge=0.0, lt=24.0)]

# Message kinds. Transactional and service messages are not marketing: contact rules, the
# control group and sunset never hold them back, and they do not count towards caps.
MarketingKind = Literal[
    "newsletter",
    "promo",
    "bonus_points",
    "welcome",
    "post_purchase",
    "expiry_reminder",
    "reward_available",
    "tier_change",
    "win_back",
    "re_permission",
]
ExemptKind = Literal["transactional", "service"]
EXEMPT_KINDS: tuple[str, ...] = get_args(ExemptKind)
Kind = Literal[MarketingKind, ExemptKind]
# What a cap counts: one channel, every channel, or one marketing kind.
CapScope = Literal[ChannelName, "all", MarketingKind]

SILENT = "silent"  # the no-marketing strategy every scenario is measured against


# --- offers ---------------------------------------------------------------------------------


class DiscountOffer(Frozen):
    """A price discount of ``percent`` for ``days`` days after the member opens the message."""

    kind: Literal["discount"]
    """discount: selects this offer, a price discount."""
    percent: Annotated[float, Field(gt=0.0, le=100.0)]
    """Discount on the price, in percent (over 0, at most 100); the margin bears it in full."""
    days: Positive = 7.0
    """Days the discount holds after the member opens the message (default 7)."""


class MultiplierOffer(Frozen):
    """Points x ``multiplier`` for ``days`` days; with a category, on that category's share
    of the basket only (``preferred``: each member's own largest category)."""

    kind: Literal["points_multiplier"]
    """points_multiplier: selects this offer, extra points on purchases."""
    multiplier: Annotated[float, Field(gt=1.0)]
    """Points earned are multiplied by this (over 1; 2 is double points)."""
    days: Positive = 7.0
    """Days the multiplier holds after the member opens the message (default 7)."""
    category: str | None = None
    """A category of population.categories whose share of the basket it applies to, or
    preferred (each member's own largest category); none: the whole basket."""


class BonusOffer(Frozen):
    """Bonus points on the member's first purchase within ``days`` days of opening."""

    kind: Literal["bonus_points"]
    """bonus_points: selects this offer, a one-off bonus on the next purchase."""
    points: Annotated[int, Field(ge=1)]
    """Bonus points credited on the first purchase day while the offer holds (at least 1)."""
    days: Positive = 14.0
    """Days the offer holds after the member opens the message (default 14)."""


class SpendTargetOffer(Frozen):
    """Spend ``spend`` within ``days`` days of opening, get ``points`` bonus points."""

    kind: Literal["spend_target"]
    """spend_target: selects this offer, bonus points for reaching a spend."""
    spend: Positive
    """Spend to reach (after discounts), in the scenario's currency."""
    points: Annotated[int, Field(ge=1)]
    """Bonus points paid once, on the purchase day the spend is reached (at least 1)."""
    days: Positive = 14.0
    """Days after opening the message in which to reach the spend (default 14)."""


Offer = Annotated[
    DiscountOffer | MultiplierOffer | BonusOffer | SpendTargetOffer, Field(discriminator="kind")
]


# --- contact rules --------------------------------------------------------------------------

_ROLLING = re.compile(r"^\s*(\d+)\s*per\s*(\d+(?:\.\d+)?)\s*d\s*$")
_CALENDAR = re.compile(r"^\s*(\d+)\s*per\s*(day|week|month)\s*$")


class Cap(Frozen):
    """At most ``max`` messages in any rolling window of ``days`` days (``3 per 7d``), or in
    each calendar day, week or month (``1 per day``, ``3 per week``, ``6 per month``; weeks
    start on Monday, months on their first day)."""

    max: Annotated[int, Field(ge=1, le=50)]
    """Most marketing messages a member may get in the window (1-50)."""
    days: Positive | None = None
    """Rolling window in days (7 in '3 per 7d'; fractions allowed); give this or per."""
    per: Literal["day", "week", "month"] | None = None
    """Calendar window: day (midnight to midnight), week (Monday to Sunday) or month (the 1st to
    its last day, from the scenario's start_date); give this or days."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            if match := _ROLLING.match(value):
                return {"max": int(match[1]), "days": float(match[2])}
            if match := _CALENDAR.match(value):
                return {"max": int(match[1]), "per": match[2]}
            raise ValueError(
                f"cap {value!r} must read like '3 per 7d', '1 per day', '3 per week' or "
                "'6 per month'"
            )
        return value

    @model_validator(mode="after")
    def _one_window(self) -> Cap:
        if (self.days is None) == (self.per is None):
            raise ValueError("give exactly one window: days (rolling) or per (calendar)")
        return self


class QuietHours(Frozen):
    """No messages on ``channels`` from ``start`` to ``end`` o'clock (wrapping midnight when
    start > end): held until the window ends, or dropped."""

    start: Hour = 21.0
    """Hour of the day (0-24) the quiet hours begin; default 21 (a common platform default)."""
    end: Hour = 8.0
    """Hour of the day (0-24) they end; default 8. When start is later than end they run over
    midnight."""
    channels: list[ChannelName] = Field(default_factory=lambda: ["sms", "push"])
    """Channels they apply to (default SMS and push)."""
    action: Literal["hold", "drop"] = "hold"
    """hold: send the message when the quiet hours end (the default); drop: skip it."""

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


# --- messages -------------------------------------------------------------------------------


class ConsentRequest(Frozen):
    """A request in a message to opt in to another channel (an email asking members to enable
    push): a member who opens it and is not reachable on ``channel`` opts in with
    probability ``conversion``."""

    channel: ChannelName
    """The channel members are asked to opt in to (not the message's own)."""
    conversion: Probability
    """Chance (0-1) that a member who opens the message and is not reachable on that channel opts
    in. No published rate; plausible range 0.01-0.10."""


class Message(Frozen):
    """What every message has: a channel, a kind, a time of day, a relevance and an offer."""

    channel: ChannelName
    """email, sms or push."""
    kind: Kind = "newsletter"
    """What the message is (newsletter, promo, service, ...): sets its default exemption from
    contact rules."""
    hour: Hour = 9.0
    """Hour of the day it is sent (0-24, e.g. 9.5 for 09:30)."""
    relevance: Probability = 0.5
    """How relevant the message is to its audience (0-1; 0.5 is neutral): irrelevant messages tire
    members faster."""
    offer: Offer | None = None
    """An offer the message carries (e.g. double points for some days), if any."""
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    """Weight under a cap (0-100): a message is sent if the messages sent plus those scheduled
    with a higher priority stay under the cap."""
    exempt: bool | None = None
    """Exempt from contact rules, the control group and sunset; by default the transactional
    and service kinds are."""
    repermission: ConsentRequest | None = None
    """Asks the members it reaches for consent on another channel."""

    @model_validator(mode="after")
    def _asks_for_another_channel(self) -> Message:
        if self.repermission is not None and self.repermission.channel == self.channel:
            raise ValueError(
                f"repermission.channel: the message goes by {self.channel}, only to members "
                "reachable on it; ask for another channel"
            )
        return self

    @property
    def is_exempt(self) -> bool:
        return self.kind in EXEMPT_KINDS if self.exempt is None else self.exempt


class Range(Frozen):
    """A range of values, ends included; either end may be left out."""

    min: NonNegative | None = None
    """Lowest value included (none: no lower limit)."""
    max: NonNegative | None = None
    """Highest value included (none: no upper limit)."""


class Audience(Frozen):
    """Who a message is for; every condition given must hold. Recency counts from the later
    of the event and the member's joining (the run has no history before day 0)."""

    segments: list[str] | None = None
    """Only members of these segments (names from population.segments)."""
    tiers: list[str] | None = None
    """Only members now at one of these tiers (base, or a name from program.tiers.levels)."""
    balance: Range | None = None
    """Only members whose points balance lies within min to max points, ends included."""
    engaged_within_days: Positive | None = None
    """Only members who opened or clicked any message within the last this many days."""
    not_engaged_within_days: Positive | None = None
    """Only members who have not opened or clicked any message within the last this many days."""
    purchased_within_days: Positive | None = None
    """Only members who bought within the last this many days."""
    not_purchased_within_days: Positive | None = None
    """Only members who have not bought within the last this many days."""

    @model_validator(mode="after")
    def _something(self) -> Audience:
        if not self.model_fields_set:
            raise ValueError("an audience needs at least one condition (or say 'all')")
        if self.segments == [] or self.tiers == []:
            raise ValueError("segments and tiers must name at least one")
        return self


# A weekday of the month: "first thu", "2nd mon", "last fri" (RFC 5545's BYDAY=1TH, 2MO, -1FR).
ORDINALS: dict[str, int] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "last": -1,
}  # fmt: skip
MonthWeekday = Annotated[
    str,
    Field(
        pattern=rf"^({'|'.join(ORDINALS)}) ({'|'.join(get_args(Weekday))})$",
        examples=["first thu", "last fri"],
    ),
]
# A day of the month: 1-31, or counted back from its end (-1 the last day, -2 the one before).
MonthDay = Annotated[int, Field(ge=-31, le=31)]
CADENCES: tuple[str, ...] = ("every_days", "weekdays", "month_days", "month_weekdays")


class Campaign(Message):
    """A calendar campaign: every N days, on weekdays, on days of the month or on weekdays of
    the month ("first thu"), at an hour."""

    # At most hourly: a cadence is a marketer's calendar, and every send is simulated.
    every_days: Annotated[float, Field(ge=1 / 24)] | None = None
    """Cadence: one send every N days (e.g. 7 for weekly); or give another cadence."""
    weekdays: list[Weekday] | None = None
    """Cadence: the weekdays it is sent on (mon ... sun); or give another cadence."""
    month_days: list[MonthDay] | None = None
    """Cadence: the days of each calendar month it is sent on, 1-31, or counted from the month's
    end (-1 its last day). A month without the day is skipped, as in calendar apps (RFC 5545):
    31 sends in seven months a year; use -1 for the last day. Or give another cadence."""
    month_weekdays: list[MonthWeekday] | None = None
    """Cadence: weekdays of each calendar month it is sent on, as "first thu", "2nd mon" or
    "last fri" (first to fourth, or last); or give another cadence."""
    start_day: NonNegative = 0.0
    """Day of the first send (days from day 0, the scenario's start_date, a Monday)."""
    audience: Literal["all"] | Audience = "all"
    """Who it goes to: all, or conditions on segment, tier, balance and recency."""

    @field_validator("month_weekdays", mode="before")
    @classmethod
    def _month_weekdays_read(cls, value: object) -> object:
        # Said in words before the schema's pattern speaks in a regular expression.
        for item in value if isinstance(value, list) else ():
            words = item.split() if isinstance(item, str) else []
            if len(words) != 2 or words[0] not in ORDINALS or words[1] not in get_args(Weekday):
                raise ValueError(
                    f"{item!r} must read like 'first thu', '2nd mon' or 'last fri' (first to "
                    "fourth, or last; mon ... sun)"
                )
        return value

    @model_validator(mode="after")
    def _one_cadence(self) -> Campaign:
        given = [name for name in CADENCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one cadence: {', '.join(CADENCES[:-1])} or "
                f"{CADENCES[-1]}" + (f" (got {', '.join(given)})" if given else "")
            )
        if not getattr(self, given[0]) and given[0] != "every_days":
            raise ValueError(f"{given[0]} must name at least one day")
        if self.month_days is not None and 0 in self.month_days:
            raise ValueError("month_days: 0 is no day of the month (1-31, or -1 for the last)")
        return self


Trigger = Literal[
    "joined",
    "purchased",
    "reward",
    "tier_up",
    "tier_down",
    "expiry_due",
    "no_purchase",
    "no_engagement",
]
# The kind a journey's messages have unless it says otherwise.
TRIGGER_KIND: dict[str, str] = {
    "joined": "welcome",
    "purchased": "post_purchase",
    "reward": "reward_available",
    "tier_up": "tier_change",
    "tier_down": "tier_change",
    "expiry_due": "expiry_reminder",
    "no_purchase": "win_back",
    "no_engagement": "re_permission",
}
# Triggers that count days: before an expiry, or since the last purchase or engagement.
DAY_TRIGGERS: tuple[str, ...] = ("expiry_due", "no_purchase", "no_engagement")


class Journey(Message):
    """Messages triggered per member by an event, batched per day. ``delay_days`` after the
    event (a list for a series, e.g. a welcome series [0, 3, 7]); ``days``: for expiry_due,
    how many days before the expiry; for no_purchase and no_engagement, after how many days
    without a purchase, or without an open or click."""

    trigger: Trigger
    """The event that starts the journey for a member: joined, purchased, reward, tier_up,
    tier_down, expiry_due, no_purchase or no_engagement."""
    delay_days: list[Annotated[int, Field(ge=0, le=3650)]] = Field(default_factory=lambda: [0])
    """Days after the event each message goes out (0-3650, increasing); a list is a series, e.g.
    a welcome series [0, 3, 7]. Default [0]: the same day."""
    days: Annotated[int, Field(ge=1)] | None = None
    """For expiry_due: days before the points expire; for no_purchase and no_engagement: days
    without a purchase, or without an open or click. Only for these three triggers."""
    audience: Literal["all"] | Audience = "all"
    """Who it goes to: all, or conditions on segment, tier, balance and recency, checked at each
    step's send."""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, value: object) -> object:
        if isinstance(value, dict):
            value = dict(value)
            if isinstance(value.get("delay_days"), int):
                value["delay_days"] = [value["delay_days"]]
            trigger = value.get("trigger")
            if "kind" not in value and isinstance(trigger, str) and trigger in TRIGGER_KIND:
                value["kind"] = TRIGGER_KIND[value["trigger"]]
        return value

    @model_validator(mode="after")
    def _days_where_needed(self) -> Journey:
        needs = self.trigger in DAY_TRIGGERS
        if needs and self.days is None:
            raise ValueError(f"trigger {self.trigger} needs days")
        if not needs and self.days is not None:
            raise ValueError(f"days applies to {', '.join(DAY_TRIGGERS)}, not {self.trigger}")
        if not self.delay_days or sorted(set(self.delay_days)) != self.delay_days:
            raise ValueError("delay_days must be distinct days in increasing order")
        return self


class RePermission(Frozen):
    """The last message before sunset: opening it keeps the member in the audience."""

    channel: ChannelName = "email"
    """Channel of the re-permission message (default email)."""
    hour: Hour = 10.0
    """Hour of the day (0-24) it is sent (default 10)."""
    relevance: Probability = 0.5
    """Its relevance to the member (0-1; default 0.5, neutral)."""


class Sunset(Frozen):
    """Stop marketing to members with no open or click for ``after_days`` (90-120 is usual)."""

    after_days: Annotated[int, Field(ge=1)]
    """Days without an open or click (counted from joining if later) after which marketing to a
    member stops (1 or more; 90-120 is usual)."""
    re_permission: RePermission | None = None
    """A last message sent on the day a member reaches after_days; opening it brings the member
    back into the audience."""


class Strategy(Frozen):
    description: str = ""
    """What the strategy is, in a sentence (shown in the report)."""
    extends: str | None = None
    """Another strategy whose fields this one starts from and overrides."""
    expiry: Expiry | None = None
    """The program's expiry rule under this strategy, if it differs."""
    organisation: Literal["orchestrated", "siloed"] = "orchestrated"
    """orchestrated: caps count every team's messages; siloed: each channel team keeps its own
    caps and members get the sum."""
    caps: dict[CapScope, Cap] = Field(default_factory=dict)
    """Contact caps per channel or kind, e.g. `email: 2 per week`."""
    cooldown_hours: dict[ChannelName, Positive] = Field(default_factory=dict)
    """Hours that must pass after a message before the next on the same channel."""
    quiet_hours: QuietHours | None = None
    """Hours in which nothing is sent (held until they end, or dropped)."""
    sunset: Sunset | None = None
    """Stop mailing members who have not engaged for a while (after a re-permission message)."""
    policy: Policy | None = None
    """A targeting policy choosing, at each send, which candidates get the message."""
    campaigns: dict[str, Campaign] = Field(default_factory=dict)
    """Calendar campaigns by name."""
    journeys: dict[str, Journey] = Field(default_factory=dict)
    """Triggered messages by name (welcome, win-back, expiry reminders, ...)."""

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return {"kind": "plugin", "path": value} if ":" in value else {"kind": value}
        return value

    @model_validator(mode="after")
    def _adaptive_needs_a_cap(self) -> Strategy:
        if isinstance(self.policy, AdaptivePolicy) and "all" not in self.caps:
            raise ValueError(
                "policy adaptive moves personal caps under caps.all: give caps.all "
                "(e.g. '5 per week'), whose maximum bounds them"
            )
        return self

    @property
    def messages(self) -> dict[str, Message]:
        """Campaigns and journeys by name."""
        return {**self.campaigns, **self.journeys}

    @property
    def is_oracle(self) -> bool:
        return isinstance(self.policy, OraclePolicy)


# --- extends ----------------------------------------------------------------------------------


def resolve_extends(strategies: Any) -> tuple[Any, list[str]]:
    """Strategies with ``extends`` merged onto their parents (before validation); problems as
    ``field path: reason``. A child keeps its parent's fields unless it overrides them;
    mappings (campaigns, caps...) merge by key, and ``name: null`` drops an inherited one."""
    if not isinstance(strategies, dict):
        return strategies, []
    problems: list[str] = []
    done: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        if name in done:
            return done[name]
        spec = strategies[name]
        parent = spec.get("extends") if isinstance(spec, dict) else None
        if parent is None:
            done[name] = spec
            return spec
        where = f"strategies.{name}.extends"
        if not isinstance(parent, str) or parent not in strategies:
            known = ", ".join(sorted(str(k) for k in strategies))
            problems.append(f"{where}: unknown strategy {parent!r} (strategies: {known})")
        elif parent in chain:
            problems.append(f"{where}: a cycle ({' -> '.join((*chain, parent))})")
        else:
            base = resolve(parent, (*chain, parent))
            if isinstance(base, dict):
                base = {k: v for k, v in base.items() if k not in ("description", "extends")}
                spec = deep_merge(base, spec, null_removes=True)
        done[name] = spec
        return spec

    resolved = {name: resolve(name, (name,)) for name in strategies}
    return resolved, problems
