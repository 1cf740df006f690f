"""Every field a marketer edits carries a description in the JSON Schema (editors show it on
hover), taken from the field's docstring in sim/spec."""

from __future__ import annotations

import pytest

from sim.spec.program import InactivityExpiry, Program
from sim.spec.scenario import OptIn, Population, PurchaseModel, Scenario, Segment, SpendModel
from sim.spec.strategy import Campaign, Strategy

EDITED = (
    Scenario, Population, Segment, PurchaseModel, SpendModel, OptIn, Campaign, Strategy,
    Program, InactivityExpiry,
)  # fmt: skip


@pytest.mark.parametrize("model", EDITED, ids=lambda m: m.__name__)
def test_every_field_of_the_edited_blocks_is_described(model) -> None:
    properties = model.model_json_schema()["properties"]
    undescribed = [name for name, field in properties.items() if not field.get("description")]
    assert not undescribed, f"{model.__name__}: {undescribed} need a docstring"
