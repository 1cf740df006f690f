"""Base types of the scenario schema: the frozen, strict model base and constrained numbers.

Every block refuses what would break a run or a results file before anything runs: numbers
that are not finite or beyond MAX_MAGNITUDE, and names (mapping keys: strategies, segments,
campaigns, ...) that are empty or hold control characters, which would split a CSV row.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

CHANNELS: tuple[str, ...] = ("email", "sms", "push")
# The counts of a campaign report's row (docs/reports.md), in its column order: every exit from
# the channel counts as an unsubscribe, a complaint included.
REPORT_COUNTS: tuple[str, ...] = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ChannelName = Literal["email", "sms", "push"]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]

# A billion: beyond any count, amount (in any currency), duration or rate of a loyalty program,
# and small enough that products of two such values stay exact in float64 and int64.
MAX_MAGNITUDE = 1e9
# Fields with a bound of their own (a seed is any 63-bit number).
UNBOUNDED_FIELDS = frozenset({"seed"})


def control_problem(text: str, what: str = "name") -> str | None:
    """Why ``text`` cannot be a cell of a results file (a control character), or None."""
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        return f"{what} {text!r} holds the control character {bad!r}; it must be plain text"
    return None


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name something in a results file, or None."""
    if not isinstance(name, str):
        return None
    if not name.strip():
        return "a name must not be empty or blank"
    return control_problem(name)


def value_problem(value: Any) -> str | None:
    """Why a validated value cannot be simulated or written, or None: a number that is not
    finite or beyond MAX_MAGNITUDE, or a bad name among the keys of a mapping (searched
    through mappings and lists; nested blocks check themselves)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if abs(value) > MAX_MAGNITUDE:
            return f"must lie within +-{MAX_MAGNITUDE:,.0f}"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = name_problem(key) or value_problem(item)
            if problem:
                return problem
    if isinstance(value, list | tuple):
        for item in value:
            problem = value_problem(item)
            if problem:
                return problem
    return None


class Frozen(BaseModel):
    """Base for every scenario block: immutable, unknown keys rejected, numbers finite and
    bounded, names plain."""

    # Strict: YAML already types its values, so "5" for a number or true for a count is a
    # mistake to report, not to coerce.
    # Attribute docstrings become the JSON Schema's descriptions, which editors show.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in UNBOUNDED_FIELDS:
            problem = value_problem(value)
            if problem:
                raise ValueError(problem)
        return value
