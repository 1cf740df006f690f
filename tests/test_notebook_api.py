"""The Python API as a notebook uses it: a run's folder read back as Results, a comparison as a
DataFrame, short representations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from builders import cli_data, write

import sim
from sim.errors import SimInputError


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[sim.Results, Path, Path]:
    """The command-line scenario run in memory and into a folder, and again with another
    seed into a second folder."""
    root = tmp_path_factory.mktemp("notebook")
    scenario = write(root, cli_data())
    results = sim.run(scenario, replications=3, jobs=1, out=root / "a")
    sim.run(scenario, replications=3, jobs=1, seed=99, out=root / "b")
    return results, root / "a", root / "b"


def test_a_run_read_back_reports_and_ranks_as_it_did(runs) -> None:
    results, a, _ = runs
    back = sim.load_results(a)
    assert back.scenario == results.scenario
    assert back.report() == results.report()
    pd.testing.assert_frame_equal(back.summary, results.summary, rtol=1e-9, check_dtype=False)
    # The files keep 10 significant digits; a difference of two means loses a few of them.
    pd.testing.assert_frame_equal(back.ranking(), results.ranking(), rtol=1e-6)
    assert back.manifest["seed"] == results.manifest["seed"]


def test_folders_that_are_not_a_run_are_refused(runs, tmp_path: Path) -> None:
    _, a, _ = runs
    with pytest.raises(SimInputError, match="not a results folder"):
        sim.load_results(tmp_path)
    (tmp_path / "manifest.json").write_text((a / "manifest.json").read_text())
    with pytest.raises(SimInputError, match=r"missing summary\.csv"):
        sim.load_results(tmp_path)


def test_the_representations_are_short_and_name_the_leader(runs) -> None:
    results, _, _ = runs
    leader = results.ranking().index[0]
    text = repr(results)
    assert len(text) < 200 and leader in text and "cli_small" in text
    html = results._repr_html_()
    kpi = results.scenario.objective.kpi
    # Two header rows (the columns, then the index's name) and a row per strategy.
    assert html.count("<tr") == len(results.scenario.strategy_names) + 2
    assert f"{kpi}_mean" in html and leader in html


def test_the_ranking_is_compact_and_every_kpi_is_in_the_long_frame(runs) -> None:
    results, _, _ = runs
    kpi = results.scenario.objective.kpi
    ranking = results.ranking()
    assert ranking.index.name == "strategy" and ranking["rank"].tolist() == [1, 2, 3]
    assert len(ranking.columns) <= 13 and {"standing", f"{kpi}_mean"} <= set(ranking.columns)
    assert ranking[f"{kpi}_diff_best"].iloc[0] == 0
    long = results.kpis()
    assert list(long.columns) == ["strategy", "kpi", "statistic", "value"]
    assert list(long["strategy"].unique()) == list(ranking.index)
    strategies = results.strategies.set_index("strategy")
    for strategy in ranking.index:
        for statistic in ("mean", "ci_low", "diff_silent"):
            row = long[
                (long["strategy"] == strategy) & (long["kpi"] == "revenue")
                & (long["statistic"] == statistic)
            ]  # fmt: skip
            assert row["value"].item() == strategies.loc[strategy, f"revenue_{statistic}"]
    assert long.groupby(["strategy", "kpi", "statistic"], observed=True).size().max() == 1


def test_compare_returns_the_commands_table(runs) -> None:
    _, a, b = runs
    same = sim.compare(a, a)
    defined = same["a"].notna()  # rates of strategies that send nothing are undefined
    assert (same.loc[defined, "diff"] == 0).all() and same.loc[~defined, "diff"].isna().all()
    assert not same["significant"].any()
    assert same.attrs["warnings"] == [] and same.attrs["parameters"] == []
    other = sim.compare(a, b, kpis=["revenue", "sends_email"])
    assert set(other["kpi"]) == {"revenue", "sends_email"}
    assert set(other["strategy"]) == {"silent", "weekly", "busy"}
    # The seeds differ: revenue moves, and the parameters list says so.
    assert (other.loc[other["kpi"] == "revenue", "diff"] != 0).any()
    assert ("seed", 3, 99) in other.attrs["parameters"]


def test_a_scenario_changed_by_dotted_path_is_validated_like_a_file() -> None:
    scenario = sim.load_scenario("scenarios/nordic_retail.yaml")
    smaller = scenario.with_overrides({"population.size": 2000, "behaviour.lift.cap": 0.5})
    assert smaller.population.size == 2000 and smaller.behaviour.lift.cap == 0.5
    assert scenario.population.size == 50_000  # frozen: the original is unchanged
    with pytest.raises(SimInputError, match=r"^notebook: population\.size: .*greater than 0"):
        scenario.with_overrides({"population.size": -5}, "notebook")


def test_the_package_gives_its_modules_after_import_sim() -> None:
    assert sim.api.load_results is sim.load_results
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = sim.nothing  # type: ignore[attr-defined]


def test_progress_shows_a_bar_to_the_last_day_and_changes_nothing(tmp_path: Path, capsys) -> None:
    scenario = write(tmp_path, cli_data())
    quiet = sim.run(scenario, replications=2, jobs=1)
    assert capsys.readouterr().err == ""
    shown = sim.run(scenario, replications=2, jobs=1, progress=True)
    bar = capsys.readouterr().err
    days = 2 * quiet.scenario.horizon_days
    assert "cli_small: simulated days" in bar and f"{days}/{days}" in bar
    pd.testing.assert_frame_equal(shown.summary, quiet.summary)
