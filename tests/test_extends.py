"""``extends``: a strategy built on another, merged before validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builders import valid_data, write

from sim.errors import SimInputError
from sim.io.loader import load_scenario, scenario_from_dict
from sim.spec.strategy import resolve_extends

BASE = {
    "description": "the base plan",
    "caps": {"all": "5 per week", "email": "3 per 7d"},
    "cooldown_hours": {"email": 16},
    "campaigns": {
        "news": {"channel": "email", "weekdays": ["thu"], "hour": 9},
        "promo": {"channel": "sms", "kind": "promo", "every_days": 14},
    },
}


def with_strategies(**strategies: Any) -> dict[str, Any]:
    data = valid_data()
    data["strategies"] = strategies
    return data


def test_a_child_keeps_what_it_does_not_override_and_merges_mappings_by_key():
    child = {
        "extends": "base",
        "campaigns": {"news": {"hour": 18}, "promo": None},  # move one, drop the other
        "caps": {"sms": "1 per 30d", "email": None},
    }
    sc = scenario_from_dict(with_strategies(base=BASE, later=child))
    later, base = sc.strategies["later"], sc.strategies["base"]
    assert list(later.campaigns) == ["news"]
    assert later.campaigns["news"].hour == 18
    assert later.campaigns["news"].weekdays == ["thu"]  # inherited inside the campaign
    assert set(later.caps) == {"all", "sms"}
    assert later.cooldown_hours == base.cooldown_hours
    assert later.description == ""  # a description describes its own strategy only
    assert later.extends == "base"
    assert base.campaigns["promo"].every_days == 14  # the parent is untouched


def test_chains_resolve_in_any_order_of_declaration():
    data = with_strategies(
        c={"extends": "b", "caps": {"all": "1 per day"}},
        b={"extends": "a", "campaigns": {"news": {"hour": 7}}},
        a=BASE,
    )
    c = scenario_from_dict(data).strategies["c"]
    assert c.campaigns["news"].hour == 7 and c.caps["all"].per == "day"
    assert c.caps["email"].days == 7.0


@pytest.mark.parametrize(
    ("strategies", "expected"),
    [
        ({"x": {"extends": "nobody", **BASE}}, "strategies.x.extends: unknown strategy 'nobody'"),
        (
            {"x": {"extends": "y", **BASE}, "y": {"extends": "x"}},
            "a cycle (x -> y -> x)",
        ),
        ({"x": {"extends": "x", **BASE}}, "strategies.x.extends: a cycle (x -> x)"),
    ],
)
def test_bad_parents_are_named_with_their_field_path(tmp_path: Path, strategies, expected):
    with pytest.raises(SimInputError) as info:
        load_scenario(write(tmp_path, with_strategies(**strategies)))
    assert expected in str(info.value)


def test_an_inherited_mistake_is_reported_for_the_child_too(tmp_path: Path):
    bad = {**BASE, "caps": {"all": "5 per fortnight"}}
    with pytest.raises(SimInputError) as info:
        load_scenario(write(tmp_path, with_strategies(base=bad, child={"extends": "base"})))
    text = str(info.value)
    assert "strategies.base.caps.all" in text and "strategies.child" in text


def test_resolving_leaves_its_input_alone():
    data = {"base": BASE, "child": {"extends": "base", "campaigns": {"promo": None}}}
    resolved, problems = resolve_extends(data)
    assert not problems
    assert "promo" in data["base"]["campaigns"] and data["child"]["campaigns"] == {"promo": None}
    assert "promo" not in resolved["child"]["campaigns"]
