"""Parameter sweeps: designs, output files, determinism across executors, resume after an
interruption, failed points, bad sweep files, bounded-memory merging and Sobol indices.

Sweeps here run a tiny scenario (300 members, five weeks) so that the whole file takes seconds.
"""

from __future__ import annotations

import builtins
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import interrupt_points_after, scenario_data, segment, write
from click.testing import CliRunner

import sim
from sim.cli.sweep import sweep as sweep_command
from sim.errors import SimInputError
from sim.io.results import write_table
from sim.spec.kpis import KPI_NAMES
from sim.sweeps import execute
from sim.sweeps.api import run_sweep
from sim.sweeps.api import sweep as run_and_read
from sim.sweeps.design import design_points, point_seed
from sim.sweeps.sobol import sobol_table
from sim.sweeps.spec import SweepSpec
from sim.sweeps.store import Store

ROOT = Path(__file__).resolve().parents[1]
# The sweep command in a fresh interpreter, as the console script runs it.
COMMAND = [sys.executable, "-c", "from sim.cli.sweep import sweep; sweep()"]

BASE: dict[str, Any] = scenario_data(
    {
        "weekly": {
            "caps": {"email": "2 per 7d"},
            "campaigns": {"news": {"channel": "email", "every_days": 7, "relevance": 0.4}},
        },
        "sms": {"campaigns": {"promo": {"channel": "sms", "every_days": 10, "hour": 16}}},
    },
    name="tiny",
    segments={
        "regular": segment(
            2.0, 12.0, 0.6, 40.0, v=200.0, opt_in={"email": 0.7, "sms": 0.3, "push": 0.5}
        )
    },
    size=300,
    acquisition=1.0,
    horizon=35,
    seed=5,
    replications=2,
)

EVERY = "strategies.weekly.campaigns.news.every_days"
EXIT = "channels.email.exit"

LHS: dict[str, Any] = {
    "base": "base.yaml",
    "design": {"kind": "lhs", "points": 40},
    "seed": 11,
    "parameters": {
        EVERY: {"low": 0.5, "high": 14.0, "log": True},
        EXIT: {"low": 0.001, "high": 0.02},
        "population.size": {"low": 200, "high": 400, "integer": True},
    },
}


def output_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("sweep.csv", "points.csv")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder with the base scenario and the LHS sweep file."""
    path = tmp_path_factory.mktemp("sweep")
    write(path, BASE, "base.yaml")
    write(path, LHS, "lhs.yaml")
    return path


@pytest.fixture(scope="module")
def reference(folder: Path) -> Path:
    """The LHS sweep run uninterrupted in this process (jobs=1)."""
    run_sweep(folder / "lhs.yaml", jobs=1, out=folder / "reference")
    return folder / "reference"


def spec(design: dict[str, Any], parameters: dict[str, Any]) -> SweepSpec:
    return SweepSpec.model_validate({"base": "b.yaml", "design": design, "parameters": parameters})


# --- designs ---------------------------------------------------------------------------------


def test_point_seed_is_the_spawned_child_whatever_the_number_of_points():
    for n in (3, 50):
        children = np.random.SeedSequence(123).spawn(n)
        assert [point_seed(123, k) for k in range(n)] == [
            int(c.generate_state(1)[0]) for c in children
        ]


def test_grid_runs_every_combination_last_parameter_fastest():
    grid = spec({"kind": "grid"}, {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", True]}})
    assert design_points(grid, seed=0) == list(itertools.product([1, 2, 3], ["x", True]))


def test_random_design_is_reproducible_by_seed_and_within_ranges():
    design = spec(
        {"kind": "random", "points": 200},
        {
            "x": {"low": -1.0, "high": 2.0},
            "rate": {"low": 0.001, "high": 0.1, "log": True},
            "n": {"low": 3, "high": 6, "integer": True},
        },
    )
    points = design_points(design, seed=7)
    assert points == design_points(design, seed=7)
    assert points != design_points(design, seed=8)
    x, rate, n = (np.array(column) for column in zip(*points, strict=True))
    assert (x >= -1).all() and (x <= 2).all()
    assert (rate >= 0.001).all() and (rate <= 0.1).all()
    # Uniform in the logarithm: about as many points below 0.01 as above.
    assert 70 < (rate < 0.01).sum() < 130
    assert set(n.tolist()) == {3, 4, 5, 6} and all(isinstance(v, int) for v in n.tolist())


def test_latin_hypercube_puts_one_point_in_each_stratum_of_each_parameter():
    n = 20
    design = spec(
        {"kind": "lhs", "points": n},
        {"x": {"low": 10.0, "high": 30.0}, "rate": {"low": 0.01, "high": 1.0, "log": True}},
    )
    x, rate = (np.array(c) for c in zip(*design_points(design, seed=3), strict=True))
    strata_x = np.floor((x - 10.0) / 20.0 * n)
    strata_rate = np.floor(np.log(rate / 0.01) / np.log(100.0) * n)
    assert sorted(strata_x) == list(range(n))
    assert sorted(strata_rate) == list(range(n))


def test_saltelli_design_has_blocks_a_b_and_each_ab_with_one_column_from_b():
    n, d = 8, 3
    design = spec(
        {"kind": "saltelli", "points": n},
        {name: {"low": 0.0, "high": 1.0} for name in ("a", "b", "c")},
    )
    blocks = np.array(design_points(design, seed=1)).reshape(d + 2, n, d)
    a, b = blocks[0], blocks[1]
    for i in range(d):
        expected = a.copy()
        expected[:, i] = b[:, i]
        assert np.array_equal(blocks[2 + i], expected)


# --- Sobol indices on the Ishigami function --------------------------------------------------


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """Analytic first- and total-order indices of sin x1 + a sin^2 x2 + b x3^4 sin x1."""
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_sobol_indices_of_ishigami_match_the_analytic_values():
    first, total = ishigami_indices()
    assert np.round(first, 4).tolist() == [0.3139, 0.4424, 0.0]
    assert np.round(total, 4).tolist() == [0.5576, 0.4424, 0.2437]
    n = 4096
    design = spec(
        {"kind": "saltelli", "points": n},
        {name: {"low": -math.pi, "high": math.pi} for name in ("x1", "x2", "x3")},
    )
    x = np.array(design_points(design, seed=2023))
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    table = sobol_table(y, ["x1", "x2", "x3"], n, resamples=999, seed=1)
    for order, analytic in (("first_order", first), ("total_order", total)):
        low, high = table[f"{order}_low"].to_numpy(), table[f"{order}_high"].to_numpy()
        assert ((low <= analytic) & (analytic <= high)).all(), (order, low, high)
        # The intervals are narrow enough for the inclusion to mean something.
        assert (high - low < 0.1).all(), order
        assert np.allclose(table[order], analytic, atol=0.04), order


# --- output files and determinism ------------------------------------------------------------


def test_sweep_csv_has_a_row_per_point_strategy_and_replication(folder: Path, tmp_path: Path):
    data = {
        "base": str(folder / "base.yaml"),
        "design": {"kind": "grid"},
        "parameters": {EVERY: {"values": [1, 3.5]}, EXIT: {"values": [0.002, 0.01]}},
        "replications": 2,
        "seed": 9,
    }
    frame = run_and_read(data, jobs=1, out=tmp_path / "grid")
    assert list(frame.columns) == [
        "point",
        EVERY,
        EXIT,
        "strategy",
        "replication",
        "seed",
        *KPI_NAMES,
    ]
    assert len(frame) == 4 * 3 * 2
    first = frame[frame["point"] == 1]
    assert (first[EVERY] == 1).all() and (first[EXIT] == 0.01).all()
    assert (first["seed"] == point_seed(9, 1)).all()
    assert first["strategy"].tolist() == ["silent", "weekly", "sms"] * 2
    # A point is exactly `loyaltysim run` of the base with the point's values and seed.
    run = sim.run(
        folder / "base.yaml",
        overrides=[f"{EVERY}=1", f"{EXIT}=0.01"],
        seed=point_seed(9, 1),
        replications=2,
        jobs=1,
    )
    pd.testing.assert_frame_equal(
        first.drop(columns=["point", EVERY, EXIT]).reset_index(drop=True),
        run.summary.reset_index(drop=True),
        check_dtype=False,
    )
    points = pd.read_csv(tmp_path / "grid" / "points.csv", keep_default_na=False)
    assert list(points.columns) == ["point", EVERY, EXIT, "seed", "status", "error"]
    assert points["status"].eq("ok").all() and points["point"].tolist() == [0, 1, 2, 3]
    manifest = json.loads((tmp_path / "grid" / "manifest.json").read_text())
    assert manifest["points"] == 4 and manifest["design"]["kind"] == "grid"
    assert not (tmp_path / "grid" / "parts").exists()


def test_two_jobs_give_the_same_bytes_as_one(folder: Path, reference: Path, tmp_path: Path):
    run_sweep(folder / "lhs.yaml", jobs=2, out=tmp_path / "jobs2")
    assert output_bytes(tmp_path / "jobs2") == output_bytes(reference)


def test_a_dask_cluster_gives_the_same_bytes_as_local_processes(
    folder: Path, reference: Path, tmp_path: Path, dask_scheduler: str
):
    out = tmp_path / "dask"
    result = CliRunner().invoke(
        sweep_command, [str(folder / "lhs.yaml"), "--dask", dask_scheduler, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert output_bytes(out) == output_bytes(reference)
    assert json.loads((out / "manifest.json").read_text())["executor"].startswith("dask")


# --- interruption and resume -----------------------------------------------------------------


def test_kill_9_then_resume_gives_the_uninterrupted_bytes(
    folder: Path, reference: Path, tmp_path: Path
):
    out = tmp_path / "killed"
    args = [*COMMAND, str(folder / "lhs.yaml"), "--out", str(out), "--jobs", "2", "--quiet"]
    # Its own process group, so the kill reaches the worker processes too.
    process = subprocess.Popen(args, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list((out / "parts").glob("point-*.csv"))) < 3:
        assert process.poll() is None and time.monotonic() < deadline, "no part files"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.json").exists() and not (out / "sweep.csv").exists()
    done = len(list((out / "parts").glob("point-*.csv")))
    assert 3 <= done < 40

    again = subprocess.run([*args[:-1]], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2
    assert "--resume" in again.stderr and "points done" in again.stderr

    resumed = subprocess.run([*args, "--resume"], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert output_bytes(out) == output_bytes(reference)
    assert json.loads((out / "manifest.json").read_text())["points_run"] <= 40 - done


def test_interrupted_after_some_points_resume_runs_only_the_rest(
    folder: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "interrupted"
    real = interrupt_points_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(folder / "lhs.yaml", jobs=1, out=out)
    assert sorted(p.name for p in (out / "parts").iterdir()) == [
        f"point-00000{k}.csv" for k in range(3)
    ]
    monkeypatch.setattr(execute, "run_point", real)

    outcome = run_sweep(folder / "lhs.yaml", jobs=1, out=out, resume=True)
    assert outcome.ran == 37
    assert output_bytes(out) == output_bytes(reference)
    # Resuming a finished sweep runs nothing and changes nothing.
    assert run_sweep(folder / "lhs.yaml", jobs=1, out=out, resume=True).ran == 0
    assert output_bytes(out) == output_bytes(reference)


def test_resume_refuses_a_changed_definition(folder: Path, tmp_path: Path):
    out = tmp_path / "changed"
    small = {**LHS, "base": str(folder / "base.yaml"), "design": {"kind": "lhs", "points": 2}}
    run_sweep(small, jobs=1, out=out)
    with pytest.raises(SimInputError, match="definition changed"):
        run_sweep({**small, "seed": 12}, jobs=1, out=out, resume=True)
    with pytest.raises(SimInputError, match="another sweep"):
        run_sweep({**small, "seed": 12}, jobs=1, out=out)
    # --overwrite starts again and removes only what a sweep writes.
    (out / "notes.txt").write_text("mine")
    run_sweep({**small, "seed": 12}, jobs=1, out=out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "manifest.json").read_text())["seed"] == 12


def test_a_folder_of_other_files_is_not_used(folder: Path, tmp_path: Path):
    (tmp_path / "other.csv").write_text("x\n")
    with pytest.raises(SimInputError, match="holds no sweep"):
        run_sweep(folder / "lhs.yaml", jobs=1, out=tmp_path)


# --- failed points ---------------------------------------------------------------------------


def test_failed_points_are_reported_with_parameters_and_error_and_the_rest_finish(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # An exit rate below the email complaint rate (0.0001) is an invalid scenario.
    sweep_file = write(
        tmp_path,
        {
            "base": str(folder / "base.yaml"),
            "design": {"kind": "grid"},
            "parameters": {EXIT: {"values": [0.00005, 0.01, 0.02]}},
        },
        "failing.yaml",
    )
    real_run = execute.run_summaries

    def breaks_on_0_02(scenario, *args, **kwargs):
        if scenario.channels.email.exit == 0.02:
            raise RuntimeError("disk full")
        return real_run(scenario, *args, **kwargs)

    monkeypatch.setattr(execute, "run_summaries", breaks_on_0_02)
    out = tmp_path / "out"
    result = CliRunner().invoke(sweep_command, [str(sweep_file), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: 2 of 3 points failed" in result.output
    assert f"point 0 ({EXIT}=5e-05): channels.email: complaint rate cannot exceed" in result.output
    assert f"point 2 ({EXIT}=0.02): RuntimeError: disk full" in result.output
    points = pd.read_csv(out / "points.csv", keep_default_na=False)
    assert points["status"].tolist() == ["failed", "ok", "failed"]
    assert points.loc[0, EXIT] == 0.00005
    assert "complaint rate cannot exceed the exit rate" in points.loc[0, "error"]
    assert points.loc[2, "error"] == "RuntimeError: disk full"
    assert pd.read_csv(out / "sweep.csv")["point"].unique().tolist() == [1]

    strict = CliRunner().invoke(
        sweep_command,
        [str(sweep_file), "--out", str(out), "--overwrite", "--strict", "--jobs", "1"],
    )
    assert strict.exit_code == 1, strict.output

    counts: list[tuple[int, int, int]] = []
    run_sweep(sweep_file, jobs=1, out=out, overwrite=True, progress=lambda *c: counts.append(c))
    assert counts == [(0, 0, 3), (1, 1, 3), (2, 1, 3), (3, 2, 3)]


# --- bad sweep files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"desgin": {"kind": "grid"}}, "bad.yaml: desgin: unknown key (allowed: analysis, base"),
        ({"design": {"kind": "lhs"}}, "bad.yaml: design.points: the lhs design needs"),
        ({"design": {"kind": "saltelli", "points": 100}}, "design.points: saltelli needs a power"),
        ({"design": {"kind": "sobol", "points": 8}}, "bad.yaml: design.kind: Input should be"),
        (
            {"parameters": {"channels.email.exitt": {"low": 0.1, "high": 0.2}}},
            "bad.yaml: parameters[channels.email.exitt]: the base scenario has no "
            "channels.email.exitt",
        ),
        (
            {"parameters": {EXIT: {"low": "0.1", "high": 0.2}}},
            f"bad.yaml: parameters[{EXIT}].low: Input should be a valid number",
        ),
        (
            {"parameters": {EXIT: {"low": 0.2, "high": 0.1}}},
            f"bad.yaml: parameters[{EXIT}]: high must be above low",
        ),
        (
            {"parameters": {EXIT: {"values": [0.1, 0.2]}}},
            f"bad.yaml: parameters[{EXIT}]: the lhs design samples a range",
        ),
        ({"parameters": {"seed": {"low": 1, "high": 9}}}, "bad.yaml: parameters.seed: 'seed' is"),
        ({"analysis": {"kpis": ["clv"]}}, "bad.yaml: analysis.kpis: unknown KPI 'clv'"),
        ({"base": "missing.yaml"}, "missing.yaml: file not found"),
    ],
)
def test_invalid_sweep_files_exit_2_naming_the_file_and_field(
    folder: Path, change: dict[str, Any], expected: str
):
    bad = write(folder, {**LHS, **change}, "bad.yaml")
    result = CliRunner().invoke(sweep_command, [str(bad), "--out", str(folder / "never")])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not (folder / "never").exists()


def test_analyze_sobol_needs_the_saltelli_design(folder: Path):
    result = CliRunner().invoke(sweep_command, [str(folder / "lhs.yaml"), "--analyze", "sobol"])
    assert result.exit_code == 2
    assert "--analyze sobol needs the saltelli design, not lhs" in result.output


def test_analyze_sobol_writes_indices_per_kpi_and_strategy(folder: Path, tmp_path: Path):
    sweep_file = write(
        tmp_path,
        {
            "base": str(folder / "base.yaml"),
            "design": {"kind": "saltelli", "points": 8},
            "replications": 1,
            "parameters": {EVERY: {"low": 1.0, "high": 14.0}, EXIT: {"low": 0.001, "high": 0.02}},
            "analysis": {"kpis": ["clv_per_member", "sends_email"], "versus_silent": True},
        },
        "saltelli.yaml",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        sweep_command, [str(sweep_file), "--out", str(out), "--jobs", "1", "--analyze", "sobol"]
    )
    assert result.exit_code == 0, result.output
    assert "sends_email, weekly - silent" in result.output
    table = pd.read_csv(out / "sobol.csv")
    assert len(table) == 2 * 2 * 2  # KPIs x strategies (all but silent) x parameters
    assert set(table["strategy"]) == {"weekly", "sms"} and table["versus_silent"].all()
    # The sms strategy sends no email whatever the parameters: nothing to attribute.
    sms = table[(table["strategy"] == "sms") & (table["kpi"] == "sends_email")]
    assert (sms[["first_order", "total_order"]] == 0).all().all()


# --- the merge streams part files one at a time ----------------------------------------------


def test_the_merge_reads_one_part_file_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    n = 300
    store = Store(tmp_path / "out", n)
    store.open("hash", resume=False, overwrite=False)
    columns = ["point", "x", "strategy", "value"]
    frames = []
    for k in range(n):
        if k % 7 == 3:
            store.write_error(k, "failed")  # failed points have no rows
            continue
        frame = pd.DataFrame(
            {"point": k, "x": k / 3, "strategy": ["silent", "=a"], "value": [k, -k]}
        )
        store.write_part(k, frame)
        frames.append(frame)

    real_open, open_now, peak, opened = builtins.open, set(), [0], []

    class Tracked:
        """A file that reports when it is closed."""

        def __init__(self, handle: Any, path: str) -> None:
            self._handle, self._path = handle, path

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

        def __enter__(self) -> Tracked:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

        def close(self) -> None:
            open_now.discard(self._path)
            self._handle.close()

    def tracking_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, *args, **kwargs)
        if Path(file).parent == store.parts:
            opened.append(Path(file).name)
            open_now.add(str(file))
            peak[0] = max(peak[0], len(open_now))
            return Tracked(handle, str(file))
        return handle

    monkeypatch.setattr(builtins, "open", tracking_open)
    store.merge(columns)
    monkeypatch.undo()

    assert peak[0] == 1 and not open_now
    assert opened == [f"point-{k:06d}.csv" for k in range(n) if k % 7 != 3]
    expected = tmp_path / "expected.csv"
    write_table(pd.concat(frames, ignore_index=True), expected)
    assert (tmp_path / "out" / "sweep.csv").read_bytes() == expected.read_bytes()
