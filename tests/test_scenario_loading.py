"""Scenario loading: valid files, ``--set`` overrides and clear, complete error reports."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import valid_data, write
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import SimInputError
from sim.io.loader import apply_overrides, dump_scenario, load_scenario, scenario_from_dict
from sim.spec.strategy import Cap

FILE_NAME = "retail.yaml"


def load_error(tmp_path: Path, data: Any, overrides: tuple[str, ...] = ()) -> SimInputError:
    with pytest.raises(SimInputError) as info:
        load_scenario(write(tmp_path, data, FILE_NAME), overrides)
    return info.value


# --- valid input -----------------------------------------------------------------------------


def test_valid_file_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, valid_data(), FILE_NAME))
    assert scenario.name == "test retail"
    assert scenario.horizon_days == 60
    assert scenario.population.size == 100
    assert set(scenario.population.segments) == {"loyal", "casual"}
    assert scenario.strategies["weekly"].campaigns["news"].every_days == 7


def test_silent_strategy_added_first(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, valid_data(), FILE_NAME))
    assert scenario.strategy_names == ["silent", "weekly"]
    assert not scenario.strategies["silent"].campaigns


def test_overrides_change_values(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, valid_data(), FILE_NAME),
        [
            "population.size=2000",
            "behaviour.leave_per_year=0.1",
            "strategies.weekly.caps.email=3 per 7d",
            "name=abc",
        ],
    )
    assert scenario.population.size == 2000
    assert scenario.behaviour.leave_per_year == pytest.approx(0.1)
    assert scenario.strategies["weekly"].caps["email"] == Cap(max=3, days=7.0)
    assert scenario.name == "abc"


def test_dump_round_trips(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, valid_data(), FILE_NAME))
    reloaded = scenario_from_dict(yaml.safe_load(dump_scenario(scenario)))
    assert reloaded == scenario


# --- bad input -------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation of the valid data setting the dotted ``path`` to ``value``."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return mutate


BAD_INPUT = {
    "unknown top-level key": (_set("colour", "red"), "colour", "unknown key (allowed: "),
    "unknown nested key": (
        _set("population.segments.casual.colour", "red"),
        "population.segments.casual.colour",
        "unknown key (allowed: opt_in, purchase,",
    ),
    "misspelt key": (_set("population.sise", 3), "population.sise", "did you mean 'size'?"),
    "misspelt nested key": (
        _set("population.segments.casual.opt_inn", {}),
        "population.segments.casual.opt_inn",
        "did you mean 'opt_in'?",
    ),
    "wrong type": (_set("population.size", "many"), "population.size", "valid integer"),
    "shares not summing to one": (
        _set("population.segments.loyal.share", 0.3),
        "population.segments",
        "sum to 1",
    ),
    "negative rate": (
        _set("population.segments.loyal.purchase.alpha", -1),
        "population.segments.loyal.purchase.alpha",
        "greater than 0 (got -1)",
    ),
    "strategy without campaigns": (_set("strategies.idle", {}), "strategies", "no campaigns"),
    "two cadences": (
        _set("strategies.weekly.campaigns.news.weekdays", ["mon"]),
        "strategies.weekly.campaigns.news",
        "exactly one cadence",
    ),
    "unknown audience segment": (
        _set("strategies.weekly.campaigns.news.audience", {"segments": ["vip"]}),
        "strategies.weekly.campaigns.news.audience.segments",
        "unknown segments ['vip']",
    ),
    "objective not a KPI": (_set("objective", "happiness"), "objective", "unknown KPI"),
    "misspelt offer key": (
        _set("strategies.weekly.campaigns.news.offer", {"kind": "discount", "percnt": 10}),
        "strategies.weekly.campaigns.news.offer.percnt",
        "unknown key (allowed: days, kind, percent)",
    ),
}


@pytest.mark.parametrize(("mutate", "where", "reason"), BAD_INPUT.values(), ids=list(BAD_INPUT))
def test_bad_input_names_file_path_and_reason(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], where: str, reason: str
) -> None:
    data = valid_data()
    mutate(data)
    message = str(load_error(tmp_path, data))
    assert FILE_NAME in message
    assert f"{where}: " in message
    assert reason in message


def test_union_tags_do_not_leak_into_messages(tmp_path: Path) -> None:
    data = valid_data()
    _set("strategies.weekly.campaigns.news.audience", "everyone")(data)
    _set("strategies.weekly.campaigns.news.offer", {"kind": "discount"})(data)
    error = load_error(tmp_path, data)
    assert len(error.problems) == 2
    audience, offer = sorted(error.problems, key=lambda p: ".offer." in p)
    where = "strategies.weekly.campaigns.news"
    assert audience.startswith(f"{tmp_path / FILE_NAME}: {where}.audience: ")
    assert "should be 'all'" in audience
    assert "(got 'everyone')" in audience
    assert offer.endswith(f"{where}.offer.percent: Field required")


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("name: x\npopulation:\n  size: [100\nhorizon_days: 60\n", encoding="utf-8")
    with pytest.raises(SimInputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert FILE_NAME in message
    assert "line 4" in message
    assert "YAML syntax error" in message


@pytest.mark.parametrize(
    ("text", "reason"), [("", "empty"), ("- a\n- b\n", "must be a mapping")], ids=["empty", "list"]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / FILE_NAME
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SimInputError, match=reason):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SimInputError, match=f"{FILE_NAME}: file not found"):
        load_scenario(tmp_path / FILE_NAME)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("horizon_days.x=1", "--set horizon_days.x: horizon_days is 60, not a mapping"),
        ("population.size", "--set 'population.size': expected PATH=VALUE"),
        ("=5", "--set : the path has an empty key"),
        ("population..size=5", "--set population..size: the path has an empty key"),
        ("name=[unclosed", "--set name: value '[unclosed' is not valid YAML"),
    ],
)
def test_bad_override(tmp_path: Path, override: str, reason: str) -> None:
    message = str(load_error(tmp_path, valid_data(), (override,)))
    assert FILE_NAME in message
    assert reason in message


def test_invalid_override_value_says_it_came_from_set(tmp_path: Path) -> None:
    message = str(load_error(tmp_path, valid_data(), ("population.size=-5",)))
    assert "population.size: Input should be greater than 0 (got -5) (value from --set)" in message


def test_every_error_is_reported(tmp_path: Path) -> None:
    data = valid_data()
    _set("colour", "red")(data)
    _set("population.size", "many")(data)
    _set("population.segments.loyal.purchase.alpha", -1)(data)
    error = load_error(tmp_path, data)
    assert len(error.problems) == 3
    lines = str(error).splitlines()
    assert lines[0] == f"{tmp_path / FILE_NAME}: 3 problems:"
    for where in ("colour", "population.size", "population.segments.loyal.purchase.alpha"):
        assert any(line.startswith(f"{tmp_path / FILE_NAME}: {where}: ") for line in lines)


def test_every_bad_override_is_reported(tmp_path: Path) -> None:
    error = load_error(tmp_path, valid_data(), ("horizon_days.x=1", "nothing"))
    assert len(error.problems) == 2


def test_scenario_from_dict_names_its_source() -> None:
    data = valid_data()
    _set("horizon_days", 3)(data)
    with pytest.raises(SimInputError, match=r"^api: horizon_days: .*greater than or equal to 7"):
        scenario_from_dict(data, source="api")


# --- property: overrides ---------------------------------------------------------------------


def _numeric_paths(node: Any, prefix: str = "") -> Iterator[str]:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _numeric_paths(value, f"{path}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield path


NUMERIC_PATHS = sorted(_numeric_paths(valid_data()))


def _get(data: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


# Every integer the loader reads: up to MAX_INT_DIGITS digits (longer ones are refused).
@given(path=st.sampled_from(NUMERIC_PATHS), value=st.integers(-(10**18) + 1, 10**18 - 1))
def test_override_round_trips_ints_without_mutating_input(path: str, value: int) -> None:
    data = valid_data()
    before = copy.deepcopy(data)
    result = apply_overrides(data, [f"{path}={value}"], FILE_NAME)
    assert data == before
    assert _get(result, path) == value
    assert type(_get(result, path)) is int
    # Nothing else changed.
    _set(path, _get(before, path))(result)
    assert result == before


# --- include: ----------------------------------------------------------------------------


def test_include_merges_a_file_under_local_keys(tmp_path: Path) -> None:
    base = valid_data()
    population = base.pop("population")
    (tmp_path / "pop").mkdir()
    (tmp_path / "pop" / "population.yaml").write_text(yaml.safe_dump(population))
    base["population"] = {"include": "pop/population.yaml", "size": 321}
    path = tmp_path / "with_include.yaml"
    path.write_text(yaml.safe_dump(base))
    scenario = load_scenario(path)
    assert scenario.population.size == 321  # the local key wins
    assert set(scenario.population.segments) == set(population["segments"])


def test_include_errors_name_the_field_and_file(tmp_path: Path) -> None:
    base = valid_data()
    base["population"] = {"include": "missing.yaml"}
    path = tmp_path / "bad_include.yaml"
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(SimInputError) as err:
        load_scenario(path)
    assert "population.include" in str(err.value) and "missing.yaml" in str(err.value)
    assert "not found" in str(err.value)


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("x: {include: b.yaml}\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    base = valid_data()
    base["population"] = {"include": "b.yaml"}
    path = tmp_path / "cycle.yaml"
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(SimInputError, match="includes itself"):
        load_scenario(path)
