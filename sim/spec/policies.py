"""The policy schema: built-in policies and plug-ins (sim.strategies.policy runs them).

Validation checks a plug-in's ``module:Class`` form only: it never imports user code
(sim.strategies.compiled loads it when a run or ``validate`` compiles the strategies)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sim.spec.fields import ChannelName, Frozen, NonNegative, Positive


class AdaptivePolicy(Frozen):
    """Saturation classes from each member's last 28 days (Salesforce): saturated members'
    personal cap under the strategy's ``all`` cap moves down one step a week,
    undersaturated members' up one step (it needs an ``all`` cap: its maximum bounds them)."""

    kind: Literal["adaptive"]
    """adaptive: selects this policy, personal caps moved by each member's engagement."""
    start_per_week: Annotated[int, Field(ge=1, le=50)] = 3
    """Every member's personal cap at the start, in messages per window of the all cap (1-50;
    default 3, an assumption)."""
    min_per_week: Annotated[int, Field(ge=1, le=50)] = 1
    """The lowest a personal cap goes (1-50; default 1). At least 1: a member at 0 would get
    nothing, so would never be seen again to move up."""
    max_per_week: Annotated[int, Field(ge=1, le=50)] = 7
    """The highest a personal cap goes (1-50; default 7, an assumption)."""
    saturated_below: NonNegative = 0.5
    """A member whose opens over the last 28 days are below this times what the strategy's open
    rates predict, and who clicked nothing, is saturated: the cap goes down one step (default
    0.5, an assumption)."""
    undersaturated_above: NonNegative = 1.5
    """A member whose opens are above this times the prediction is undersaturated: the cap goes
    up one step (default 1.5, an assumption)."""

    @model_validator(mode="after")
    def _ordered(self) -> AdaptivePolicy:
        if not self.min_per_week <= self.start_per_week <= self.max_per_week:
            raise ValueError("need min_per_week <= start_per_week <= max_per_week")
        if self.saturated_below >= self.undersaturated_above:
            raise ValueError("saturated_below must be under undersaturated_above")
        return self


class ChannelChoicePolicy(Frozen):
    """Send each message on the channel the member opens most (28 days, smoothed)."""

    kind: Literal["engagement_channel"]
    """engagement_channel: selects this policy, each message on the channel the member opens
    most."""
    channels: Annotated[list[ChannelName], Field(min_length=1)] = Field(
        default_factory=lambda: ["email", "push"]
    )
    """The channels to choose from (at least one; default email and push: SMS left out for its
    cost and opt-out rate)."""
    prior_sends: NonNegative = 2.0
    """Pretend sends at the strategy's own open rate added to each member's last 28 days of sends
    and opens, so that a short history does not decide alone (default 2, an assumption)."""


class OraclePolicy(Frozen):
    """Sees latent pressure: sends only while the message keeps the member within tolerance.
    Not a policy a marketer can run; an upper bound for the real ones."""

    kind: Literal["oracle"]
    """oracle: selects this policy, an upper bound that sees each member's fatigue."""
    headroom: Positive = 1.0
    """Send while the member's contact pressure after the message is at most headroom times its
    tolerance (default 1: within tolerance)."""


class PluginPolicy(Frozen):
    """A Python class ``package.module:ClassName`` implementing sim.strategies.policy.Policy."""

    kind: Literal["plugin"]
    """plugin: selects a policy of your own, a Python class (it runs only with
    --allow-plugins)."""
    path: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    """The class, as package.module:ClassName."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for the class's constructor (default none)."""


Policy = Annotated[
    AdaptivePolicy | ChannelChoicePolicy | OraclePolicy | PluginPolicy,
    Field(discriminator="kind"),
]
