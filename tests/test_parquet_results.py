"""Results as Parquet (``run --format parquet``): the same values as the CSVs at full precision,
the same bytes whatever the jobs, and read by load_results, compare and report alike."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from builders import cli_data, invoke, write

import sim
from sim.io.results import CSV_FILES
from sim.report import build_report

BAD_INPUT = 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The command-line scenario run as CSV (one process) and as Parquet (one and two)."""
    root = tmp_path_factory.mktemp("parquet")
    scenario = write(root, cli_data())
    folders = {name: root / name for name in ("csv", "parquet_1", "parquet_2")}
    sim.run(scenario, replications=3, jobs=1, out=folders["csv"])
    for jobs in (1, 2):
        result = invoke(
            "run", scenario, "--replications", 3, "--jobs", jobs, "--format", "parquet",
            "--out", folders[f"parquet_{jobs}"], "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return folders


def test_parquet_holds_the_csv_values_and_the_same_bytes_whatever_the_jobs(runs) -> None:
    for name in CSV_FILES:
        one = runs["parquet_1"] / f"{name}.parquet"
        assert one.read_bytes() == (runs["parquet_2"] / f"{name}.parquet").read_bytes(), name
        assert not (runs["parquet_1"] / f"{name}.csv").exists()
        csv = pd.read_csv(runs["csv"] / f"{name}.csv")
        parquet = pd.read_parquet(one)
        # CSV keeps 10 significant digits; Parquet the full float.
        pd.testing.assert_frame_equal(parquet, csv, rtol=1e-9, check_dtype=False)


def test_every_reader_takes_either_format(runs, tmp_path: Path) -> None:
    csv, parquet = sim.load_results(runs["csv"]), sim.load_results(runs["parquet_1"])
    assert parquet.report() == csv.report()
    table = sim.compare(runs["csv"], runs["parquet_1"], kpis=["revenue"])
    assert (table["diff"].abs() < 1e-6 * table["a"].abs().max()).all()
    written = build_report(runs["parquet_1"], tmp_path / "report")
    assert written.is_file() and "revenue" in written.read_text(encoding="utf-8")


def test_an_unknown_format_is_refused(runs) -> None:
    result = invoke("run", runs["csv"].parent / "small.yaml", "--format", "xlsx")
    assert result.exit_code == BAD_INPUT and "xlsx" in result.output
    with pytest.raises(sim.api.SimInputError, match="--format: must be one of csv, parquet"):
        sim.run(runs["csv"].parent / "small.yaml", results_format="xlsx")
