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
    start_per_week: Annotated[int, Field(ge=1, le=50)] = 3
    # At least 1: a member at 0 would get nothing, so would never be seen again to move up.
    min_per_week: Annotated[int, Field(ge=1, le=50)] = 1
    max_per_week: Annotated[int, Field(ge=1, le=50)] = 7
    # Engagement: a member's opens (28 days) against what the strategy's rates predict.
    saturated_below: NonNegative = 0.5
    undersaturated_above: NonNegative = 1.5

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
    channels: Annotated[list[ChannelName], Field(min_length=1)] = Field(
        default_factory=lambda: ["email", "push"]
    )
    prior_sends: NonNegative = 2.0  # pseudo-sends at the strategy's own open rate


class OraclePolicy(Frozen):
    """Sees latent pressure: sends only while the message keeps the member within tolerance.
    Not a policy a marketer can run; an upper bound for the real ones."""

    kind: Literal["oracle"]
    headroom: Positive = 1.0  # send while pressure after the message <= headroom x tolerance


class PluginPolicy(Frozen):
    """A Python class ``package.module:ClassName`` implementing sim.strategies.policy.Policy."""

    kind: Literal["plugin"]
    path: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    options: dict[str, Any] = Field(default_factory=dict)


Policy = Annotated[
    AdaptivePolicy | ChannelChoicePolicy | OraclePolicy | PluginPolicy,
    Field(discriminator="kind"),
]
