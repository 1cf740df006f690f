"""Results folders: atomic, refusing to clobber, byte-stable and formula-safe; the manifest."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from builders import entries, scenario_data, segment, snapshot

from sim.errors import SimInputError
from sim.io import manifest as manifest_module
from sim.io import results
from sim.io.manifest import build_manifest, scenario_hash
from sim.io.results import ResultsExistError, read_results, write_results
from sim.spec.scenario import Scenario


def frames(strategy_names: tuple[str, ...] = ("silent", "weekly")) -> dict[str, pd.DataFrame]:
    summary = pd.DataFrame(
        {
            "strategy": [s for s in strategy_names for _ in range(2)],
            "replication": [0, 1] * len(strategy_names),
            "seed": [11, 12] * len(strategy_names),
            "revenue": [0.1 + 0.2, 1 / 3, 1e-12, 123456789.123] * (len(strategy_names) // 2),
            "members_end": [100, 101, 99, 98] * (len(strategy_names) // 2),
        }
    )
    strategies = pd.DataFrame(
        {
            "strategy": list(strategy_names),
            "replications": [2] * len(strategy_names),
            "revenue_mean": [float("nan")] + [2 / 3] * (len(strategy_names) - 1),
        }
    )
    timeseries = pd.DataFrame(
        {"strategy": ["silent", "silent"], "replication": [0, 0], "week": [1, 2], "sends": [0, 0]}
    )
    pressure = pd.DataFrame(
        {"strategy": ["silent"], "replication": [0], "pressure_from": [0.0], "members": [3]}
    )
    return {
        "summary": summary,
        "strategies": strategies,
        "timeseries": timeseries,
        "pressure": pressure,
    }


def manifest(**changes: object) -> dict:
    return {"name": "demo", "scenario_hash": "abc", "seed": 1, "replications": 2} | changes


def write_run(out: Path, run: dict | None = None, **kwargs: object) -> Path:
    """The frames above as a results folder, with ``run`` as its manifest."""
    return write_results(out, **frames(), manifest=run or manifest(), **kwargs)


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith((".tmp-", ".old-"))]


def test_round_trip(tmp_path):
    out = write_run(tmp_path / "nested" / "run")
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "pressure.csv",
        "strategies.csv",
        "summary.csv",
        "timeseries.csv",
    ]
    back = read_results(out)
    assert back["manifest"] == manifest()
    for name, frame in frames().items():
        pd.testing.assert_frame_equal(back[name], frame, check_dtype=False, rtol=1e-9)
    assert leftovers(out.parent) == []


def test_csv_format_is_fixed(tmp_path):
    out = write_run(tmp_path / "run")
    text = (out / "summary.csv").read_bytes().decode("utf-8")
    assert "\r" not in text
    assert text.splitlines()[0] == "strategy,replication,seed,revenue,members_end"
    assert text.splitlines()[1] == "silent,0,11,0.3,100"
    assert "0.3333333333," in text
    assert "1e-12," in text
    assert "123456789.1," in text
    assert (out / "strategies.csv").read_text().splitlines()[1] == "silent,2,"
    assert (out / "manifest.json").read_text() == json.dumps(manifest(), indent=2) + "\n"


def test_same_input_gives_the_same_bytes(tmp_path):
    first = snapshot(write_run(tmp_path / "a"))
    second = snapshot(write_run(tmp_path / "b"))
    assert first == second


def test_formulas_are_neutralised_and_read_back(tmp_path):
    names = ('=HYPERLINK("x")', "+1", "-weekly", "@SUM(A1)", "'quoted", "plain", "a=b")
    data = frames((*names, "silent"))
    out = write_results(tmp_path / "run", **data, manifest=manifest())
    lines = (out / "strategies.csv").read_text().splitlines()[1:]
    written = [line.rsplit(",", 2)[0] for line in lines]
    assert written == [
        '"\'=HYPERLINK(""x"")"',  # quoted by CSV because of the quotes inside
        "'+1",
        "'-weekly",
        "'@SUM(A1)",
        "''quoted",
        "plain",
        "a=b",
        "silent",
    ]
    back = read_results(out)["strategies"]
    assert list(back["strategy"]) == [*names, "silent"]


def test_control_characters_are_made_visible_so_no_row_splits(tmp_path):
    # Validation refuses such names; the writer is safe by construction all the same.
    names = ("\r=1+1", "a\nb", "\tcmd", "nul\x00", "next\u2028line", "del\x7f", "plain")
    out = write_results(tmp_path / "run", **frames((*names, "silent")), manifest=manifest())
    text = (out / "strategies.csv").read_text(encoding="utf-8")
    assert not any(c in text for c in "\r\t\x00\u2028\x7f")
    rows = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in rows[1:]] == [
        "\u240d=1+1",
        "a\u240ab",
        "\u2409cmd",
        "nul\u2400",
        "next\ufffdline",
        "del\u2421",
        "plain",
        "silent",
    ]
    assert len(rows) == 1 + len(names) + 1
    back = read_results(out)["strategies"]
    assert len(back) == len(names) + 1


def test_names_that_look_like_numbers_or_missing_values_stay_names(tmp_path):
    out = write_results(tmp_path / "run", **frames(("NA", "2024")), manifest=manifest())
    back = read_results(out)
    assert list(back["strategies"]["strategy"]) == ["NA", "2024"]
    assert list(back["summary"]["strategy"]) == ["NA", "NA", "2024", "2024"]


def test_other_results_are_refused_and_left_untouched(tmp_path):
    out = write_run(tmp_path / "run")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    others = (
        manifest(seed=2),
        manifest(scenario_hash="def"),
        manifest(replications=3),
        manifest(shards=4),
        manifest(engine="agent"),
    )
    for other in others:
        with pytest.raises(ResultsExistError, match=r"--overwrite.*--out") as error:
            write_run(out, other)
        assert str(out) in str(error.value)
        assert isinstance(error.value, SimInputError)  # the CLI's exit code 2
        assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_a_folder_without_a_manifest_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(ResultsExistError):
        write_run(out)
    assert snapshot(out) == {"thesis.tex": b"precious"}


def test_an_empty_folder_is_used(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    write_run(out)
    assert (out / "manifest.json").exists()


def test_a_manifest_without_shards_or_engine_is_an_unsharded_vector_run(tmp_path):
    out = write_run(tmp_path / "run")  # written without the keys, as before they existed
    write_run(out, manifest(shards=1, engine="vector"))  # the same computation: replaced
    with pytest.raises(ResultsExistError):
        write_run(out, manifest(engine="agent"))


def test_the_same_run_replaces_the_old_results(tmp_path):
    out = write_run(tmp_path / "run")
    (out / "stale.csv").write_text("old")
    write_run(out, manifest(name="renamed", created="later"))
    assert not (out / "stale.csv").exists()
    assert read_results(out)["manifest"]["created"] == "later"
    assert leftovers(tmp_path) == []


def test_overwrite_replaces_other_results(tmp_path):
    out = write_run(tmp_path / "run")
    write_run(out, manifest(seed=99), overwrite=True)
    assert read_results(out)["manifest"]["seed"] == 99
    assert leftovers(tmp_path) == []


def test_a_file_in_the_way_is_an_error(tmp_path):
    target = tmp_path / "run"
    target.write_text("not a folder")
    with pytest.raises(ResultsExistError, match="not a folder"):
        write_run(target, overwrite=True)
    assert target.read_text() == "not a folder"


def test_failure_while_writing_leaves_old_results_and_no_temp_folder(tmp_path, monkeypatch):
    out = write_run(tmp_path / "run")
    before = snapshot(out)
    real = results.write_table
    calls = []

    def failing(frame: pd.DataFrame, path: Path) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("disk full")
        real(frame, path)

    monkeypatch.setattr(results, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        write_run(out, overwrite=True)
    assert len(calls) == 2
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_failure_while_swapping_restores_the_old_results(tmp_path, monkeypatch):
    out = write_run(tmp_path / "run")
    before = snapshot(out)
    real = os.rename

    def failing(src: Path, dst: Path) -> None:
        if Path(src).name.startswith(".tmp-"):  # the new folder moving into place
            raise OSError("interrupted")
        real(src, dst)

    monkeypatch.setattr(results.os, "rename", failing)
    with pytest.raises(OSError, match="interrupted"):
        write_run(out, overwrite=True)
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_unserialisable_manifest_fails_before_anything_moves(tmp_path):
    with pytest.raises(ValueError):
        write_run(tmp_path / "run", manifest(wall_time_s=float("nan")))
    assert entries(tmp_path) == []


# --- manifest -------------------------------------------------------------------------------


def scenario(**changes: object) -> Scenario:
    weekly = {"campaigns": {"news": {"channel": "email", "every_days": 7}}}
    members = segment(0.5, 10.0, 1.0, 3.0, v=15.0, opt_in={"email": 0.8})
    spec = scenario_data(
        {"weekly": weekly},
        name="demo",
        segments={"all": members},
        size=100,
        horizon=28,
        seed=7,
        replications=2,
    )
    return Scenario.model_validate(spec | changes)


def test_scenario_hash_is_stable_and_sensitive():
    assert scenario_hash(scenario()) == scenario_hash(scenario())
    assert len(scenario_hash(scenario())) == 64
    assert scenario_hash(scenario(seed=8)) != scenario_hash(scenario())
    assert scenario_hash(scenario(horizon_days=35)) != scenario_hash(scenario())


def test_build_manifest():
    run = build_manifest(
        scenario(),
        scenario_path="scenarios/demo.yaml",
        seeds=[101, 102],
        wall_time_s=1.5,
        jobs=4,
        overrides=["replications=2"],
    )
    assert run["name"] == "demo"
    assert run["scenario_file"] == "scenarios/demo.yaml"
    assert run["scenario_hash"] == scenario_hash(scenario())
    assert (run["seed"], run["replications"], run["seeds"]) == (7, 2, [101, 102])
    assert run["strategies"] == ["silent", "weekly"]
    assert run["objective"] == {"kpi": "clv_with_terminal", "sense": "max"}
    assert run["currency"] == "NOK"
    assert run["overrides"] == ["replications=2"]
    assert run["scenario"] == scenario().model_dump(mode="json")
    assert run["versions"]["pandas"] == pd.__version__
    assert set(run["versions"]) >= {"python", "platform", "loyaltysim", "numpy", "pyyaml"}
    assert (run["wall_time_s"], run["jobs"]) == (1.5, 4)
    assert run["created"].endswith("+00:00")
    assert run["git_dirty"] in (True, False, None)
    json.dumps(run, allow_nan=False)  # it must be writable as strict JSON


def test_manifest_seeds_must_match_replications():
    with pytest.raises(ValueError, match="seeds"):
        build_manifest(
            scenario(), scenario_path=None, seeds=[1], wall_time_s=0.0, jobs=1, overrides=[]
        )


@pytest.mark.parametrize("error", [FileNotFoundError("git"), subprocess.TimeoutExpired("git", 10)])
def test_manifest_without_git(monkeypatch, error):
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(manifest_module.subprocess, "run", broken)
    run = build_manifest(
        scenario(), scenario_path=None, seeds=[1, 2], wall_time_s=0.0, jobs=1, overrides=[]
    )
    assert (run["git_commit"], run["git_dirty"]) == (None, None)


def test_manifest_records_the_package_checkout(monkeypatch):
    answers = {"ls-files": "__init__.py", "rev-parse": "f" * 40, "status": " M sim/x.py"}

    def fake(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(command, 0, stdout=answers[command[1]] + "\n")

    monkeypatch.setattr(manifest_module.subprocess, "run", fake)
    run = build_manifest(
        scenario(), scenario_path=None, seeds=[1, 2], wall_time_s=0.0, jobs=1, overrides=[]
    )
    assert (run["git_commit"], run["git_dirty"]) == ("f" * 40, True)
