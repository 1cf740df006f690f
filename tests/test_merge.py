"""sim.spec.merge.deep_merge: the one merge behind include: and extends:."""

from __future__ import annotations

from sim.spec.merge import deep_merge

BASE = {"email": {"open": 0.2, "reputation": {"limit": 0.003}}, "campaigns": {"a": {"x": 1}}}


def test_mappings_merge_key_by_key_and_other_values_replace() -> None:
    merged = deep_merge(
        BASE, {"email": {"open": 0.3}, "campaigns": {"b": {"x": 2}}}, null_removes=False
    )
    assert merged == {
        "email": {"open": 0.3, "reputation": {"limit": 0.003}},
        "campaigns": {"a": {"x": 1}, "b": {"x": 2}},
    }


def test_null_is_a_value_for_include_and_removes_the_key_for_extends() -> None:
    override = {"email": {"reputation": None}, "campaigns": {"a": None}}
    kept = deep_merge(BASE, override, null_removes=False)
    assert kept["email"] == {"open": 0.2, "reputation": None}
    assert kept["campaigns"] == {"a": None}
    removed = deep_merge(BASE, override, null_removes=True)
    assert removed == {"email": {"open": 0.2}, "campaigns": {}}


def test_the_result_shares_nothing_with_its_arguments() -> None:
    override = {"campaigns": {"b": {"x": [1]}}}
    merged = deep_merge(BASE, override, null_removes=True)
    merged["email"]["open"] = 1.0
    merged["campaigns"]["b"]["x"].append(2)
    assert BASE["email"]["open"] == 0.2
    assert override == {"campaigns": {"b": {"x": [1]}}}
