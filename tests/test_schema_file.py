"""The JSON Schema shipped for editors is the scenario format's, and the scenarios use it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sim.cli.main import main
from sim.spec.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "schema" / "scenario.schema.json"


def test_shipped_schema_is_current():
    # Regenerate with: loyaltysim schema > schema/scenario.schema.json
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == Scenario.model_json_schema()


def test_schema_command_prints_it():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(SHIPPED.read_text(encoding="utf-8"))


def test_every_shipped_scenario_references_the_schema():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/scenario.schema.json", path
