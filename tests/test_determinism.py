"""Reproducibility and common random numbers, through the public API (``sim.run``).

Same scenario and seed give the same bytes whatever the number of jobs; strategies share the
population and the random streams, so a strategy that reaches nobody is indistinguishable from
``silent``, and a strategy's results do not depend on which other strategies are in the run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import scenario_data, segment, write

import sim
from sim.engine.runner import run_summaries
from sim.io.loader import scenario_from_dict
from sim.spec.kpis import KPI_NAMES

CSV_FILES = ("summary.csv", "strategies.csv", "timeseries.csv", "pressure.csv")

STRATEGIES: dict[str, Any] = {
    "weekly": {
        "campaigns": {
            "news": {"channel": "email", "weekdays": ["thu"], "hour": 9, "relevance": 0.4},
            "bonus": {
                "channel": "push",
                "kind": "bonus_points",
                "every_days": 14,
                "hour": 12,
                "relevance": 0.6,
                "offer": {"kind": "points_multiplier", "multiplier": 2, "days": 7},
            },
        }
    },
    "sms_to_nobody": {
        "campaigns": {"promo": {"channel": "sms", "every_days": 3, "hour": 16}},
    },
    "heavy": {
        "caps": {"email": "3 per 7d"},
        "campaigns": {
            "daily": {"channel": "email", "every_days": 1, "hour": 9, "relevance": 0.3},
            "promo": {
                "channel": "email",
                "kind": "promo",
                "weekdays": ["mon", "fri"],
                "hour": 7,
                "offer": {"kind": "discount", "percent": 10},
            },
        },
    },
}

SCENARIO: dict[str, Any] = scenario_data(
    STRATEGIES,
    name="determinism",
    segments={
        "regular": segment(
            2.0,
            12.0,
            0.6,
            40.0,
            v=200.0,
            # Nobody is opted in to SMS: an SMS campaign reaches no one.
            opt_in={"email": 0.7, "sms": 0.0, "push": 0.5},
            share=0.6,
        ),
        "occasional": segment(
            1.0, 23.0, 0.6, 30.0, v=150.0, opt_in={"email": 0.6, "sms": 0.0, "push": 0.4}, share=0.4
        ),
    },
    size=2000,
    acquisition=3.0,
    horizon=120,
    seed=41,
    replications=2,
    program={"redemption_threshold": 1000, "expiry": {"kind": "inactivity", "days": 60}},
    # Nor does anyone opt in to SMS at a purchase.
    behaviour={"consent": {"recapture_per_purchase": {"sms": 0.0}}},
)


def csv_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in CSV_FILES}


def rows(frame: pd.DataFrame, strategy: str) -> pd.DataFrame:
    return frame[frame["strategy"] == strategy].reset_index(drop=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, sim.Results, Path]:
    """The scenario file, its run with one job, and that run's saved results folder."""
    folder = tmp_path_factory.mktemp("determinism")
    path = write(folder, SCENARIO, "determinism.yaml")
    results = sim.run(path, replications=2, jobs=1)
    return path, results, results.save(folder / "jobs1")


def test_same_seed_gives_the_same_bytes_whatever_the_jobs(base, tmp_path):
    path, _, jobs1 = base
    jobs2 = sim.run(path, replications=2, jobs=2).save(tmp_path / "jobs2")
    assert csv_bytes(jobs2) == csv_bytes(jobs1)


@pytest.fixture(scope="module")
def together(base, tmp_path_factory) -> Path:
    """One replication in one process, saved: what any split of it must give, byte for byte."""
    path, _, _ = base
    folder = tmp_path_factory.mktemp("together")
    return sim.run(path, replications=1, jobs=1).save(folder / "together")


@pytest.mark.parametrize("jobs", [2, 3])
def test_strategies_split_across_processes_give_the_same_bytes(base, together, tmp_path, jobs):
    # More jobs than replications: each replication's strategies run in separate processes.
    path, _, _ = base
    split = sim.run(path, replications=1, jobs=jobs).save(tmp_path / "split")
    assert csv_bytes(split) == csv_bytes(together)


def test_a_point_of_a_sweep_or_draw_is_the_runs_summary(base):
    # Points (sweeps, draws) skip the weekly series and the pressure table; the summary rows
    # must be those of the whole run, value for value and type for type.
    path, results, _ = base
    scenario = sim.load_scenario(path)
    summary = run_summaries(scenario, 2, scenario.seed)
    pd.testing.assert_frame_equal(summary, results.summary, check_exact=True)


def test_another_seed_gives_other_results(base, tmp_path):
    path, results, jobs1 = base
    other = sim.run(path, replications=2, jobs=1, seed=SCENARIO["seed"] + 1)
    saved = other.save(tmp_path / "other")
    for name in CSV_FILES:
        assert (saved / name).read_bytes() != (jobs1 / name).read_bytes(), name
    # Not just the seed column: the simulated outcomes differ.
    assert not np.array_equal(other.summary["revenue"], results.summary["revenue"])
    assert other.summary["seed"].eq(SCENARIO["seed"] + 1).all()


def test_silent_differs_from_itself_by_exactly_zero(base):
    _, results, _ = base
    silent = rows(results.summary, "silent")
    assert len(silent) == 2
    assert (silent["incremental_revenue"] == 0.0).all()
    table = results.strategies.set_index("strategy").loc["silent"]
    checked = 0
    for kpi in KPI_NAMES:
        if np.isnan(table[f"{kpi}_mean"]):  # a rate with nothing counted, e.g. opens per email
            continue
        for column in ("diff_silent", "diff_ci_low", "diff_ci_high"):
            assert table[f"{kpi}_{column}"] == 0.0, (kpi, column)
        checked += 1
    assert checked > 30


def test_saved_strategies_csv_holds_the_zero_differences(base):
    _, _, jobs1 = base
    table = pd.read_csv(jobs1 / "strategies.csv").set_index("strategy").loc["silent"]
    assert table["revenue_diff_silent"] == 0.0
    assert table["revenue_diff_ci_low"] == table["revenue_diff_ci_high"] == 0.0
    assert table["retention_rate_diff_silent"] == 0.0


def test_a_strategy_that_reaches_nobody_equals_silent_in_every_kpi(base):
    # Its SMS campaign has no audience (SMS opt-in 0), so any difference to silent could only
    # come from randomness that the strategies do not share.
    _, results, _ = base
    nobody, silent = rows(results.summary, "sms_to_nobody"), rows(results.summary, "silent")
    assert (nobody["sends_sms"] == 0).all()
    for kpi in KPI_NAMES:
        a, b = nobody[kpi].to_numpy(float), silent[kpi].to_numpy(float)
        assert np.array_equal(a, b, equal_nan=True), kpi
    columns = [c for c in results.timeseries.columns if c != "strategy"]
    pd.testing.assert_frame_equal(
        rows(results.timeseries, "sms_to_nobody")[columns],
        rows(results.timeseries, "silent")[columns],
    )
    # The other strategies did change things, so equality is not a property of the scenario.
    weekly = rows(results.summary, "weekly")
    assert (weekly["sends_email"] > 0).all()
    assert not np.array_equal(weekly["revenue"], silent["revenue"])


def test_results_do_not_depend_on_the_other_strategies(base):
    _, results, _ = base
    # The same scenario without 'heavy' and 'sms_to_nobody', and with a new strategy placed
    # before 'weekly' that sends email at the same minute (Thursday 9:00) and push as well.
    data = copy.deepcopy(SCENARIO)
    data["strategies"] = {
        "intruder": {
            "campaigns": {
                "same_minute": {"channel": "email", "weekdays": ["thu"], "hour": 9},
                "push": {"channel": "push", "every_days": 2, "hour": 12},
            }
        },
        "weekly": SCENARIO["strategies"]["weekly"],
    }
    other = sim.run(scenario_from_dict(data), replications=2, jobs=1)
    assert list(other.summary["strategy"].unique()) == ["silent", "intruder", "weekly"]
    for name in ("silent", "weekly"):
        pd.testing.assert_frame_equal(rows(other.summary, name), rows(results.summary, name))
        pd.testing.assert_frame_equal(rows(other.timeseries, name), rows(results.timeseries, name))
    # The intruder did act, on the same channel and minute as 'weekly'.
    intruder = rows(other.summary, "intruder")
    assert (intruder["sends_email"] > 0).all()
    assert not np.array_equal(intruder["revenue"], rows(other.summary, "weekly")["revenue"])
