"""Starting points: ``loyaltysim init`` writes a template's commented scenario, every template
validates and runs, every population preset is plausible, and a preset is merged like an
include."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml
from builders import invoke

import sim
from sim.analysis.implied import implausible, implied
from sim.io.loader import PRESETS, TEMPLATES, preset_names, template_names

ROOT = Path(__file__).resolve().parents[1]
BAD_INPUT = 2


@pytest.mark.parametrize("kind", template_names())
def test_init_writes_a_template_that_validates_and_runs(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "my_program.yaml"
    result = invoke("init", path, "--template", kind)
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and "name: my_program\n" in text  # comments kept, renamed
    scenario = sim.load_scenario(path)
    assert scenario.name == "my_program" and len(scenario.strategies) >= 2
    assert invoke("validate", path).exit_code == 0
    small = ("population.size=300", "horizon_days=28")
    results = sim.run(path, replications=1, jobs=1, overrides=small)
    assert set(results.ranking().index) == set(scenario.strategy_names)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_plausible_and_says_its_source(name: str, tmp_path: Path) -> None:
    header = (PRESETS / f"{name}.yaml").read_text(encoding="utf-8").split("segments:")[0]
    assert "Source:" in header or "Fitted on real data" in header
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "s",
                "horizon_days": 28,
                "population": {"preset": name, "size": 100},
                "strategies": {"news": {"campaigns": {"n": {"channel": "email", "every_days": 7}}}},
            }
        )
    )
    population = sim.load_scenario(path).population
    assert population.size == 100
    assert implausible(implied(population), str(path)) == []


def test_the_grocery_preset_is_the_demos_members() -> None:
    demo = sim.load_scenario(ROOT / "scenarios" / "nordic_retail.yaml").population.segments
    preset = yaml.safe_load((PRESETS / "grocery.yaml").read_text(encoding="utf-8"))
    assert (
        sim.Scenario.model_validate(
            {
                "name": "g",
                "horizon_days": 7,
                "population": {"size": 1, **preset},
                "strategies": {"n": {"campaigns": {"n": {"channel": "email", "every_days": 7}}}},
            }
        ).population.segments
        == demo
    )


def test_a_bad_preset_is_named_with_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nhorizon_days: 7\npopulation: {preset: grocey, size: 10}\n")
    result = invoke("validate", path)
    assert result.exit_code == BAD_INPUT
    assert "population.preset: unknown preset 'grocey'" in result.stderr
    assert "did you mean 'grocery'" in result.stderr
    path.write_text(
        "name: s\nhorizon_days: 7\npopulation: {preset: grocery, include: x.yaml, size: 10}\n"
    )
    assert "preset or include, not both" in invoke("validate", path).stderr


def test_init_never_replaces_a_file_and_wants_a_yaml_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("my own work\n")
    result = invoke("init", path)
    assert result.exit_code == BAD_INPUT and "exists" in result.stderr
    assert path.read_text() == "my own work\n"
    wrong = invoke("init", tmp_path / "mine.txt")
    assert wrong.exit_code == BAD_INPUT and not (tmp_path / "mine.txt").exists()


def test_the_package_ships_the_presets_and_templates() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    shipped = {p.strip() for p in config["options.package_data"]["sim"].split(",")}
    assert {"io/presets/*.yaml", "io/templates/*.yaml"} <= shipped
    assert len(template_names()) >= 3 and TEMPLATES.is_dir()
