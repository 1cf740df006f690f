"""The ``loyaltysim`` command: run, validate and schema, exit codes and what gets written."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import cli_data, entries, invoke, snapshot, write

from sim.io.loader import load_scenario, scenario_from_dict
from sim.io.manifest import scenario_hash
from sim.spec.kpis import KPI_NAMES
from sim.spec.scenario import Scenario

BAD_INPUT = 2
RESULT_FILES = {"summary.csv", "strategies.csv", "timeseries.csv", "pressure.csv", "manifest.json"}


# --- python -m sim -------------------------------------------------------------------------------


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "validate", "schema"):
        assert re.search(rf"^\s+{command}\b", done.stdout, re.MULTILINE), done.stdout


# What a command imports decides how fast it answers (docs/performance.md: start-up), so the
# light commands are checked for never importing what they do not need.
@pytest.mark.parametrize(
    ("argv", "unneeded"),
    [
        (["--version"], {"numpy", "pandas", "scipy", "matplotlib", "simpy", "numba", "pydantic"}),
        (
            ["validate", "scenarios/nordic_retail.yaml"],
            # scipy.special computes what the population implies (2F1); the rest stays out.
            {"scipy.stats", "scipy.optimize", "scipy.interpolate", "matplotlib", "simpy"}
            | {"numba", "sim.api", "sim.engine", "sim.world"},
        ),
    ],
    ids=["version", "validate"],
)
def test_light_commands_import_only_what_they_need(argv: list[str], unneeded: set[str]) -> None:
    probe = (
        "import sys\nfrom sim.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as end:\n    assert end.code == 0\n"
        "print(*sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    imported = set(done.stdout.splitlines()[-1].split())
    assert not unneeded & imported


# --- run -----------------------------------------------------------------------------------------


def test_run_writes_a_results_folder(layout: tuple[Path, Path]) -> None:
    scenario, results = layout
    out = results / "run"
    result = invoke(
        "run",
        scenario,
        "--out",
        out,
        "--replications",
        "2",
        "--jobs",
        "1",
        "--set",
        "population.size=500",
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    assert entries(results) == ["run"]  # no staging folders left behind

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["strategy", "replication", "seed", *KPI_NAMES]
    assert len(summary) == 3 * 2  # silent, weekly, busy x 2 replications (not the file's 5)
    assert set(summary["strategy"]) == {"silent", "weekly", "busy"}
    assert sorted(summary["replication"].unique()) == [0, 1]
    assert (summary["members_start"] == 500).all()  # the --set override took effect

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["overrides"] == ["population.size=500"]
    assert manifest["replications"] == 2
    assert manifest["scenario"]["population"]["size"] == 500
    resolved = Scenario.model_validate(manifest["scenario"])
    assert manifest["scenario_hash"] == scenario_hash(resolved)
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["scenario_hash"])

    # The ranking: one line per strategy, best first by the objective's mean.
    strategies = pd.read_csv(out / "strategies.csv")
    best_first = strategies.sort_values("clv_with_terminal_mean", ascending=False, kind="stable")
    assert "clv_with_terminal" in result.stdout
    ranked = re.findall(r"^(\d+)\s+(\S+)\s", result.stdout, re.MULTILINE)
    assert ranked == [(str(i), s) for i, s in enumerate(best_first["strategy"], start=1)]


def test_same_seed_gives_identical_csv_files(layout: tuple[Path, Path]) -> None:
    scenario, results = layout
    args = ("run", scenario, "--replications", "2", "--jobs", "1", "--quiet")
    assert invoke(*args, "--out", results / "a").exit_code == 0
    assert invoke(*args, "--out", results / "b").exit_code == 0
    for name in ("summary.csv", "strategies.csv", "timeseries.csv"):
        assert (results / "a" / name).read_bytes() == (results / "b" / name).read_bytes()


# --- bad input: exit 2, the file, the field path and the reason, and nothing written -------------


def _unknown_key(data: dict[str, Any]) -> None:
    data["population"]["sise"] = 400


def _wrong_type(data: dict[str, Any]) -> None:
    data["horizon_days"] = "two months"


def _shares(data: dict[str, Any]) -> None:
    data["population"]["segments"]["casual"]["share"] = 0.5


def _negative_rate(data: dict[str, Any]) -> None:
    data["channels"] = {"email": {"exit": -0.002}}


def _empty_strategy(data: dict[str, Any]) -> None:
    data["strategies"]["weekly"]["campaigns"] = {}


BAD_FILES = {
    # case: (edit, field path, words of the reason)
    "unknown key": (_unknown_key, "population.sise", ["unknown key"]),
    "wrong type": (_wrong_type, "horizon_days", ["integer"]),
    "shares": (_shares, "population.segments", ["sum to 1"]),
    "negative rate": (_negative_rate, "channels.email.exit", ["greater than or equal to 0"]),
    "empty strategy": (_empty_strategy, "strategies", ["'weekly'", "no campaigns"]),
}


def assert_nothing_written(results: Path, out: Path) -> None:
    assert not out.exists()
    assert entries(results) == []  # no staging or temporary folders either


@pytest.mark.parametrize("case", BAD_FILES)
def test_run_rejects_a_bad_scenario_and_writes_nothing(tmp_path: Path, case: str) -> None:
    edit, field, reasons = BAD_FILES[case]
    data = cli_data()
    edit(data)
    scenario = write(tmp_path / "scenarios", data, "bad.yaml")
    results = tmp_path / "results"
    results.mkdir()
    out = results / "run"
    result = invoke("run", scenario, "--out", out, "--jobs", "1")
    assert result.exit_code == BAD_INPUT, result.output
    message = result.stderr
    assert str(scenario) in message
    assert re.search(rf"(^|\s){re.escape(field)}:", message), message
    for reason in reasons:
        assert reason in message, message
    assert_nothing_written(results, out)


BAD_SETS = {
    # case: (--set argument, what the message must contain)
    "wrong type": ("population.size=lots", ["population.size", "integer", "--set"]),
    "no equals sign": ("population.size", ["population.size", "PATH=VALUE"]),
    "through a number": ("horizon_days.weeks=3", ["horizon_days", "not a mapping"]),
    "unknown key": ("population.sise=3", ["population.sise", "unknown key"]),
}


@pytest.mark.parametrize("case", BAD_SETS)
def test_run_rejects_a_bad_set_and_writes_nothing(layout: tuple[Path, Path], case: str) -> None:
    scenario, results = layout
    override, words = BAD_SETS[case]
    out = results / "run"
    result = invoke("run", scenario, "--out", out, "--jobs", "1", "--set", override)
    assert result.exit_code == BAD_INPUT, result.output
    assert str(scenario) in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert_nothing_written(results, out)


@pytest.mark.parametrize(("option", "value"), [("--replications", "0"), ("--seed", "-1")])
def test_run_rejects_bad_numbers(layout: tuple[Path, Path], option: str, value: str) -> None:
    scenario, results = layout
    out = results / "run"
    result = invoke("run", scenario, "--out", out, "--jobs", "1", option, value)
    assert result.exit_code == BAD_INPUT, result.output
    assert option in result.stderr
    assert_nothing_written(results, out)


def test_run_reports_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    out = tmp_path / "out"
    result = invoke("run", missing, "--out", out)
    assert result.exit_code == BAD_INPUT
    assert str(missing) in result.stderr and "not found" in result.stderr
    assert not out.exists()


# --- an existing results folder ------------------------------------------------------------------


def test_results_of_another_run_are_kept_unless_overwrite(layout: tuple[Path, Path]) -> None:
    scenario, results = layout
    out = results / "run"
    base = ("run", scenario, "--out", out, "--replications", "2", "--jobs", "1", "--quiet")
    assert invoke(*base, "--seed", "1").exit_code == 0
    before = snapshot(out)
    assert set(before) == RESULT_FILES

    refused = invoke(*base, "--seed", "2")
    assert refused.exit_code == BAD_INPUT, refused.output
    assert "--overwrite" in refused.stderr and str(out) in refused.stderr
    assert snapshot(out) == before
    assert entries(results) == ["run"]

    replaced = invoke(*base, "--seed", "2", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert set(snapshot(out)) == RESULT_FILES
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["seed"] == 2
    assert snapshot(out)["summary.csv"] != before["summary.csv"]
    assert entries(results) == ["run"]


def test_a_folder_of_other_files_is_not_replaced(layout: tuple[Path, Path]) -> None:
    scenario, results = layout
    out = results / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    result = invoke("run", scenario, "--out", out, "--replications", "1", "--jobs", "1")
    assert result.exit_code == BAD_INPUT, result.output
    assert snapshot(out) == {"notes.txt": b"keep me"}
    assert entries(results) == ["mine"]


# --- validate and schema -------------------------------------------------------------------------


def test_validate_prints_a_summary_and_what_the_population_implies(
    layout: tuple[Path, Path],
) -> None:
    scenario, _ = layout
    result = invoke("validate", scenario)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert str(scenario) in lines[0] and "valid" in lines[0]
    assert "300" in lines[0] and "42 days" in lines[0]
    table = lines[lines.index("") + 2 :]  # after the blank line and the table's title
    assert [line.split()[0] for line in table[1:]] == ["loyal", "casual", "all"]
    assert result.stderr == ""  # plausible figures: no warning


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    data = cli_data()
    for edit, *_ in BAD_FILES.values():
        if edit is not _empty_strategy:  # a whole-field check; the rest are independent
            edit(data)
    scenario = write(tmp_path, data, "bad.yaml")
    result = invoke("validate", scenario)
    assert result.exit_code == BAD_INPUT, result.output
    for case, (edit, field, _) in BAD_FILES.items():
        if edit is not _empty_strategy:
            assert re.search(rf"{re.escape(str(scenario))}: {re.escape(field)}:", result.stderr), (
                case,
                result.stderr,
            )
    assert result.stdout == ""


def test_validate_applies_set(layout: tuple[Path, Path]) -> None:
    scenario, _ = layout
    ok = invoke("validate", scenario, "--set", "horizon_days=70")
    assert ok.exit_code == 0 and "70 days" in ok.stdout
    bad = invoke("validate", scenario, "--set", "horizon_days=3")
    assert bad.exit_code == BAD_INPUT and "horizon_days" in bad.stderr


def test_validate_resolved_round_trips(layout: tuple[Path, Path]) -> None:
    scenario, _ = layout
    result = invoke("validate", scenario, "--resolved")
    assert result.exit_code == 0, result.output
    dumped = yaml.safe_load(result.stdout)
    assert "behaviour" in dumped and "economics" in dumped  # defaults are filled in
    assert "silent" in dumped["strategies"]
    original = load_scenario(scenario)
    assert scenario_from_dict(copy.deepcopy(dumped)) == original
    assert scenario_hash(scenario_from_dict(dumped)) == scenario_hash(original)


# --- --json ----------------------------------------------------------------------------------


def test_json_output_of_validate_run_and_compare(layout: tuple[Path, Path]) -> None:
    """Each prints one JSON document on stdout holding what the text shows."""
    scenario, results = layout
    checked = invoke("validate", scenario, "--json")
    assert checked.exit_code == 0, checked.output
    summary = json.loads(checked.stdout)
    assert summary["valid"] and summary["members"] == 300 and summary["horizon_days"] == 42
    assert summary["strategies"] == ["silent", "weekly", "busy"]
    bad = invoke("validate", scenario, "--json", "--set", "horizon_days=3")
    assert bad.exit_code == BAD_INPUT
    refused = json.loads(bad.stdout)
    assert not refused["valid"] and "horizon_days" in refused["problems"][0]
    ran = invoke("run", scenario, "--replications", "2", "--out", results / "a", "--json")
    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.stdout)
    strategies = pd.read_csv(results / "a" / "strategies.csv").set_index("strategy")
    ranking = pd.DataFrame(document["ranking"]).set_index("strategy")
    kpi = document["objective"]["kpi"]
    assert ranking["rank"].tolist() == [1, 2, 3] and document["replications"] == 2
    means = strategies.loc[ranking.index, f"{kpi}_mean"]
    assert np.allclose(ranking[f"{kpi}_mean"], means, rtol=1e-9)
    same = invoke("compare", results / "a", results / "a", "--kpi", "revenue", "--json")
    assert same.exit_code == 0, same.output
    compared = json.loads(same.stdout)
    assert {row["kpi"] for row in compared["rows"]} == {"revenue"}
    assert all(row["diff"] == 0 for row in compared["rows"]) and compared["gates_tripped"] == []
    tripped = invoke("compare", results / "a", results / "a", "--json", "--fail-if", "revenue > -1")
    assert tripped.exit_code == 1 and json.loads(tripped.stdout)["gates_tripped"]


def test_schema_prints_json() -> None:
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    properties = schema["properties"]
    for key in (
        "name",
        "horizon_days",
        "seed",
        "replications",
        "population",
        "channels",
        "program",
        "strategies",
        "objective",
    ):
        assert key in properties
    assert set(schema["required"]) >= {"name", "horizon_days", "population", "strategies"}
