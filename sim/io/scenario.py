"""The scenario schema: pydantic models validated once, at the edge.

Units: time in days, money in the scenario's ``currency``, probabilities as fractions 0-1.
Every default below is documented with its source in ``docs/model.md``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.io.fields import Frozen, NonNegative, Positive, Probability
from sim.io.program import Expiry, Program
from sim.model import rewards

CHANNELS: tuple[str, ...] = ("email", "sms", "push")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- population -----------------------------------------------------------------------------


class PurchaseModel(Frozen):
    """BG/NBD: purchase rate ~ Gamma(r, alpha) while active; after each purchase the member
    lapses with probability p ~ Beta(a, b)."""

    r: Positive
    alpha: Positive
    a: Positive
    b: Positive
    time_unit: Literal["day", "week"] = "day"

    @property
    def alpha_days(self) -> float:
        """alpha in days: a rate per week is 7 times a rate per day, so alpha scales by 7."""
        return self.alpha * (7.0 if self.time_unit == "week" else 1.0)


class SpendModel(Frozen):
    """Gamma-Gamma spend per purchase: z ~ Gamma(p, nu), nu ~ Gamma(q, v); currency units."""

    p: Positive
    q: Annotated[float, Field(gt=1.0)]
    v: Positive


class LogNormal(Frozen):
    """A positive quantity with the given median and log-scale spread (sigma)."""

    median: Positive
    sigma: NonNegative = 0.0


class Normal(Frozen):
    mean: float
    sd: NonNegative = 0.0


class OptIn(Frozen):
    """Share of members opted in to each channel when they join."""

    email: Probability = 0.0
    sms: Probability = 0.0
    push: Probability = 0.0


class Segment(Frozen):
    share: Annotated[float, Field(gt=0.0, le=1.0)]
    purchase: PurchaseModel
    spend: SpendModel
    opt_in: OptIn
    tolerance: LogNormal = LogNormal(median=8.0, sigma=0.6)
    relevance_sensitivity: LogNormal = LogNormal(median=1.0, sigma=0.4)
    satisfaction: Normal = Normal(mean=72.0, sd=8.0)

    @field_validator("satisfaction")
    @classmethod
    def _index_range(cls, value: Normal) -> Normal:
        if not 0.0 <= value.mean <= 100.0:
            raise ValueError("satisfaction mean must lie on the 0-100 index scale")
        return value


class Population(Frozen):
    size: Annotated[int, Field(gt=0)]
    acquisition_per_day: NonNegative = 0.0
    segments: Annotated[dict[str, Segment], Field(min_length=1)]
    # Product categories and their shares of all spend; each member's own shares are drawn
    # from a Dirichlet around them (lower concentration: more varied tastes).
    categories: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=dict)
    preference_concentration: Positive = 2.0

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
    good_below: Probability = 0.001
    limit: Probability = 0.003
    placement_at_limit: Probability = 0.5
    placement_floor: Probability = 0.2

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
    open: Probability
    click: Probability
    intrusiveness: Positive
    exit: Probability
    complaint: Probability = 0.0
    reputation: Reputation | None = None

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
    sms: Channel
    push: Channel

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
    half_life_days: Positive = 7.0
    cross_channel: Probability = 0.5
    open_slope: NonNegative = 1.0
    click_slope: NonNegative = 1.0
    exit_slope: NonNegative = 1.5


class Relevance(Frozen):
    open_slope: NonNegative = 0.6
    click_slope: NonNegative = 1.0
    exit_slope: NonNegative = 0.7


class Satisfaction(Frozen):
    half_life_days: Positive = 90.0
    time_effort_per_excess: NonNegative = 0.4
    personalisation_per_message: NonNegative = 0.15
    redemption_lift: NonNegative = 1.5
    expiry_drop: NonNegative = 4.0
    offer_met: NonNegative = 1.0  # expectations driver, index points, on reaching a target
    offer_missed: NonNegative = 2.0  # ... and lost on missing it
    purchase_slope: NonNegative = 0.1
    exit_slope: NonNegative = 0.3
    leave_slope: NonNegative = 0.5


class Lift(Frozen):
    on_open: NonNegative = 0.08
    on_click: NonNegative = 0.4
    offer: NonNegative = 0.05
    half_life_days: Positive = 3.0
    cap: NonNegative = 4.0


class Rewards(Frozen):
    """Purchase dynamics around rewards (sim.model.rewards)."""

    goal_strength: NonNegative = rewards.GOAL_STRENGTH  # rate x (1 + s) at a run-up's end
    goal_curvature: Positive = 1.0
    reset_depth: Probability = rewards.RESET_DEPTH  # rate dip right after a redemption
    reset_half_life_days: Positive = rewards.RESET_HALF_LIFE
    rewarded_lift: NonNegative = rewards.REWARDED_LIFT  # lasting lift after a redemption


class Behaviour(Frozen):
    fatigue: Fatigue = Fatigue()
    relevance: Relevance = Relevance()
    satisfaction: Satisfaction = Satisfaction()
    lift: Lift = Lift()
    rewards: Rewards = Rewards()
    leave_per_year: Probability = 0.04


# --- program --------------------------------------------------------------------------------


class Economics(Frozen):
    gross_margin: Probability = 0.22
    discount_rate_annual: NonNegative = 0.08
    attribution_window_days: NonNegative = 3.0


# --- strategies -----------------------------------------------------------------------------

_CAP_TEXT = re.compile(r"^\s*(\d+)\s*per\s*(\d+(?:\.\d+)?)\s*d\s*$")


class Cap(Frozen):
    """At most ``max`` deliveries on a channel within any rolling window of ``days`` days."""

    max: Annotated[int, Field(ge=1, le=50)]
    days: Positive

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            match = _CAP_TEXT.match(value)
            if not match:
                raise ValueError(f"cap {value!r} must read like '3 per 7d'")
            return {"max": int(match[1]), "days": float(match[2])}
        return value


class DiscountOffer(Frozen):
    kind: Literal["discount"]
    percent: Annotated[float, Field(gt=0.0, le=100.0)]
    days: Positive = 7.0


class MultiplierOffer(Frozen):
    """Points x ``multiplier`` for ``days`` days; with a category, on that category's share
    of the basket only (``preferred``: each member's own largest category)."""

    kind: Literal["points_multiplier"]
    multiplier: Annotated[float, Field(gt=1.0)]
    days: Positive = 7.0
    category: str | None = None


class BonusOffer(Frozen):
    kind: Literal["bonus_points"]
    points: Annotated[int, Field(ge=1)]
    days: Positive = 14.0


class SpendTargetOffer(Frozen):
    """Spend ``spend`` within ``days`` days of opening, get ``points`` bonus points."""

    kind: Literal["spend_target"]
    spend: Positive
    points: Annotated[int, Field(ge=1)]
    days: Positive = 14.0


Offer = Annotated[
    DiscountOffer | MultiplierOffer | BonusOffer | SpendTargetOffer, Field(discriminator="kind")
]


class Audience(Frozen):
    segments: Annotated[list[str], Field(min_length=1)]


class Campaign(Frozen):
    channel: Literal["email", "sms", "push"]
    kind: Literal["newsletter", "promo", "bonus_points"] = "newsletter"
    every_days: Positive | None = None
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    hour: Annotated[float, Field(ge=0.0, lt=24.0)] = 9.0
    start_day: NonNegative = 0.0
    audience: Literal["all"] | Audience = "all"
    relevance: Probability = 0.5
    offer: Offer | None = None

    @model_validator(mode="after")
    def _one_cadence(self) -> Campaign:
        if (self.every_days is None) == (self.weekdays is None):
            raise ValueError("give exactly one cadence: every_days or weekdays")
        if self.weekdays is not None and not self.weekdays:
            raise ValueError("weekdays must name at least one day")
        return self


class Strategy(Frozen):
    description: str = ""
    expiry: Expiry | None = None  # the program's expiry rule under this strategy
    caps: dict[Literal["email", "sms", "push"], Cap] = Field(default_factory=dict)
    campaigns: dict[str, Campaign] = Field(default_factory=dict)


class Objective(Frozen):
    kpi: str = "clv_per_member"
    sense: Literal["max", "min"] = "max"


class Scenario(Frozen):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    currency: str = "NOK"
    horizon_days: Annotated[int, Field(ge=7, le=36500)]
    seed: Annotated[int, Field(ge=0)] = 0
    replications: Annotated[int, Field(ge=1)] = 10
    population: Population
    channels: Channels = Channels.model_validate({})
    behaviour: Behaviour = Behaviour()
    program: Program = Program()
    economics: Economics = Economics()
    strategies: Annotated[dict[str, Strategy], Field(min_length=1)]
    objective: Objective = Objective()

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_from_text(cls, value: object) -> object:
        return {"kpi": value} if isinstance(value, str) else value

    @field_validator("strategies")
    @classmethod
    def _silent_is_silent(cls, strategies: dict[str, Strategy]) -> dict[str, Strategy]:
        problems = []
        silent = strategies.get("silent")
        if silent is not None and silent.campaigns:
            problems.append("'silent' is the no-marketing counterfactual and takes no campaigns")
        problems += [
            f"strategy {name!r} has no campaigns (only 'silent' may be empty)"
            for name, strategy in strategies.items()
            if name != "silent" and not strategy.campaigns
        ]
        if problems:
            raise ValueError("; ".join(problems))
        if "silent" not in strategies:
            strategies = {"silent": Strategy(description="no marketing messages"), **strategies}
        return strategies

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        from sim.model.kpis import KPI_NAMES

        problems = []
        if self.objective.kpi not in KPI_NAMES:
            problems.append(f"objective: unknown KPI {self.objective.kpi!r}")
        segments = set(self.population.segments)
        categories = {*self.population.categories, "preferred"}
        for sname, strategy in self.strategies.items():
            for cname, campaign in strategy.campaigns.items():
                category = getattr(campaign.offer, "category", None)
                if category is not None and not self.population.categories:
                    problems.append(
                        f"strategies.{sname}.campaigns.{cname}.offer.category: a category "
                        "offer needs population.categories"
                    )
                elif category is not None and category not in categories:
                    problems.append(
                        f"strategies.{sname}.campaigns.{cname}.offer.category: unknown category "
                        f"{category!r}; population.categories has {sorted(categories)}"
                    )
                if isinstance(campaign.audience, Audience):
                    unknown = sorted(set(campaign.audience.segments) - segments)
                    if unknown:
                        problems.append(
                            f"strategies.{sname}.campaigns.{cname}.audience: "
                            f"unknown segments {unknown}"
                        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def strategy_names(self) -> list[str]:
        """Strategy names with ``silent`` first (it is the counterfactual for the rest)."""
        return ["silent"] + [s for s in self.strategies if s != "silent"]
