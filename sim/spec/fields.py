"""Base types of the scenario schema: the frozen, strict model base and constrained numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CHANNELS: tuple[str, ...] = ("email", "sms", "push")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ChannelName = Literal["email", "sms", "push"]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class Frozen(BaseModel):
    """Base for every scenario block: immutable, unknown keys rejected."""

    # Strict: YAML already types its values, so "5" for a number or true for a count is a
    # mistake to report, not to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
