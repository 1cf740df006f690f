"""Sweeps and runs of draws as Parquet (``sweep --format parquet``, ``run --draws K --format
parquet``): the values of the CSV files at full precision, the same bytes whatever the jobs and
after a resume, the part files merged in row groups, and every reader taking either format.

The sweeps run the tiny scenario of test_sweep.py (300 members, five weeks, two replications),
the draws the small command-line scenario with one replication per draw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from builders import cli_data, entries, interrupt_points_after, invoke, write
from test_draws_run import UNCERTAIN
from test_sweep import BASE, EVERY, EXIT

import sim
from sim.errors import SimInputError
from sim.io import results
from sim.io.results import at_csv_digits, read_table
from sim.report import build_report
from sim.sweeps import execute
from sim.sweeps.api import analyze_sobol, run_sweep
from sim.sweeps.store import Store

BAD_INPUT = 2
SWEEP_TABLES = ("sweep", "points")
DRAWS_TABLES = ("decision", "evppi", "draws", "replications")
# Integers and a float in one parameter: each point's part holds its own type, the merged
# table one type that holds all.
GRID: dict[str, Any] = {
    "base": "base.yaml",
    "design": {"kind": "grid"},
    "seed": 4,
    "parameters": {EVERY: {"values": [1, 3.5, 7]}, EXIT: {"values": [0.002, 0.01]}},
}
N_POINTS = 6
SALTELLI: dict[str, Any] = {
    "base": "base.yaml",
    "design": {"kind": "saltelli", "points": 4},
    "seed": 2,
    "replications": 1,
    "parameters": {EVERY: {"low": 1.0, "high": 14.0}, EXIT: {"low": 0.001, "high": 0.02}},
    "analysis": {"kpis": ["clv_per_member", "sends_email"]},
}


def as_csv_holds(frame: pd.DataFrame) -> pd.DataFrame:
    """A Parquet table's values as its CSV holds them: numbers at 10 significant digits, and
    an empty text cell as the empty (missing) cell a CSV reads back."""
    frame = at_csv_digits(frame)
    text = [c for c in frame.columns if frame[c].dtype == object or frame[c].dtype == "str"]
    return frame.assign(**{c: frame[c].replace("", None) for c in text})


def assert_same_values(parquet: Path, csv: Path) -> None:
    """The Parquet file holds the CSV file's values, to the digits the CSV writes."""
    pd.testing.assert_frame_equal(
        as_csv_holds(pd.read_parquet(parquet)), read_table(csv), check_dtype=False
    )


def tables(folder: Path, names: tuple[str, ...], fmt: str) -> dict[str, bytes]:
    return {name: (folder / f"{name}.{fmt}").read_bytes() for name in names}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The grid sweep as CSV (one process) and as Parquet (one process, and two through the
    command)."""
    root = tmp_path_factory.mktemp("sweep_parquet")
    write(root, BASE, "base.yaml")
    write(root, GRID, "grid.yaml")
    folders = {name: root / name for name in ("csv", "parquet_1", "parquet_2")}
    run_sweep(root / "grid.yaml", jobs=1, out=folders["csv"])
    run_sweep(root / "grid.yaml", jobs=1, out=folders["parquet_1"], results_format="parquet")
    result = invoke(
        "sweep", root / "grid.yaml", "--jobs", 2, "--format", "parquet",
        "--out", folders["parquet_2"], "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folders


# --- sweeps ----------------------------------------------------------------------------------


def test_a_parquet_sweep_holds_the_csv_values_and_the_same_bytes_whatever_the_jobs(
    sweeps: dict[str, Path],
) -> None:
    one, two = sweeps["parquet_1"], sweeps["parquet_2"]
    assert tables(one, SWEEP_TABLES, "parquet") == tables(two, SWEEP_TABLES, "parquet")
    assert entries(one) == [
        "manifest.json",
        "points.parquet",
        "state.json",
        "sweep.parquet",
    ]
    for name in SWEEP_TABLES:
        assert_same_values(one / f"{name}.parquet", sweeps["csv"] / f"{name}.csv")
    # Typed columns: the parameter that took 1, 3.5 and 7 holds floats in every row.
    sweep = pq.read_table(one / "sweep.parquet")
    assert str(sweep.schema.field(EVERY).type) == "double"
    assert str(sweep.schema.field("replication").type) == "int64"
    assert sorted(set(sweep.column(EVERY).to_pylist())) == [1.0, 3.5, 7.0]


def test_the_python_api_returns_and_reuses_the_parquet_sweep(
    sweeps: dict[str, Path],
) -> None:
    folder = sweeps["parquet_1"]
    before = tables(folder, SWEEP_TABLES, "parquet")
    frame = sim.sweep(
        folder.parent / "grid.yaml", out=folder, resume=True, results_format="parquet"
    )
    pd.testing.assert_frame_equal(frame, pd.read_parquet(folder / "sweep.parquet"))
    assert len(frame) == N_POINTS * 3 * BASE["replications"]
    assert tables(folder, SWEEP_TABLES, "parquet") == before


def test_a_sweep_resumes_only_in_the_format_it_started_in(sweeps: dict[str, Path]) -> None:
    grid, folder = sweeps["csv"].parent / "grid.yaml", sweeps["parquet_1"]
    result = invoke("sweep", grid, "--out", folder, "--resume")
    assert result.exit_code == BAD_INPUT
    assert "written as parquet; pass --format parquet" in result.output
    with pytest.raises(SimInputError, match="written as csv; pass --format csv"):
        run_sweep(grid, jobs=1, out=sweeps["csv"], resume=True, results_format="parquet")


def test_an_interrupted_parquet_sweep_resumes_to_the_uninterrupted_bytes(
    sweeps: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid, out = sweeps["csv"].parent / "grid.yaml", tmp_path / "interrupted"
    real = interrupt_points_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(grid, jobs=1, out=out, results_format="parquet")
    monkeypatch.setattr(execute, "run_point", real)
    assert entries(out / "parts") == ["point-000000.parquet", "point-000001.parquet"]
    assert not (out / "sweep.parquet").exists()

    again = invoke("sweep", grid, "--out", out, "--format", "parquet")
    assert again.exit_code == BAD_INPUT and f"2 of {N_POINTS} points done" in again.output
    outcome = run_sweep(grid, jobs=1, out=out, resume=True, results_format="parquet")
    assert outcome.ran == N_POINTS - 2
    assert tables(out, SWEEP_TABLES, "parquet") == tables(
        sweeps["parquet_1"], SWEEP_TABLES, "parquet"
    )


def test_overwrite_replaces_a_sweep_of_the_other_format(
    sweeps: dict[str, Path], tmp_path: Path
) -> None:
    grid, out = sweeps["csv"].parent / "grid.yaml", tmp_path / "switched"
    small = {**GRID, "base": str(grid.parent / "base.yaml")}
    small["parameters"] = {EVERY: {"values": [3.5]}}
    run_sweep(small, jobs=1, out=out, results_format="parquet")
    assert json.loads((out / "state.json").read_text())["format"] == "parquet"
    run_sweep(small, jobs=1, out=out, overwrite=True)
    assert entries(out) == ["manifest.json", "points.csv", "state.json", "sweep.csv"]
    # A CSV sweep's state.json is as it always was: the definition's hash alone.
    assert list(json.loads((out / "state.json").read_text())) == ["definition_hash"]


def test_sobol_indices_of_a_parquet_sweep_are_those_of_the_csv_sweep(tmp_path: Path) -> None:
    write(tmp_path, BASE, "base.yaml")
    saltelli = write(tmp_path, SALTELLI, "saltelli.yaml")
    for fmt in ("csv", "parquet"):
        result = invoke(
            "sweep", saltelli, "--out", tmp_path / fmt, "--jobs", 2, "--format", fmt,
            "--analyze", "sobol", "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    sobol = pd.read_parquet(tmp_path / "parquet" / "sobol.parquet")
    assert not (tmp_path / "parquet" / "sobol.csv").exists()
    assert len(sobol) == 2 * 2 * 2  # KPIs x strategies (all but silent) x parameters
    assert_same_values(tmp_path / "parquet" / "sobol.parquet", tmp_path / "csv" / "sobol.csv")
    # Computed from the sweep's numbers at the CSV's digits: the same to the last bit.
    from_csv = analyze_sobol(saltelli, tmp_path / "csv")
    pd.testing.assert_frame_equal(sobol, from_csv, check_exact=True)
    # analyze_sobol on the folder writes beside the sweep, in its format.
    (tmp_path / "parquet" / "sobol.parquet").unlink()
    again = analyze_sobol(saltelli, tmp_path / "parquet")
    pd.testing.assert_frame_equal(again, sobol, check_exact=True)
    assert (tmp_path / "parquet" / "sobol.parquet").is_file()


# --- the merge of part files -----------------------------------------------------------------


def mixed_parts() -> list[pd.DataFrame]:
    """Parts whose parameter ``x`` is an integer, a float, text and a boolean in turn."""
    values: list[Any] = [2, 0.123456789012345, "weekly", True]
    return [
        pd.DataFrame({"point": k, "x": v, "strategy": ["silent", "=a"], "kpi": [k * 1.5, k]})
        for k, v in enumerate(values)
    ]


@pytest.mark.parametrize("rows_per_group", [3, results.MERGED_ROW_GROUP_ROWS])
def test_the_parquet_merge_gives_the_csv_merge_in_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_per_group: int
) -> None:
    monkeypatch.setattr(results, "MERGED_ROW_GROUP_ROWS", rows_per_group)
    parts = mixed_parts()
    columns = list(parts[0].columns)
    merged = {}
    for fmt in ("csv", "parquet"):
        store = Store(tmp_path / fmt, len(parts) + 1, results_format=fmt)
        store.open("hash", resume=False, overwrite=False)
        for k, part in enumerate(parts):
            store.write_part(k, part)
        store.write_error(len(parts), "failed")  # no rows
        points = pd.DataFrame({"point": range(len(parts)), "x": [p["x"][0] for p in parts]})
        store.finish(columns, {"points": points}, {"sweep": "test"})
        merged[fmt] = store.out / f"sweep.{fmt}"
        assert not store.parts.exists()
    file = pq.ParquetFile(merged["parquet"])
    rows = sum(len(p) for p in parts)
    assert file.metadata.num_row_groups == -(-rows // rows_per_group)
    # Text mixed with numbers and booleans is text, each cell as the CSV wrote it.
    assert str(file.schema_arrow.field("x").type) == "large_string"
    assert_same_values(merged["parquet"], merged["csv"])
    assert_same_values(tmp_path / "parquet" / "points.parquet", tmp_path / "csv" / "points.csv")
    assert pd.read_parquet(merged["parquet"])["strategy"].tolist() == ["silent", "=a"] * 4


def test_the_parquet_merge_refuses_a_part_of_something_else(tmp_path: Path) -> None:
    store = Store(tmp_path / "out", 2, results_format="parquet")
    store.open("hash", resume=False, overwrite=False)
    first, second = mixed_parts()[:2]
    store.write_part(0, first)
    store.write_part(1, second.rename(columns={"kpi": "other"}))
    with pytest.raises(RuntimeError, match=r"point-000001\.parquet: not a part of this sweep"):
        store.merge(list(first.columns))
    assert not (tmp_path / "out" / "sweep.parquet").exists()


# --- runs of draws ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def draws(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four draws of the command-line scenario as CSV, and as Parquet with one and two jobs."""
    root = tmp_path_factory.mktemp("draws_parquet")
    scenario = write(root, {**cli_data(), "uncertain": UNCERTAIN})
    folders = {name: root / name for name in ("csv", "parquet_1", "parquet_2")}
    for name, out in folders.items():
        fmt, jobs = ("csv", 1) if name == "csv" else ("parquet", int(name[-1]))
        result = invoke(
            "run", scenario, "--draws", 4, "--replications", 1, "--jobs", jobs,
            "--format", fmt, "--out", out, "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return folders


def test_a_parquet_run_of_draws_holds_the_csv_values_and_the_same_bytes_whatever_the_jobs(
    draws: dict[str, Path],
) -> None:
    one, two = draws["parquet_1"], draws["parquet_2"]
    assert tables(one, DRAWS_TABLES, "parquet") == tables(two, DRAWS_TABLES, "parquet")
    assert not list(one.glob("*.csv"))
    for name in DRAWS_TABLES:
        assert_same_values(one / f"{name}.parquet", draws["csv"] / f"{name}.csv")


def test_the_decision_is_computed_from_the_same_numbers_in_either_format(
    draws: dict[str, Path], tmp_path: Path
) -> None:
    """Computed from the replications as a CSV part holds them, whatever the format, the
    decision is the same to the last bit, not only to the digits the CSV writes."""
    scenario = draws["csv"].parent / "small.yaml"
    computed = sim.decide(scenario, draws=4, replications=1, jobs=1, out=tmp_path / "csv")
    parquet = sim.api.read_decision(draws["parquet_1"])
    for name in ("decision", "evppi", "draws"):
        pd.testing.assert_frame_equal(
            getattr(parquet, name), getattr(computed, name), check_exact=True, check_dtype=False
        )


def test_every_reader_of_a_run_of_draws_takes_parquet(
    draws: dict[str, Path], tmp_path: Path
) -> None:
    csv = sim.api.read_decision(draws["csv"])
    parquet = sim.api.read_decision(draws["parquet_1"])
    for name in DRAWS_TABLES:
        table = getattr(parquet, name)
        pd.testing.assert_frame_equal(
            table, pd.read_parquet(draws["parquet_1"] / f"{name}.parquet")
        )
        pd.testing.assert_frame_equal(as_csv_holds(table), getattr(csv, name), check_dtype=False)
    # Not the whole text: it compares the EVPPIs read back with the noise level, which 4 draws
    # put level with it, where the CSV's tenth digit tips the balance.
    assert parquet.report().splitlines()[:8] == csv.report().splitlines()[:8]
    written = build_report(draws["parquet_1"], tmp_path / "report")
    page = written.read_text(encoding="utf-8")
    for figure in ("difference_to_leader", "evppi"):
        assert f'<figure id="{figure}">' in page and (written.parent / f"{figure}.png").is_file()
    with pytest.raises(SimInputError, match="holds a run of draws"):
        sim.load_results(draws["parquet_1"])


def test_an_interrupted_parquet_run_of_draws_resumes_to_the_same_bytes(
    draws: dict[str, Path], tmp_path: Path
) -> None:
    scenario, out = draws["csv"].parent / "small.yaml", tmp_path / "resumed"

    def stop_after_two(done: int, failed: int, todo: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    options: dict[str, Any] = {"draws": 4, "replications": 1, "jobs": 1, "out": out}
    with pytest.raises(KeyboardInterrupt):
        sim.decide(scenario, progress=stop_after_two, results_format="parquet", **options)
    assert entries(out / "parts") == ["draw-000000.parquet", "draw-000001.parquet"]
    sim.decide(scenario, resume=True, results_format="parquet", **options)
    assert tables(out, DRAWS_TABLES, "parquet") == tables(
        draws["parquet_1"], DRAWS_TABLES, "parquet"
    )


# --- bad input -------------------------------------------------------------------------------


def test_an_unknown_format_is_refused_before_anything_runs(tmp_path: Path) -> None:
    write(tmp_path, BASE, "base.yaml")
    grid = write(tmp_path, GRID, "grid.yaml")
    result = invoke("sweep", grid, "--format", "xlsx", "--out", tmp_path / "never")
    assert (
        result.exit_code == BAD_INPUT and "'xlsx' is not one of 'csv', 'parquet'" in result.output
    )
    scenario = write(tmp_path, {**cli_data(), "uncertain": UNCERTAIN}, "draws.yaml")
    result = invoke("run", scenario, "--draws", 2, "--format", "xlsx", "--out", tmp_path / "never")
    assert result.exit_code == BAD_INPUT and "xlsx" in result.output
    message = "--format: must be one of csv, parquet, got 'xlsx'"
    with pytest.raises(SimInputError, match=message):
        sim.sweep(grid, out=tmp_path / "never", results_format="xlsx")
    with pytest.raises(SimInputError, match=message):
        sim.decide(scenario, draws=2, out=tmp_path / "never", results_format="xlsx")
    assert not (tmp_path / "never").exists()
