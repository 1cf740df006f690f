"""The scenario schema: pydantic models validated once, at the edge.

Units: time in days, money in the scenario's ``currency``, probabilities as fractions 0-1.
Every default below is documented with its source in ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from sim.errors import SimInputError, choices_hint
from sim.model import rewards
from sim.model.satisfaction import BANDS
from sim.spec.fields import CHANNELS, Frozen, NonNegative, Positive, Probability
from sim.spec.program import Program
from sim.spec.strategy import SILENT, Audience, Campaign, Journey, Strategy, resolve_extends
from sim.spec.uncertain import CONTINUOUS, Distribution, Uncertain, reach
from sim.spec.validation import validate

# Day 0 of a scenario that names no start_date: a Monday, in a leap year.
DEFAULT_START = date(2024, 1, 1)

# --- population -----------------------------------------------------------------------------


class PurchaseModel(Frozen):
    """BG/NBD: purchase rate ~ Gamma(r, alpha) while active; after each purchase the member
    lapses with probability p ~ Beta(a, b)."""

    r: Positive
    """BG/NBD shape of the members' purchase rates (Gamma): the smaller, the more the rates
    differ between members. With alpha it sets the mean rate r / alpha (the demo: 0.5-3;
    CDNOW's fit: 0.24)."""
    alpha: Positive
    """BG/NBD scale of the purchase rates, in time_unit (days or weeks). Mean purchases per time
    unit = r / alpha; e.g. r 3, alpha 17.5 days: a visit about every 6 days."""
    a: Positive
    """BG/NBD dropout: p ~ Beta(a, b) is the chance of lapsing after each purchase (the demo: a
    0.5-0.8; CDNOW's fit: 0.79)."""
    b: Positive
    """BG/NBD dropout Beta's b: the mean chance of lapsing per purchase is a / (a + b). The demo's
    grocery segments use 26-250; CDNOW's fit is 2.4."""
    time_unit: Literal["day", "week"] = "day"
    """Unit of alpha: day (default) or week, as the fit that produced it (CDNOW's is per week)."""

    @property
    def alpha_days(self) -> float:
        """alpha in days: a rate per week is 7 times a rate per day, so alpha scales by 7."""
        return self.alpha * (7.0 if self.time_unit == "week" else 1.0)


# Mean spend per purchase above which a scenario is a typo: a million in any currency. Also
# keeps points (spend x points per currency) far inside int64.
MAX_MEAN_SPEND = 1e6


class SpendModel(Frozen):
    """Gamma-Gamma spend per purchase: z ~ Gamma(p, nu), nu ~ Gamma(q, v); currency units."""

    p: Positive
    """Gamma-Gamma shape of one purchase's value around the member's mean: higher, less varied
    baskets (the demo: 6; CDNOW's fit: 6.25)."""
    q: Annotated[float, Field(gt=1.0)]
    """Gamma-Gamma shape of the members' mean spends (above 1): the lower, the more members
    differ (the demo: 4; CDNOW's fit: 3.74)."""
    v: Positive
    """Gamma-Gamma scale, in the scenario's currency: the mean basket is p v / (q - 1)."""

    @model_validator(mode="after")
    def _plausible_mean(self) -> SpendModel:
        mean = self.p * self.v / (self.q - 1.0)
        if mean > MAX_MEAN_SPEND:
            raise ValueError(
                f"mean spend per purchase p * v / (q - 1) = {mean:.4g}, above {MAX_MEAN_SPEND:g}"
            )
        return self


class LogNormal(Frozen):
    """A positive quantity with the given median and log-scale spread (sigma). sigma at most
    3: the 99.9th percentile is then median x e^9.27 (about 10,600 times the median); larger spreads
    overflow the draws to infinity and mean nothing."""

    median: Positive
    """The middle member's value (half the members lie below it), in the quantity's own unit."""
    sigma: Annotated[float, Field(ge=0.0, le=3.0)] = 0.0
    """How much members differ, on a log scale (0-3): 0 gives every member the median; at 0.6
    about two members in three lie between 0.55 and 1.8 times the median."""


class Normal(Frozen):
    """A quantity that varies between members around a mean, following a normal (bell)
    curve."""

    mean: float
    """The members' average value, in the quantity's own unit."""
    sd: NonNegative = 0.0
    """Standard deviation: how far members typically lie from the mean, in the same unit (0: every
    member at the mean)."""


class OptIn(Frozen):
    """Share of members opted in to each channel when they join."""

    email: Probability = 0.0
    """Share of joining members who accept email (0-1; the demo: 0.6-0.75)."""
    sms: Probability = 0.0
    """Share of joining members who accept SMS (0-1; the demo: 0.25-0.35)."""
    push: Probability = 0.0
    """Share of joining members with the app and push enabled (0-1; the demo: 0.35-0.5)."""


class Segment(Frozen):
    share: Annotated[float, Field(gt=0.0, le=1.0)]
    """Share of the members in this segment (0-1); the segments' shares sum to 1."""
    purchase: PurchaseModel
    """How often the segment buys and how soon it lapses (BG/NBD); `loyaltysim calibrate` fits it
    from transactions."""
    spend: SpendModel
    """What one purchase is worth (Gamma-Gamma)."""
    opt_in: OptIn
    """Consent per channel when a member joins."""
    tolerance: LogNormal = LogNormal(median=8.0, sigma=0.6)
    """Contact pressure a member accepts before fatigue sets in (log-normal median and sigma), in
    units of one relevance-0.5 email's undecayed pressure; default median 8."""
    relevance_sensitivity: LogNormal = LogNormal(median=1.0, sigma=0.4)
    """How strongly irrelevant messages annoy and relevant ones engage (log-normal; 1 is
    average)."""
    satisfaction: Normal = Normal(mean=72.0, sd=8.0)
    """Starting satisfaction index (normal mean and sd on the 0-100 scale, read on the Customer
    Barometer's bands: 70-75 satisfied, 75-80 very satisfied)."""

    @field_validator("satisfaction")
    @classmethod
    def _index_range(cls, value: Normal) -> Normal:
        if not 0.0 <= value.mean <= 100.0:
            raise ValueError("satisfaction mean must lie on the 0-100 index scale")
        return value


# Members a run may hold (the starting ones and all who join): 100 million members take about
# 60 GB (docs/performance.md: 0.6 KB a member for four strategies), beyond any one machine
# this tool runs on; clusters split a population into shards below that.
MAX_MEMBERS = 100_000_000


class Population(Frozen):
    size: Annotated[int, Field(gt=0, le=MAX_MEMBERS)]
    """Members at day 0."""
    acquisition_per_day: NonNegative = 0.0
    """New members joining per day (e.g. 12 a day is about 9% a year for 50,000 members)."""
    segments: Annotated[dict[str, Segment], Field(min_length=1)]
    """The members' segments by name, each with its share, purchases, spend and consent."""
    # Product categories and their shares of all spend; each member's own shares are drawn
    # from a Dirichlet around them (lower concentration: more varied tastes).
    categories: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=dict)
    """Product categories and their shares of all spend (summing to 1); each member's own shares
    are drawn around them."""
    preference_concentration: Positive = 2.0
    """Dirichlet concentration of members' category shares: lower, more varied tastes."""

    @field_validator("categories")
    @classmethod
    def _category_shares(cls, categories: dict[str, float]) -> dict[str, float]:
        if categories and abs(sum(categories.values()) - 1.0) > 1e-6:
            raise ValueError(f"category shares must sum to 1, not {sum(categories.values()):g}")
        return categories

    @field_validator("segments")
    @classmethod
    def _shares_sum_to_one(cls, segments: dict[str, Segment]) -> dict[str, Segment]:
        total = sum(s.share for s in segments.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1, they sum to {total:.6g}")
        return segments


# --- channels -------------------------------------------------------------------------------


class Reputation(Frozen):
    """Sender reputation: complaint rate over a rolling window sets inbox placement for all."""

    window_days: Annotated[int, Field(ge=1)] = 30
    """Days over which the complaint rate (spam complaints per email reaching the inbox) is
    measured, a rolling window (default 30, an assumption)."""
    good_below: Probability = 0.001
    """Complaint rate (fraction 0-1) up to which every email reaches the inbox; default 0.001,
    Gmail's bulk-sender guideline of staying under 0.10%."""
    limit: Probability = 0.003
    """Complaint rate (fraction 0-1) at which inbox placement has fallen to placement_at_limit;
    default 0.003, Gmail's limit of 0.30%. Above it placement falls on, to placement_floor at
    twice the limit."""
    placement_at_limit: Probability = 0.5
    """Share of emails reaching the inbox (0-1) when the complaint rate is at the limit; default
    0.5, an assumption (providers do not publish this)."""
    placement_floor: Probability = 0.2
    """Lowest share of emails reaching the inbox (0-1), reached at twice the limit; default 0.2,
    an assumption."""

    @model_validator(mode="after")
    def _ordered(self) -> Reputation:
        if self.limit <= self.good_below:
            raise ValueError("limit must be above good_below")
        if self.placement_floor > self.placement_at_limit:
            raise ValueError("placement_floor must not exceed placement_at_limit")
        return self


class Channel(Frozen):
    """Base rates per delivered message for a relevance-0.5 message to an unfatigued member."""

    cost: NonNegative
    """Cost of one message sent, in the scenario's currency (an email costs whether it reaches
    the inbox or spam). Defaults: email 0.03, SMS 0.45, push 0.002 (assumptions)."""
    open: Probability
    """Base chance (0-1) that a message the member sees (an email in the inbox) is opened, or an
    SMS read. Defaults: email 0.22 (Mailchimp 2018: 21.09%, 2019: 22.71%), SMS 0.9, push 0.06."""
    click: Probability
    """Base chance (0-1) that a seen message is clicked, per message rather than per open, so at
    most the open rate. Defaults: email 0.026 (Mailchimp 2018: 2.61%), SMS 0.04, push 0.015."""
    intrusiveness: Positive
    """Contact pressure one relevance-0.5 message adds, in email units (an email is 1). Defaults:
    SMS 2.5 and push 1.8, assumptions (SMS range 1.25-5, push 0.9-3.6)."""
    exit: Probability
    """Base chance (0-1) that a seen message makes the member leave the channel (unsubscribe, SMS
    STOP, push disabled), without needing an open. Defaults: email 0.0018, SMS 0.018, push
    0.002."""
    complaint: Probability = 0.0
    """Base chance (0-1) that a seen email is reported as spam (email only). A complaint is also
    an exit, so it cannot exceed the exit rate. Default 0.0001 (Mailchimp 2018: 0.012%)."""
    reputation: Reputation | None = None
    """Sender reputation (email only): spam complaints lower the share of emails reaching the
    inbox. On for email by default; null turns it off (every email reaches the inbox)."""

    @model_validator(mode="after")
    def _click_within_open(self) -> Channel:
        if self.click > self.open:
            raise ValueError("click rate cannot exceed the open rate")
        if self.open == 0.0 and self.click > 0.0:
            raise ValueError("click rate must be 0 when the open rate is 0")
        if self.complaint > self.exit:
            raise ValueError("complaint rate cannot exceed the exit rate (a complaint is an exit)")
        return self


DEFAULT_CHANNELS: dict[str, dict[str, object]] = {
    "email": {
        "cost": 0.03,
        "open": 0.22,
        "click": 0.026,
        "intrusiveness": 1.0,
        "exit": 0.0018,
        "complaint": 0.0001,
        "reputation": {},
    },
    "sms": {"cost": 0.45, "open": 0.9, "click": 0.04, "intrusiveness": 2.5, "exit": 0.018},
    "push": {"cost": 0.002, "open": 0.06, "click": 0.015, "intrusiveness": 1.8, "exit": 0.002},
}


class Channels(Frozen):
    """Per-channel parameters; a scenario gives only what differs from the defaults."""

    email: Channel
    """Email's cost, base rates, intrusiveness and sender reputation; give only what differs from
    the defaults."""
    sms: Channel
    """SMS's cost, base rates and intrusiveness; give only what differs from the defaults."""
    push: Channel
    """App push's cost, base rates and intrusiveness; give only what differs from the defaults."""

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        merged: dict[str, object] = {}
        for name, default in DEFAULT_CHANNELS.items():
            given = value.get(name, {})
            merged[name] = {**default, **given} if isinstance(given, dict) else given
        merged.update({k: v for k, v in value.items() if k not in DEFAULT_CHANNELS})
        return merged

    @model_validator(mode="after")
    def _reputation_is_email_only(self) -> Channels:
        problems = []
        for name in ("sms", "push"):
            if getattr(self, name).reputation is not None:
                problems.append(f"{name}.reputation: applies to email only")
            if getattr(self, name).complaint > 0:
                problems.append(f"{name}.complaint: applies to email only")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- behaviour (the model's latent mechanisms) ---------------------------------------------


class Fatigue(Frozen):
    """Contact pressure: each seen message adds to it, it fades over time, and pressure beyond a
    member's tolerance lowers opens and clicks and raises exits (docs/model.md, section 4)."""

    half_life_days: Positive = 7.0
    """Days for a message's contact pressure to fade by half (default 7, an assumption; range
    3-21 days)."""
    cross_channel: Probability = 0.5
    """How much pressure from the other channels counts on a channel (0-1): 0 each channel is felt
    apart, 1 all channels are one pressure (default 0.5, an assumption)."""
    open_slope: NonNegative = 1.0
    """How fast opens fall as felt pressure exceeds the tolerance (log-odds per unit of excess):
    with felt pressure twice the tolerance, an email's 0.22 open rate falls to 0.09 at 1 (0.15 at
    0.5, 0.04 at 2). Default 1, an assumption; range 0.5-2."""
    click_slope: NonNegative = 1.0
    """How fast clicks fall as felt pressure exceeds the tolerance, like open_slope (default 1,
    an assumption; range 0.5-2)."""
    exit_slope: NonNegative = 1.5
    """How fast exits (and complaints) rise as felt pressure exceeds the tolerance: at 1.5, felt
    pressure twice the tolerance makes an exit 4.5 times as likely. Calibrated, not published;
    range 0.75-3."""


class Relevance(Frozen):
    """How a message's relevance (0-1, 0.5 neutral) moves the member's responses, scaled by the
    member's relevance sensitivity (docs/model.md, section 4)."""

    open_slope: NonNegative = 0.6
    """How much relevance raises opens (log-odds): at 0.6 a fully relevant email is opened about
    34% of the time, against 22% for a neutral one. Default 0.6, an assumption; range 0.3-1.2."""
    click_slope: NonNegative = 1.0
    """How much relevance raises clicks once opened (log-odds; default 1, an assumption; range
    0.5-2)."""
    exit_slope: NonNegative = 0.7
    """How much irrelevance raises exits and complaints (irrelevance is a main unsubscribe
    reason); default 0.7, an assumption; range 0.35-1.4."""


Multiplier = Annotated[float, Field(gt=0.0, le=100.0)]


class BandMultipliers(Frozen):
    """A hazard multiplier for each Customer Barometer band of the member's current index;
    the engine divides them by their mean at baseline (sim.model.satisfaction)."""

    very_dissatisfied: Multiplier = 1.0
    """Multiplier for members whose current index is under 60 (very dissatisfied), relative to
    the other bands (over 0, at most 100)."""
    indifferent: Multiplier = 1.0
    """Multiplier for an index of 60 to under 70 (indifferent)."""
    satisfied: Multiplier = 1.0
    """Multiplier for an index of 70 to under 75 (satisfied); default 1."""
    very_satisfied: Multiplier = 1.0
    """Multiplier for an index of 75 to under 80 (very satisfied)."""
    delighted: Multiplier = 1.0
    """Multiplier for an index of 80 and over (delighted)."""

    @property
    def table(self) -> tuple[float, ...]:
        """The multipliers, lowest band first."""
        return tuple(getattr(self, band) for band in BANDS)

    @property
    def on(self) -> bool:
        """Whether bands differ: normalised, equal multipliers are all 1."""
        return len(set(self.table)) > 1


# Defaults in the middle of the ranges of docs/model.md (section 10), each band with its own
# default so that a partial block (``leave: {delighted: 0.5}``) keeps the others; all 1 is off.
class LeaveBands(BandMultipliers):
    """How much more or less likely members are to leave the program in each satisfaction band
    (by default the satisfied band, 70-75, is 1)."""

    very_dissatisfied: Multiplier = 2.0
    """Leaving multiplier under 60 (very dissatisfied); default 2.0, plausible range 1.5-3."""
    indifferent: Multiplier = 1.3
    """Leaving multiplier at 60-70 (indifferent); default 1.3, plausible range 1-1.5."""
    very_satisfied: Multiplier = 0.8
    """Leaving multiplier at 75-80 (very satisfied); default 0.8, plausible range 0.7-1."""
    delighted: Multiplier = 0.6
    """Leaving multiplier at 80 and over (delighted); default 0.6, plausible range 0.4-0.8."""


class ExitBands(BandMultipliers):
    """How much more or less likely members are to leave a channel (unsubscribe or complain) in
    each satisfaction band (by default the satisfied band, 70-75, is 1)."""

    very_dissatisfied: Multiplier = 1.5
    """Exit multiplier under 60 (very dissatisfied); default 1.5, plausible range 1.2-2."""
    indifferent: Multiplier = 1.2
    """Exit multiplier at 60-70 (indifferent); default 1.2, plausible range 1-1.3."""
    very_satisfied: Multiplier = 0.9
    """Exit multiplier at 75-80 (very satisfied); default 0.9, plausible range 0.8-1."""
    delighted: Multiplier = 0.8
    """Exit multiplier at 80 and over (delighted); default 0.8, plausible range 0.6-0.9."""


class SatisfactionLevels(Frozen):
    """Effects of the level of satisfaction (not only its change): on the hazard of leaving
    the program and on channel exits (and complaints)."""

    leave: LeaveBands = LeaveBands()
    """Multipliers of the chance of leaving the program, per satisfaction band (all 1: off)."""
    exit: ExitBands = ExitBands()
    """Multipliers of the chance of a channel exit or complaint, per satisfaction band (all 1:
    off)."""


class Satisfaction(Frozen):
    """A satisfaction index (0-100, Customer Barometer scale) moved by messages, rewards, expiry
    and offers, and its effect on purchases, exits and leaving (docs/model.md, section 5)."""

    half_life_days: Positive = 90.0
    """Days for a change in satisfaction to fade by half (default 90, an assumption; range 30-365
    days)."""
    time_effort_per_excess: NonNegative = 0.4
    """Index points lost per seen message for each unit of contact pressure above the member's
    tolerance (over-contact as effort imposed on the member). Calibrated; range 0.2-0.8."""
    personalisation_per_message: NonNegative = 0.15
    """Index points a seen message adds when fully relevant, or takes away when irrelevant (none
    at relevance 0.5), for a member of typical sensitivity; default 0.15, range 0.075-0.3."""
    redemption_lift: NonNegative = 1.5
    """Index points gained on a day the member redeems a reward (default 1.5, an assumption;
    range 0.75-3)."""
    expiry_drop: NonNegative = 4.0
    """Index points lost when the member's points expire (default 4, an assumption; range
    2-8)."""
    offer_met: NonNegative = 1.0
    """Index points gained when the member reaches a spend target (expectations met); default 1,
    an assumption; range 0.5-2."""
    offer_missed: NonNegative = 2.0
    """Index points lost when a spend target runs out unreached: a missed target disappoints more
    than a met one pleases. Default 2, an assumption; range 1-4."""
    purchase_slope: NonNegative = 0.1
    """How a change in satisfaction moves purchases: at 0.1 a drop of 10 index points multiplies
    the purchase rate by 0.90. An assumption; range 0.05-0.2."""
    exit_slope: NonNegative = 0.3
    """How a change in satisfaction moves channel exits: at 0.3 a drop of 10 index points makes
    an exit 1.35 times as likely. An assumption; range 0.15-0.6."""
    leave_slope: NonNegative = 0.5
    """How a change in satisfaction moves leaving the program: at 0.5 a drop of 10 index points
    makes leaving 1.65 times as likely. An assumption; range 0.25-1."""
    levels: SatisfactionLevels = SatisfactionLevels()
    """Effects of the satisfaction level itself, not only its change, on leaving and channel
    exits, by Customer Barometer band (on by default)."""


class Lift(Frozen):
    """Extra purchases after a member opens a message (docs/model.md, section 6)."""

    on_open: NonNegative = 0.08
    """Purchase lift of an opened relevance-0.5 message: the member's purchase rate rises by this
    fraction (0.08: +8%) and fades with half_life_days. Calibrated; range 0.04-0.16."""
    on_click: NonNegative = 0.4
    """Lift added when the member also clicks (0.4: +40%). Calibrated; range 0.2-0.8."""
    offer: NonNegative = 0.05
    """Lift added when the opened message carries an offer (0.05: +5%). Calibrated; range
    0.025-0.1."""
    half_life_days: Positive = 3.0
    """Days for a message's lift to fade by half (default 3, an assumption; range 1.5-6)."""
    cap: NonNegative = 4.0
    """Largest total lift: at 4, messages can at most make a member buy 5 times as often as
    without them (an assumption; range 2-8)."""
    rate_elasticity: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    """How a message's extra purchases scale with the member's own rate (0-1): 1 (the default)
    multiplies the member's rate, so heavy buyers gain most; 0 gives every member its segment's
    mean rate times the lift."""
    pull_forward: Probability = 0.3
    """Share (0-1) of the purchases a message adds that are taken from the member's later
    purchases (stock-piling, the dip after a promotion); 0 is off. Default 0.3, plausible range
    0.1-0.4 (van Heerde, Leeflang & Wittink 2004)."""
    pull_forward_half_life_days: Positive = 7.0
    """Days for the purchases owed to halve as they are repaid from later purchases (default 7,
    an assumption; range 3-21)."""
    conversion_per_click: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """Expected extra purchases from a click on a relevance-0.5 message, whatever the member's
    own rate, spread over the next days as the lift fades (purchase intent a click shows and
    the message caused). 0 (the default) is off; plausible range 0-0.2 (docs/model.md, section
    6: 0.12-0.21 reproduces a single-email test's +54% to +88% conversion)."""


class Rewards(Frozen):
    """Purchase dynamics around rewards (sim.model.rewards)."""

    goal_strength: NonNegative = rewards.GOAL_STRENGTH
    """How much members speed up as a reward nears: at the end of the run-up to a reward they buy
    (1 + this) times as often as at its start. Default 0.25: gaps between purchases about 20%
    shorter at the last stamp than at the first (Kivetz, Urminsky & Zheng 2006)."""
    goal_curvature: Positive = 1.0
    """Shape of that speed-up: 1 (the default) grows it evenly with progress, above 1 gathers it
    near the reward, below 1 spreads it earlier. An assumption; range 0.5-2."""
    reset_depth: Probability = rewards.RESET_DEPTH
    """Dip in the purchase rate right after a redemption (0-1; 0.10: 10% fewer purchases), fading
    with reset_half_life_days. An assumption; range 0.05-0.2."""
    reset_half_life_days: Positive = rewards.RESET_HALF_LIFE
    """Days for the post-reward dip to halve, and for rewarded_lift to build up (default 7, an
    assumption; range 3.5-14)."""
    rewarded_lift: NonNegative = rewards.REWARDED_LIFT
    """Lasting rise in the purchase rate after the member's first redemption (0.03: +3%). An
    assumption after Dorotic, Verhoef, Fok & Bijmolt 2014; range 0.015-0.06."""


class Lapse(Frozen):
    """Marketing and BG/NBD lapse (sim.model.lapse): a lapsed member who opens a message may
    become active again (win-back), and every seen message may make an active member lapse
    (unwanted contact). All 0 (off): lapse is the BG/NBD baseline, shared by every strategy."""

    winback_per_open: Probability = 0.02
    """Chance (0-1) that a lapsed member who opens a relevance-0.5 message becomes active again.
    No published rate; default 0.02, plausible range 0-0.1."""
    winback_per_click: Probability = 0.05
    """Chance (0-1) added when that member also clicks (default 0.05, plausible range 0-0.1)."""
    contact_hazard: Probability = 0.0005
    """Chance (0-1) that a message an active member sees makes it lapse (stop buying), for a
    relevance-0.5 message within tolerance at baseline satisfaction; more with over-contact,
    irrelevance or dissatisfaction. Default 0.0005, plausible range 0-0.002."""

    @property
    def enabled(self) -> bool:
        """Whether lapse depends on the strategy (any parameter above 0)."""
        return self.winback_per_open > 0 or self.winback_per_click > 0 or self.contact_hazard > 0


class Engagement(Frozen):
    """Members' engagement with messages, correlated with their purchase rate
    (sim.model.engagement): a standard-normal factor per member, with correlation
    ``correlation`` to the normal score of the member's rate within its segment, shifts the
    open logit by ``open_slope`` and the click-to-open logit by ``click_slope`` times the
    factor (logit units per standard deviation). Off while both slopes are 0."""

    correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.3
    """Correlation (-1 to 1) between how readily a member opens and how much it buys, within its
    segment: the heavier buyers open more. Default 0.3, plausible range 0.2-0.6."""
    # A spread of 5 logit units per sd already sends most members to always or never opening.
    open_slope: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    """How much members differ in opening (0-5, log-odds per standard deviation; 0: all alike).
    At 1 the middle 95% of members' email open chances lie between about 0.03 and 0.61. Default
    1, plausible range 0.5-1.5."""
    click_slope: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0
    """How much members differ in clicking once they open, like open_slope (0-5; default 0,
    plausible range 0-1)."""

    @property
    def on(self) -> bool:
        return self.open_slope > 0 or self.click_slope > 0


class RecaptureRates(Frozen):
    """The probability per purchase day of opting in to each channel (docs/model.md, section
    10: the middle of the plausible ranges; 0 is off)."""

    email: Probability = 0.003
    """Chance (0-1) per purchase day that a member not reachable by email opts in (a checkout
    prompt). No published rate; default 0.003, plausible range 0-0.01."""
    sms: Probability = 0.001
    """Chance (0-1) per purchase day of opting in to SMS (default 0.001, plausible range
    0-0.003)."""
    push: Probability = 0.003
    """Chance (0-1) per purchase day of opting in to push, e.g. installing the app at the till
    (default 0.003, plausible range 0-0.01)."""


class Consent(Frozen):
    """Opt-ins after joining (sim.model.consent): on each purchase day, a member not reachable
    on a channel opts in to it with the channel's probability (a checkout prompt, an app
    install). Members who made a spam complaint opt in to email at ``after_complaint`` times
    that rate, and times a message's conversion when it asks (0: never again)."""

    recapture_per_purchase: RecaptureRates = RecaptureRates()
    """Per channel, the chance per purchase day that a member not reachable on it opts in (0:
    off)."""
    after_complaint: Probability = 0.0
    """Factor (0-1) on those chances, and on a consent request's conversion, for a member who
    made a spam complaint to opt in to email again. Default 0: never again; range 0-0.5."""

    @property
    def recaptures(self) -> bool:
        """Whether purchases grant consent on any channel."""
        rates = self.recapture_per_purchase
        return any(getattr(rates, c) > 0 for c in CHANNELS)


class Behaviour(Frozen):
    """How members respond to messages and to the program (docs/model.md, sections 3-7)."""

    fatigue: Fatigue = Fatigue()
    """Contact pressure, how it fades, and how too much of it lowers opens and raises exits."""
    relevance: Relevance = Relevance()
    """How a message's relevance moves opens, clicks and exits."""
    satisfaction: Satisfaction = Satisfaction()
    """The satisfaction index: what moves it, and what it moves (purchases, exits, leaving)."""
    lift: Lift = Lift()
    """Extra purchases after an opened message, and the share borrowed from later purchases."""
    rewards: Rewards = Rewards()
    """How rewards shape purchases: a speed-up as a reward nears, a dip after, a lasting lift."""
    lapse: Lapse = Lapse()
    """How messages win lapsed members back, or make active ones lapse."""
    engagement: Engagement = Engagement()
    """How members differ in opening and clicking, and how that goes with how much they buy."""
    consent: Consent = Consent()
    """Opt-ins after joining: at purchases, and when a message asks."""
    leave_per_year: Probability = 0.04
    """Share of members (0-1) who formally leave the program in a year, forfeiting their points
    (most inactivity is lapse, not leaving). Default 0.04, an assumption; range 0.02-0.08."""


# --- program --------------------------------------------------------------------------------


class Economics(Frozen):
    """Money settings for margin, CLV and attribution."""

    gross_margin: Probability = 0.22
    """Gross margin as a fraction (0-1) of spend before discounts; discounts, points and message
    costs come off it. Default 0.22, an assumption (grocery-like retail)."""
    discount_rate_annual: NonNegative = 0.08
    """Yearly rate at which future money is discounted in CLV (0.08: 8% a year; an
    assumption)."""
    attribution_window_days: NonNegative = 3.0
    """Days after the day of an open in which purchases are credited to messages, as last-touch
    reporting does (default 3, an assumption)."""


class Objective(Frozen):
    """The KPI strategies are ranked by, and whether higher or lower is better."""

    kpi: str = "clv_with_terminal"
    """The KPI to rank by, a column of summary.csv (docs/model.md, section 9). Default
    clv_with_terminal: CLV per starting member plus the value of the relationships left at the
    horizon."""
    sense: Literal["max", "min"] = "max"
    """max: higher is better (the default); min: lower is better."""


class History(Frozen):
    """The plan that produced the transactions the population was fitted on (``loyaltysim
    calibrate``). Purchase rates and dropout are then scaled per segment so that this plan,
    not ``silent``, reproduces the fitted BG/NBD behaviour (docs/model.md, section 2)."""

    strategy: Annotated[str, Field(min_length=1)]
    """Name of the scenario's strategy that ran while the purchase data was recorded (e.g.
    business_as_usual)."""


MAX_REPLICATIONS = 10_000
# A run of more parameter draws than this is a typo (at a second a draw, it would take days).
MAX_DRAWS = 100_000
# Top-level values an uncertain block may not draw: they say what is run, not what is assumed.
NOT_UNCERTAIN = frozenset(
    {
        "name",
        "description",
        "currency",
        "seed",
        "replications",
        "draws",
        "objective",
        "history",
        "uncertain",
    }
)


class Scenario(Frozen):
    name: Annotated[str, Field(min_length=1)]
    """The scenario's name (used in results and reports)."""
    description: str = ""
    """What the scenario asks, in a sentence or two."""
    currency: str = "NOK"
    """Currency of every amount in the scenario and its results (e.g. NOK, EUR, USD)."""
    horizon_days: Annotated[int, Field(ge=7, le=36500)]
    """Days simulated (730: two years, long enough for fatigue, exits and expiry to show)."""
    start_date: date = DEFAULT_START
    """Calendar date of day 0, a Monday (weekdays, calendar weeks and event logs count from it):
    it places days of the month, weekdays of the month and calendar months (default
    2024-01-01)."""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    """Base seed: the same scenario and seed give byte-identical results."""
    # 10,000 replications make Monte Carlo error 30 times smaller than 10 do; more buy nothing
    # and cost over 8 CPU-minutes even at 0.05 s for the smallest replication.
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 10
    """Independent replications; their spread gives the Monte Carlo intervals (10 is a start, 30
    for close calls)."""
    # Set: ``loyaltysim run`` decides under uncertainty over this many draws of ``uncertain``
    # (or of the shipped priors) instead of a single run, as ``--draws`` does.
    draws: Annotated[int, Field(ge=1, le=MAX_DRAWS)] | None = None
    """If set, `loyaltysim run` decides under uncertainty over this many draws of `uncertain` (or
    of the shipped priors), as `--draws` does."""
    population: Population
    """Who the members are: size, joiners and segments (or `preset: NAME`)."""
    channels: Channels = Channels.model_validate({})
    """Email, SMS and push: base open, click and exit rates, costs, intrusiveness."""
    behaviour: Behaviour = Behaviour()
    """How members respond to messages: fatigue, relevance, lift, lapse, consent, satisfaction
    (docs/model.md)."""
    program: Program = Program()
    """The loyalty program: points, their value, redemption, expiry, tiers."""
    economics: Economics = Economics()
    """Margins, discounting and other money settings."""
    strategies: Annotated[dict[str, Strategy], Field(min_length=1)]
    """The campaign strategies to compare, by name; `silent` (no marketing) is added as the
    baseline."""
    objective: Objective = Objective()
    """The KPI strategies are ranked by, and whether higher or lower is better (default
    clv_with_terminal, higher)."""
    history: History | None = None
    """The plan that ran while the purchase data was recorded, so its marketing is not counted
    twice."""
    uncertain: Uncertain | None = None
    """Values not known exactly, as distributions by dotted path (docs/uncertainty.md), or `from:
    posterior.csv`."""

    @field_validator("start_date", mode="before")
    @classmethod
    def _date_from_text(cls, value: object) -> object:
        # YAML types an unquoted date; a quoted one, or one from JSON, is ISO text.
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"a date reads YYYY-MM-DD, got {value!r}") from None
        return value

    @field_validator("start_date")
    @classmethod
    def _starts_on_monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(
                f"day 0 is a Monday (weekday campaigns and calendar weeks count from it), and "
                f"{value.isoformat()} is a {value.strftime('%A')}"
            )
        return value

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_from_text(cls, value: object) -> object:
        return {"kpi": value} if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _extends(cls, value: Any) -> Any:
        if not isinstance(value, dict) or "strategies" not in value:
            return value
        strategies, problems = resolve_extends(value["strategies"])
        if problems:
            raise ValueError("; ".join(problems))
        return {**value, "strategies": strategies}

    @field_validator("strategies")
    @classmethod
    def _silent_is_silent(cls, strategies: dict[str, Strategy]) -> dict[str, Strategy]:
        problems = []
        silent = strategies.get(SILENT)
        if silent is not None and silent.messages:
            problems.append(
                "'silent' is the no-marketing counterfactual and takes no campaigns or journeys"
            )
        problems += [
            f"strategy {name!r} has no campaigns or journeys (only 'silent' may be empty)"
            for name, strategy in strategies.items()
            if name != SILENT and not strategy.messages
        ]
        if problems:
            raise ValueError("; ".join(problems))
        if SILENT not in strategies:
            strategies = {SILENT: Strategy(description="no marketing messages"), **strategies}
        return strategies

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        from sim.spec.kpis import KPI_NAMES

        problems = []
        if self.objective.kpi not in KPI_NAMES:
            problems.append(f"objective: unknown KPI {self.objective.kpi!r}")
        if self.history is not None and self.history.strategy not in self.strategies:
            name = self.history.strategy
            problems.append(
                f"history.strategy: unknown strategy {name!r}"
                + choices_hint(name, self.strategy_names, "strategies", quote=True)
            )
        for sname, strategy in self.strategies.items():
            for mname, message in strategy.campaigns.items():
                problems += self._message_problems(f"strategies.{sname}.campaigns.{mname}", message)
            for mname, message in strategy.journeys.items():
                where = f"strategies.{sname}.journeys.{mname}"
                problems += self._message_problems(where, message)
                if message.trigger in ("tier_up", "tier_down") and self.program.tiers is None:
                    problems.append(f"{where}.trigger: {message.trigger} needs program.tiers")
        if self.uncertain is not None:
            problems += self._uncertain_problems(self.uncertain)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _uncertain_problems(self, uncertain: Uncertain) -> list[str]:
        """Paths of the uncertain block that name no value of this scenario, or a value that
        cannot take their distribution's draws."""
        resolved = self.model_dump()
        problems, drawable = [], {}
        for path, dist in uncertain.parameters.items():
            problem = _uncertain_problem(resolved, path, dist)
            if problem is None:
                drawable[path] = dist
            else:
                problems.append(problem)
        return problems + self._reach_problems(drawable)

    def _reach_problems(self, parameters: dict[str, Distribution]) -> list[str]:
        """Priors that can draw values this scenario cannot take: every prior is set to the
        low end of what it draws (sim.spec.uncertain.reach), then to the high end (or each
        value of a choice), all at once, and only where that fails is each tried alone, to
        name it."""
        ends = {path: reach(dist) for path, dist in parameters.items()}
        problems: dict[str, None] = {}  # ordered and without repeats
        for i in range(max(map(len, ends.values()), default=0)):
            together = {path: values[min(i, len(values) - 1)] for path, values in ends.items()}
            joint = self._cannot_take(together)
            if joint is None:
                continue
            alone = {path: self._cannot_take({path: value}) for path, value in together.items()}
            for path, why in alone.items():
                if why is not None:
                    problems[f"uncertain[{path}]: {_reaching(together[path])}: {why}"] = None
            if all(why is None for why in alone.values()):
                joint = f"uncertain: the values together at an end of their ranges: {joint}"
                problems[joint] = None
        return list(problems)

    def _cannot_take(self, values: dict[str, Any]) -> str | None:
        """Why this scenario without its uncertain block cannot take ``values`` (by dotted
        path, as a draw sets them), or None."""
        try:
            self.with_overrides(values, "", nearest_integer=True, plain=True)
        except SimInputError as exc:
            return "; ".join(exc.problems)
        return None

    def value_at(self, path: str) -> Any:
        """The resolved value at a dotted path (``behaviour.fatigue.half_life_days``)."""
        node: Any = self.model_dump()
        for key in path.split("."):
            node = node[key]
        return node

    def holding(self, parameters: dict[str, Distribution]) -> dict[str, Distribution]:
        """The uncertain values (by dotted path) that this scenario holds and can draw: e.g.
        the shipped priors less those of a channel the scenario does not have."""
        resolved = self.model_dump()
        return {
            path: dist
            for path, dist in parameters.items()
            if _uncertain_problem(resolved, path, dist) is None
        }

    def _message_problems(self, where: str, message: Campaign | Journey) -> list[str]:
        """Names a message uses that the scenario does not define."""
        problems = []
        categories = {*self.population.categories, "preferred"}
        category = getattr(message.offer, "category", None)
        if category is not None and not self.population.categories:
            problems.append(f"{where}.offer.category: a category offer needs population.categories")
        elif category is not None and category not in categories:
            problems.append(
                f"{where}.offer.category: unknown category {category!r}; "
                f"population.categories has {sorted(categories)}"
            )
        audience = message.audience
        if isinstance(audience, Audience):
            unknown = sorted(set(audience.segments or ()) - set(self.population.segments))
            if unknown:
                problems.append(f"{where}.audience.segments: unknown segments {unknown}")
            tiers = self.program.tiers
            if audience.tiers is not None and tiers is None:
                problems.append(f"{where}.audience.tiers: needs program.tiers")
            elif audience.tiers is not None:
                unknown = sorted(set(audience.tiers) - {"base", *tiers.levels})
                if unknown:
                    problems.append(f"{where}.audience.tiers: unknown tiers {unknown}")
        return problems

    @model_validator(mode="after")
    def _members_within_bounds(self) -> Scenario:
        joining = self.population.acquisition_per_day * self.horizon_days
        if self.population.size + joining > MAX_MEMBERS:
            raise ValueError(
                f"population: size + acquisition_per_day x horizon_days = "
                f"{self.population.size + joining:.4g} members, above {MAX_MEMBERS:,}"
            )
        return self

    @property
    def consent_changes(self) -> bool:
        """Whether members' consent can change after joining other than by an exit: opt-ins
        at purchases, or a message that asks for consent on another channel."""
        return self.behaviour.consent.recaptures or any(
            message.repermission is not None
            for strategy in self.strategies.values()
            for message in strategy.messages.values()
        )

    @property
    def strategy_names(self) -> list[str]:
        """Strategy names with ``silent`` first (it is the counterfactual for the rest)."""
        return [SILENT] + [s for s in self.strategies if s != SILENT]

    def with_overrides(
        self,
        changes: Mapping[str, Any],
        source: str = "<scenario>",
        *,
        nearest_integer: bool = False,
        plain: bool = False,
    ) -> Scenario:
        """A copy with the values at dotted paths (``{"population.size": 2000}``) replaced,
        validated as a file would be: a bad value raises SimInputError naming ``source`` and
        its field path (``model_copy`` would skip the check). With ``nearest_integer``, a
        number set where the scenario holds an integer takes the nearest integer (a draw from
        a continuous prior); ``plain``: without the uncertain block (the scenario of a draw)."""
        data = self.model_dump(exclude_unset=True, exclude={"uncertain"} if plain else None)
        resolved = self.model_dump() if nearest_integer else {}
        for path, value in changes.items():
            node, held = data, resolved
            *parents, last = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
                held = held.get(part, {}) if isinstance(held, dict) else {}
            current = held.get(last) if isinstance(held, dict) else None
            if isinstance(value, np.generic):
                value = value.item()
            whole = isinstance(current, int) and not isinstance(current, bool)
            if whole and isinstance(value, float):
                value = round(value)
            node[last] = value
        return validate(Scenario, data, source)

    @property
    def plugin_modules(self) -> dict[str, str]:
        """{strategy: module} for every strategy whose policy is a plug-in (user code)."""
        return {
            name: strategy.policy.path.partition(":")[0]
            for name, strategy in self.strategies.items()
            if strategy.policy is not None and strategy.policy.kind == "plugin"
        }


def _reaching(value: Any) -> str:
    """What a prior draws at an end of its range (sim.spec.uncertain.reach), in words."""
    if isinstance(value, float):
        return f"its draws reach {value:.4g}"
    return f"it can draw {value!r}"


def _uncertain_problem(resolved: dict[str, Any], path: str, dist: Distribution) -> str | None:
    """Why ``path`` of an uncertain block cannot be drawn in the resolved scenario, or None."""
    where = f"uncertain[{path}]"  # a key holding dots, as sim.spec.validation writes it
    parts = path.split(".")
    if parts[0] in NOT_UNCERTAIN:
        return f"{where}: {parts[0]} cannot be uncertain"
    node: Any = resolved
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            known = list(node) if isinstance(node, dict) else []
            inside = ".".join(parts[:depth]) or "the scenario"
            return f"{where}: no value {part!r} in {inside}" + choices_hint(
                part, known, inside, quote=True
            )
        node = node[part]
    if isinstance(node, dict | list):
        return f"{where}: names a block, not a value"
    if isinstance(dist, CONTINUOUS) and (
        isinstance(node, bool) or not isinstance(node, int | float)
    ):
        shown = "not set" if node is None else f"{node!r}"
        return f"{where}: a {dist.dist} draw is a number, and this value is {shown}"
    return None
