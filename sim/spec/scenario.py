"""The scenario schema: pydantic models validated once, at the edge.

Units: time in days, money in the scenario's ``currency``, probabilities as fractions 0-1.
Every default below is documented with its source in ``docs/model.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from sim.errors import choices_hint
from sim.model import rewards
from sim.model.satisfaction import BANDS
from sim.spec.fields import CHANNELS, Frozen, NonNegative, Positive, Probability
from sim.spec.program import Program
from sim.spec.strategy import SILENT, Audience, Campaign, Journey, Strategy, resolve_extends
from sim.spec.uncertain import CONTINUOUS, Distribution, Uncertain
from sim.spec.validation import validate

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
    3: the 99.9th percentile is then median x e^9 (8,000 times the median); larger spreads
    overflow the draws to infinity and mean nothing."""

    median: Positive
    sigma: Annotated[float, Field(ge=0.0, le=3.0)] = 0.0


class Normal(Frozen):
    mean: float
    sd: NonNegative = 0.0


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


Multiplier = Annotated[float, Field(gt=0.0, le=100.0)]


class BandMultipliers(Frozen):
    """A hazard multiplier for each Customer Barometer band of the member's current index;
    the engine divides them by their mean at baseline (sim.model.satisfaction)."""

    very_dissatisfied: Multiplier = 1.0  # under 60
    indifferent: Multiplier = 1.0  # 60-70
    satisfied: Multiplier = 1.0  # 70-75
    very_satisfied: Multiplier = 1.0  # 75-80
    delighted: Multiplier = 1.0  # 80 and over

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
    very_dissatisfied: Multiplier = 2.0
    indifferent: Multiplier = 1.3
    very_satisfied: Multiplier = 0.8
    delighted: Multiplier = 0.6


class ExitBands(BandMultipliers):
    very_dissatisfied: Multiplier = 1.5
    indifferent: Multiplier = 1.2
    very_satisfied: Multiplier = 0.9
    delighted: Multiplier = 0.8


class SatisfactionLevels(Frozen):
    """Effects of the level of satisfaction (not only its change): on the hazard of leaving
    the program and on channel exits (and complaints)."""

    leave: LeaveBands = LeaveBands()
    exit: ExitBands = ExitBands()


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
    levels: SatisfactionLevels = SatisfactionLevels()


class Lift(Frozen):
    on_open: NonNegative = 0.08
    on_click: NonNegative = 0.4
    offer: NonNegative = 0.05
    half_life_days: Positive = 3.0
    cap: NonNegative = 4.0
    # How a message's extra purchases scale with the member's own rate (sim.model.lift): 1
    # multiplies the member's rate, 0 gives every member its segment's mean rate times the lift.
    rate_elasticity: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    # Share of the purchases the lift adds that are taken from the member's later purchases
    # (sim.model.pull_forward), repaid with this half-life; 0 is off.
    pull_forward: Probability = 0.3
    pull_forward_half_life_days: Positive = 7.0


class Rewards(Frozen):
    """Purchase dynamics around rewards (sim.model.rewards)."""

    goal_strength: NonNegative = rewards.GOAL_STRENGTH  # rate x (1 + s) at a run-up's end
    goal_curvature: Positive = 1.0
    reset_depth: Probability = rewards.RESET_DEPTH  # rate dip right after a redemption
    reset_half_life_days: Positive = rewards.RESET_HALF_LIFE
    rewarded_lift: NonNegative = rewards.REWARDED_LIFT  # lasting lift after a redemption


class Lapse(Frozen):
    """Marketing and BG/NBD lapse (sim.model.lapse): a lapsed member who opens a message may
    become active again (win-back), and every seen message may make an active member lapse
    (unwanted contact). All 0 (off): lapse is the BG/NBD baseline, shared by every strategy."""

    winback_per_open: Probability = 0.02  # P(revive) of an opened relevance-0.5 message
    winback_per_click: Probability = 0.05  # ... added when the member also clicks
    contact_hazard: Probability = 0.0005  # P(lapse) of a seen message at exit multiplier 1

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
    # A spread of 5 logit units per sd already sends most members to always or never opening.
    open_slope: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    click_slope: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0

    @property
    def on(self) -> bool:
        return self.open_slope > 0 or self.click_slope > 0


class RecaptureRates(Frozen):
    """The probability per purchase day of opting in to each channel (docs/model.md, section
    10: the middle of the plausible ranges; 0 is off)."""

    email: Probability = 0.003
    sms: Probability = 0.001
    push: Probability = 0.003


class Consent(Frozen):
    """Opt-ins after joining (sim.model.consent): on each purchase day, a member not reachable
    on a channel opts in to it with the channel's probability (a checkout prompt, an app
    install). Members who made a spam complaint opt in to email at ``after_complaint`` times
    that rate, and times a message's conversion when it asks (0: never again)."""

    recapture_per_purchase: RecaptureRates = RecaptureRates()
    after_complaint: Probability = 0.0

    @property
    def recaptures(self) -> bool:
        """Whether purchases grant consent on any channel."""
        rates = self.recapture_per_purchase
        return any(getattr(rates, c) > 0 for c in CHANNELS)


class Behaviour(Frozen):
    fatigue: Fatigue = Fatigue()
    relevance: Relevance = Relevance()
    satisfaction: Satisfaction = Satisfaction()
    lift: Lift = Lift()
    rewards: Rewards = Rewards()
    lapse: Lapse = Lapse()
    engagement: Engagement = Engagement()
    consent: Consent = Consent()
    leave_per_year: Probability = 0.04


# --- program --------------------------------------------------------------------------------


class Economics(Frozen):
    gross_margin: Probability = 0.22
    discount_rate_annual: NonNegative = 0.08
    attribution_window_days: NonNegative = 3.0


class Objective(Frozen):
    kpi: str = "clv_with_terminal"
    sense: Literal["max", "min"] = "max"


class History(Frozen):
    """The plan that produced the transactions the population was fitted on (``loyaltysim
    calibrate``). Purchase rates and dropout are then scaled per segment so that this plan,
    not ``silent``, reproduces the fitted BG/NBD behaviour (docs/model.md, section 2)."""

    strategy: Annotated[str, Field(min_length=1)]


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
        found = (_uncertain_problem(resolved, *item) for item in uncertain.parameters.items())
        return [problem for problem in found if problem is not None]

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
    ) -> Scenario:
        """A copy with the values at dotted paths (``{"population.size": 2000}``) replaced,
        validated as a file would be: a bad value raises SimInputError naming ``source`` and
        its field path (``model_copy`` would skip the check). With ``nearest_integer``, a
        number set where the scenario holds an integer takes the nearest integer (a draw from
        a continuous prior)."""
        data = self.model_dump(exclude_unset=True)
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
