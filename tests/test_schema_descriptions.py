"""Every field a marketer edits carries a description in the JSON Schema (editors show it on
hover), taken from the field's docstring in sim/spec."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest
from pydantic import BaseModel

from sim.spec import fields, policies, program, scenario, strategy, uncertain

MODULES = (scenario, strategy, program, policies, uncertain, fields)


def _models(module: ModuleType) -> list[type[BaseModel]]:
    """The pydantic models a module defines (not those it imports)."""
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == module.__name__
    ]


# Every model of sim/spec, base classes included (a field declared on a base is described
# there). No exceptions: the only part of the schema a docstring cannot reach is
# Uncertain.__pydantic_extra__ (the dotted paths, the schema's additionalProperties), which is
# not a property and so is not checked here.
MODELS = [model for module in MODULES for model in _models(module)]


def test_the_models_are_found() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"Scenario", "Channel", "Campaign", "Tier", "AdaptivePolicy", "Uncertain"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__name__}")
def test_every_field_is_described(model) -> None:
    properties = model.model_json_schema().get("properties", {})
    undescribed = [name for name, field in properties.items() if not field.get("description")]
    assert not undescribed, f"{model.__name__}: {undescribed} need a docstring"
