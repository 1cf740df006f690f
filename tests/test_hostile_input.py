"""Hostile and careless input: nothing runs that the user did not ask for, every bad file or
value is exit 2 with its location, never a traceback, a hang or a half-written folder.

One test per attack found by the reliability audit of the command line (plug-in code run by
``validate``, YAML bombs and surprises, values that pass validation and break a run)."""

from __future__ import annotations

import errno
import importlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from builders import NORDIC, ROOT, cli_data, entries, invoke, snapshot, write

from sim import api as api_module
from sim.cli.common import BAD_INPUT
from sim.engine.runner import memory_estimate
from sim.errors import SimInputError
from sim.io import atomic as atomic_module
from sim.io import results as results_module
from sim.io.loader import load_scenario, scenario_from_dict
from sim.io.reading import MAX_DEPTH, MAX_FILE_BYTES, MAX_INT_DIGITS, MAX_VALUES, load_yaml
from sim.io.target import clean_leftovers
from sim.spec.validation import MAX_PROBLEMS

POPEN = "{kind: plugin, path: 'subprocess:Popen', options: {args: [touch, %s]}}"


def refused(result, *reasons: str) -> str:
    assert result.exit_code == BAD_INPUT, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for reason in reasons:
        assert reason in result.stderr, result.stderr
    return result.stderr


# --- 1. no code runs that the user did not ask for -------------------------------------------


def test_a_standard_library_class_named_as_a_policy_never_runs(plugin_dir: Path) -> None:
    marker = plugin_dir / "marker"
    policy = ("--set", f"strategies.weekly.policy={POPEN % marker}")
    scenario = write(plugin_dir, cli_data())
    assert invoke("validate", scenario, *policy).exit_code == 0
    out = plugin_dir / "results"
    refused(invoke("run", scenario, *policy, "--out", out), "allow it with --allow-plugins")
    ran = invoke("run", scenario, *policy, "--out", out, "--allow-plugins")
    refused(ran, "strategies.weekly.policy: module 'subprocess' is part of Python")
    assert not marker.exists()
    assert not out.exists()


def test_a_module_in_the_working_directory_is_not_imported_unless_allowed(plugin_dir: Path) -> None:
    marker = plugin_dir / "imported"
    (plugin_dir / "hostile_policy.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from subprocess import Popen\n"  # a re-export is not the module's own class
    )
    importlib.invalidate_caches()
    policy = ("--set", "strategies.weekly.policy={kind: plugin, path: 'hostile_policy:Popen'}")
    scenario = write(plugin_dir, cli_data())
    assert invoke("validate", scenario, *policy).exit_code == 0
    refused(invoke("run", scenario, *policy, "--out", plugin_dir / "r"), "--allow-plugins")
    assert not marker.exists()
    # Allowed, the module the user named is imported, but only a class of its own is built.
    allowed = invoke("run", scenario, *policy, "--out", plugin_dir / "r", "--allow-plugins")
    refused(allowed, "has no class 'Popen' of its own")
    assert marker.exists()
    assert not (plugin_dir / "r").exists()


def test_a_plugin_in_a_sweep_needs_allowing_too(plugin_dir: Path) -> None:
    marker = plugin_dir / "marker"
    data = cli_data()
    data["strategies"]["weekly"]["policy"] = yaml.safe_load(POPEN % marker)
    write(plugin_dir, data, "base.yaml")
    sweep = write(
        plugin_dir,
        {
            "base": "base.yaml",
            "design": {"kind": "grid"},
            "parameters": {"population.size": {"values": [100, 200]}},
        },
        "sweep.yaml",
    )
    refused(invoke("sweep", sweep, "--out", plugin_dir / "s", "--jobs", "1"), "--allow-plugins")
    refused(invoke("sweep", sweep, "--out", plugin_dir / "s", "--jobs", "1", "--allow-plugins"))
    assert not marker.exists()
    assert not (plugin_dir / "s").exists()


# --- 2. the YAML reader ---------------------------------------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (LAUGHS, f"more than {MAX_VALUES:,} values (aliases expanded)"),
        ("a: &a [*a]\n", "more than"),
        ("x: " + "[" * 600 + "]" * 600, f"nested more than {MAX_DEPTH} levels deep"),
        ("a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 80)), "levels"),
        ("x: " + "7" * 5000, f"an integer of 5000 digits (at most {MAX_INT_DIGITS})"),
        ("name: a\nseed: 1\nname: b\n", "line 3, column 1: duplicate key 'name' (first at line 1)"),
    ],
    ids=["billion-laughs", "self-alias", "deep", "alias-chain", "huge-int", "duplicate-key"],
)
def test_the_reader_refuses_hostile_yaml_quickly(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    started = time.perf_counter()
    stderr = refused(invoke("validate", path), f"{path}: ", reason)
    # Refused before any expansion: far below the minute a billion laughs took.
    assert time.perf_counter() - started < 10, stderr


def test_hostile_yaml_is_refused_in_an_include_and_in_a_set_value(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(LAUGHS)
    data = cli_data()
    data["population"] = {"include": "bomb.yaml"}
    refused(invoke("validate", write(tmp_path, data)), "include: bomb.yaml", "aliases expanded")
    scenario = write(tmp_path, cli_data())
    bomb = "{" + LAUGHS.replace("\n", ", ").rstrip(", ") + "}"
    refused(invoke("validate", scenario, "--set", f"description={bomb}"), "aliases expanded")


def test_yaml_1_1_surprises_are_text() -> None:
    loaded = load_yaml("a: yes\nb: off\nc: NO\nd: 1:30\ne: 0755\nf: 1e3\ng: 2026-12-05\nh: TRUE\n")
    assert loaded == {
        "a": "yes",
        "b": "off",
        "c": "NO",
        "d": "1:30",
        "e": 755,
        "f": 1000.0,
        "g": "2026-12-05",
        "h": True,
    }


def test_a_sexagesimal_horizon_is_refused_not_read_as_ninety(tmp_path: Path) -> None:
    scenario = write(tmp_path, cli_data())
    refused(invoke("validate", scenario, "--set", "horizon_days=1:30"), "horizon_days")


@pytest.mark.parametrize(
    "override",
    [
        "strategies.weekly.journeys={j: {trigger: {a: 1}, channel: email}}",
        "strategies.weekly.journeys.j={trigger: [joined], channel: email}",
        "strategies.weekly.journeys.j={trigger: joined, channel: {email: 1}}",
        "strategies.weekly.extends={a: 1}",
        "strategies.weekly.caps.email={a: 1}",
        "strategies.weekly.policy=[adaptive]",
    ],
)
def test_a_mapping_or_list_where_text_belongs_is_exit_2(tmp_path: Path, override: str) -> None:
    scenario = write(tmp_path, cli_data())
    refused(invoke("validate", scenario, "--set", override), "strategies.weekly")


def test_a_set_path_of_thousands_of_parts_is_refused(tmp_path: Path) -> None:
    scenario = write(tmp_path, cli_data())
    deep = ".".join(["population"] + ["x"] * 2000) + "=1"
    refused(invoke("validate", scenario, "--set", deep), "--set")


# --- 3. every number bounded, every name plain ----------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("population.segments.loyal.purchase.a=.inf", "population.segments.loyal.purchase.a"),
        ("population.segments.loyal.spend.p=.inf", "population.segments.loyal.spend.p"),
        ("channels.sms.cost=.inf", "channels.sms.cost"),
        ("channels.email.cost=.nan", "channels.email.cost"),
        ("strategies.weekly.campaigns.news.start_day=.inf", "news.start_day"),
        ("population.segments.loyal.spend.v=1e18", "population.segments.loyal.spend.v"),
        ("population.acquisition_per_day=1e308", "population.acquisition_per_day"),
        ("population.segments.loyal.tolerance.sigma=1e308", "loyal.tolerance.sigma"),
        ("population.size=1e12", "population.size"),
        ("population.size=1000000000000", "population.size"),
        ("replications=1000000000", "replications"),
        ("strategies.weekly.campaigns.news.every_days=1e-6", "news.every_days"),
    ],
)
def test_values_that_would_break_a_run_are_refused_by_validate(
    tmp_path: Path, override: str, field: str
) -> None:
    scenario = write(tmp_path, cli_data())
    refused(invoke("validate", scenario, "--set", override), field)
    out = tmp_path / "results"
    refused(invoke("run", scenario, "--set", override, "--out", out), field)
    assert not out.exists()


def test_replications_on_the_command_line_are_bounded(tmp_path: Path) -> None:
    scenario = write(tmp_path, cli_data())
    out = tmp_path / "results"
    refused(invoke("run", scenario, "--replications", "1000000000", "--out", out), "replications")
    assert not out.exists()


@pytest.mark.parametrize("name", ["\r=1+1", "a\nb", "tab\there", "nul\x00", "", "  "])
def test_names_that_would_break_a_csv_row_are_refused(tmp_path: Path, name: str) -> None:
    data = cli_data()
    data["strategies"][name] = data["strategies"].pop("weekly")
    path = tmp_path / "names.yaml"
    path.write_text(yaml.safe_dump(data))
    refused(invoke("validate", path), "strategies")


def test_the_demo_scenario_still_validates() -> None:
    assert invoke("validate", NORDIC).exit_code == 0


# --- 5. one run at a time into a folder; what dead runs left is cleaned ---------------------


def test_a_second_run_into_a_held_folder_is_refused_at_once(tmp_path: Path) -> None:
    scenario = write(tmp_path, cli_data())
    out = tmp_path / "results" / "run"
    out.parent.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from sim.io.target import exclusive\n"
            f"with exclusive({str(out)!r}):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.perf_counter()
        busy = invoke("run", scenario, "--out", out, "--replications", "1", "--jobs", "1")
        refused(busy, f"{out}: another run is writing into this folder")
        assert time.perf_counter() - started < 10  # refused before computing
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # The lock dies with its process (as with kill -9): the folder is free again.
    done = invoke("run", scenario, "--out", out, "--replications", "1", "--jobs", "1")
    assert done.exit_code == 0, done.output


def test_staging_folders_of_killed_runs_are_cleaned_and_a_set_aside_result_put_back(
    tmp_path: Path,
) -> None:
    scenario = write(tmp_path, cli_data())
    results = tmp_path / "results"
    out = results / "run"
    args = ("run", scenario, "--out", out, "--replications", "1", "--jobs", "1", "--quiet")
    assert invoke(*args).exit_code == 0
    first = snapshot(out)
    # Killed between setting the old results aside and renaming the new ones in: the
    # folder is missing, the old one lies beside it, and a staging folder too.
    out.rename(results / ".old-run-0123abcd")
    (results / ".tmp-run-89abcdef").mkdir()
    (results / ".tmp-run-89abcdef" / "summary.csv").write_text("half")
    (results / ".tmp-runner-89abcdef").mkdir()  # another folder's: not ours to touch
    clean_leftovers(out)
    assert snapshot(out) == first
    assert entries(results) == [".tmp-runner-89abcdef", "run"]
    # The next run into the folder cleans what a killed run left, holding the lock.
    (results / ".tmp-run-76543210").mkdir()
    (results / ".old-run-fedcba98").mkdir()
    assert invoke(*args).exit_code == 0
    assert entries(results) == [".tmp-runner-89abcdef", "run"]
    again = snapshot(out)  # the same computation again: the same CSVs, a new manifest
    assert {k: v for k, v in again.items() if k.endswith(".csv")} == {
        k: v for k, v in first.items() if k.endswith(".csv")
    }


# --- 6. the environment fails: exit 2 with the path and the reason ---------------------------


def test_a_file_size_limit_is_exit_2_naming_the_folder(tmp_path: Path) -> None:
    scenario = write(tmp_path, cli_data())
    out = tmp_path / "results" / "run"

    def limit() -> None:  # in the child: 4 KB files at most (ulimit -f)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    command = [sys.executable, "-m", "sim", "run", str(scenario), "--out", str(out)]
    done = subprocess.run(
        [*command, "--replications", "1", "--jobs", "1", "--quiet"],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == BAD_INPUT, done.stderr
    assert f"error: {out}: File too large" in done.stderr
    assert "Traceback" not in done.stderr
    assert entries(out.parent) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "No space left on device (free some space"),
        (errno.EROFS, "Read-only file system (choose another --out)"),
        (errno.EACCES, "Permission denied (check the folder's permissions"),
    ],
)
def test_a_failing_disk_is_exit_2_and_leaves_nothing(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    scenario, results = layout

    def failing(frame: object, path: Path) -> None:
        raise OSError(code, os.strerror(code))  # as a writer that does not name its file

    monkeypatch.setattr(results_module, "write_table", failing)
    out = results / "run"
    done = invoke("run", scenario, "--out", out, "--replications", "1", "--jobs", "1")
    refused(done, f"{out}: {reason}")
    assert entries(results) == []
    # A sweep, compare and calibrate write through the same writers.
    monkeypatch.setattr(atomic_module.os, "replace", lambda *a: failing(None, Path()))
    (results / "a").mkdir()
    shipped = NORDIC.parent.parent / "results" / "nordic_retail"
    compared = invoke("compare", shipped, shipped, "--csv", results / "a" / "d.csv")
    refused(compared, str(results / "a" / "d.csv"), reason.split(" (")[0])
    assert entries(results / "a") == []


# --- 9. size of the input ------------------------------------------------------------------


def test_a_hundred_thousand_unknown_keys_are_listed_briefly_and_quickly() -> None:
    data = cli_data()
    data["population"] |= {f"key{i}": i for i in range(100_000)}
    started = time.perf_counter()
    with pytest.raises(SimInputError) as error:
        scenario_from_dict(data, "big.yaml")
    assert time.perf_counter() - started < 20  # was over a minute: each key checked against all
    problems = error.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0].startswith("big.yaml: population.key0: unknown key (allowed: ")
    assert problems[-1] == "big.yaml: more problems not listed; fix these first"


def test_a_file_larger_than_any_scenario_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("description: " + "x" * MAX_FILE_BYTES + "\n")
    refused(invoke("validate", path), f"{path}: ", "more than a scenario file may hold")


def test_calibrate_refuses_one_column_for_two_roles(tmp_path: Path) -> None:
    transactions = tmp_path / "tx.csv"
    transactions.write_text("customer,date,amount\na,2024-01-01,10\nb,2024-01-02,12\n")
    out = tmp_path / "population.yaml"
    done = invoke("calibrate", transactions, "--segment-col", "customer", "--out", out)
    refused(done, "column 'customer' is named for two roles")
    assert entries(tmp_path) == ["tx.csv"]


def test_a_run_beyond_the_machines_memory_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_module, "machine_memory", lambda: 24e9)  # this machine's 24 GB
    scenario = write(tmp_path, cli_data())
    out = tmp_path / "results"
    # 90 million members: within the schema's bounds, beyond 24 GB (about 40 GB estimated).
    big = ("--set", "population.size=90000000", "--replications", "1")
    started = time.perf_counter()
    done = invoke("run", scenario, *big, "--out", out, "--jobs", "1")
    refused(done, "this run needs about 40.9 GB of memory and this machine has 24.0 GB")
    assert "--no-memory-check" in done.stderr
    assert time.perf_counter() - started < 30
    assert not out.exists()


def test_the_memory_estimate_matches_the_measured_runs() -> None:
    # docs/performance.md: 1.05 GB at 1,000,000 members and 7.05 GB at 10,000,000 (bench_1m,
    # one replication on two processes); the estimate is within 15% of both.
    for size, measured in ((1_000_000, 1.05e9), (10_000_000, 7.05e9)):
        bench = load_scenario(ROOT / "scenarios" / "bench_1m.yaml", [f"population.size={size}"])
        assert memory_estimate(bench, 1, 2) == pytest.approx(measured, rel=0.15)


# --- compare and report on hostile results folders -----------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("currency", {"a": 1}, "currency: Input should be a valid string"),
        ("objective", {"kpi": ["x"]}, "objective.kpi: Input should be a valid string"),
        ("seed", {"x": [1, {"y": 2}]}, "seed: Input should be a valid integer"),
        ("scenario", [1, 2], "scenario: Input should be a valid dictionary"),
        ("replications", math.nan, "replications: Input should be a valid integer"),
    ],
)
def test_compare_and_report_refuse_a_manifest_of_the_wrong_shape(
    tmp_path: Path, field: str, value: object, reason: str
) -> None:
    shipped = ROOT / "results" / "nordic_retail"
    bad = tmp_path / "bad"
    shutil.copytree(shipped, bad)
    manifest = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    manifest[field] = value
    (bad / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused(invoke("compare", shipped, bad), f"{bad / 'manifest.json'}: ", reason)
    refused(invoke("report", bad), reason)
    assert not (bad / "report.html").exists()


@pytest.mark.parametrize(
    ("design", "parameters", "reason"),
    [
        (
            {"kind": "random", "points": 10**9},
            {"population.size": {"low": 100, "high": 200}},
            "points",
        ),
        (
            {"kind": "grid"},
            {
                f"channels.{c}.cost": {"values": list(range(1, 102))}
                for c in ("email", "sms", "push")
            },
            "the grid has 1,030,301 points",
        ),
        (
            {"kind": "saltelli", "points": 2**19},
            {"population.size": {"low": 100, "high": 200}},
            "saltelli would run 1,572,864 points",
        ),
    ],
)
def test_a_sweep_of_unbounded_size_is_refused(
    tmp_path: Path, design: dict, parameters: dict, reason: str
) -> None:
    write(tmp_path, cli_data(), "base.yaml")
    sweep = write(
        tmp_path, {"base": "base.yaml", "design": design, "parameters": parameters}, "sw.yaml"
    )
    refused(invoke("sweep", sweep, "--out", tmp_path / "s", "--jobs", "1"), reason)
    assert not (tmp_path / "s").exists()
