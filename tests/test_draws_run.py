"""``loyaltysim run --draws``: the decision files, the shipped priors, the same bytes whatever
the jobs or executor, resume after an interruption, and bad input refused before anything runs.

The runs use the small command-line scenario (300 members, six weeks)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from builders import cli_data, entries, invoke, write

import sim
from sim.analysis.decision import DECISION_COLUMNS, DECISION_EXTRA, EVPPI_COLUMNS, evpi, evppi
from sim.io.loader import DEFAULT_PRIORS, with_default_priors
from sim.io.results import DECISION_CSV, DRAWS_CSV, EVPPI_CSV, MANIFEST, REPLICATIONS_CSV

FILES = (DECISION_CSV, EVPPI_CSV, DRAWS_CSV, REPLICATIONS_CSV)
DRAWS, REPLICATIONS = 6, 2
UNCERTAIN = {
    "behaviour.lapse.winback_per_open": {"dist": "uniform", "low": 0.0, "high": 0.1},
    "behaviour.fatigue.half_life_days": {"dist": "loguniform", "low": 3.0, "high": 21.0},
    "channels.sms.intrusiveness": {"dist": "triangular", "low": 1.0, "mode": 2.5, "high": 5.0},
}


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("draws"), {**cli_data(), "uncertain": UNCERTAIN})


@pytest.fixture(scope="module")
def reference(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The draws run in one process."""
    out = tmp_path_factory.mktemp("reference") / "run"
    sim.decide(scenario_file, draws=DRAWS, replications=REPLICATIONS, jobs=1, out=out)
    return out


def test_the_decision_files_hold_their_contract_columns(reference: Path) -> None:
    decision = pd.read_csv(reference / DECISION_CSV)
    strategies = cli_data()["strategies"].keys() | {"silent"}
    assert list(decision.columns) == [*DECISION_COLUMNS, *DECISION_EXTRA]
    assert set(decision["strategy"]) == strategies
    assert decision["p_best"].sum() == pytest.approx(1.0)
    assert (decision["expected_loss"] >= 0).all() and (decision["low"] <= decision["high"]).all()
    # Ranked by expected value; the leader's difference to itself is 0 in every draw.
    assert decision["expected"].is_monotonic_decreasing
    assert decision.loc[0, ["diff_low", "diff_high"]].tolist() == [0.0, 0.0]
    evppi = pd.read_csv(reference / EVPPI_CSV)
    assert list(evppi.columns[:2]) == list(EVPPI_COLUMNS)
    assert set(evppi["parameter"]) == set(UNCERTAIN)
    draws = pd.read_csv(reference / DRAWS_CSV)
    assert len(draws) == DRAWS * len(strategies)
    assert list(draws.columns[: 1 + len(UNCERTAIN)]) == ["draw", *UNCERTAIN]
    # One drawn value per draw, whatever the strategy: common parameters across strategies.
    assert (draws.groupby("draw")[list(UNCERTAIN)].nunique() == 1).all().all()
    runs = pd.read_csv(reference / REPLICATIONS_CSV)
    assert len(runs) == DRAWS * REPLICATIONS * len(strategies)
    # Within a draw, all strategies share a replication's seed (common random numbers), and
    # draws differ in their seeds.
    seeds = runs.groupby(["draw", "replication"])["seed"].nunique()
    assert (seeds == 1).all() and runs["seed"].nunique() == DRAWS
    manifest = json.loads((reference / MANIFEST).read_text())
    assert manifest["draws"] == DRAWS and manifest["replications"] == REPLICATIONS
    assert manifest["priors"] == "scenario" and manifest["uncertain"] == list(UNCERTAIN)


def test_each_draws_objective_is_the_mean_of_its_replications(reference: Path) -> None:
    runs = pd.read_csv(reference / REPLICATIONS_CSV)
    draws = pd.read_csv(reference / DRAWS_CSV)
    means = runs.groupby(["draw", "strategy"])["clv_per_member"].mean()
    joined = draws.set_index(["draw", "strategy"])["clv_per_member"]
    pd.testing.assert_series_equal(joined.sort_index(), means.sort_index(), check_names=False)
    decision = pd.read_csv(reference / DECISION_CSV).set_index("strategy")
    objective = sim.scenario_from_dict(cli_data()).objective.kpi
    expected = draws.groupby("strategy")[objective].mean()
    pd.testing.assert_series_equal(
        decision["expected"].sort_index(), expected.sort_index(), check_names=False
    )


def test_two_jobs_give_the_same_bytes_as_one(
    scenario_file: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "jobs2"
    sim.decide(scenario_file, draws=DRAWS, replications=REPLICATIONS, jobs=2, out=out)
    assert _bytes(out) == _bytes(reference)


def test_a_dask_cluster_gives_the_same_bytes_as_local_processes(
    scenario_file: Path, reference: Path, tmp_path: Path, dask_scheduler: str
) -> None:
    out = tmp_path / "dask"
    result = invoke(
        "run", scenario_file, "--draws", DRAWS, "--replications", REPLICATIONS,
        "--dask", dask_scheduler, "--out", out, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _bytes(out) == _bytes(reference)
    assert json.loads((out / MANIFEST).read_text())["executor"].startswith("dask")


def test_an_interrupted_run_resumes_to_the_same_bytes(
    scenario_file: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "resumed"

    def stop_after_three(done: int, failed: int, todo: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sim.decide(
            scenario_file, draws=DRAWS, replications=REPLICATIONS, jobs=1, out=out,
            progress=stop_after_three,
        )  # fmt: skip
    assert not (out / DECISION_CSV).exists() and len(list((out / "parts").glob("*.csv"))) == 3
    again = invoke(
        "run", scenario_file, "--draws", DRAWS, "--replications", REPLICATIONS, "--out", out
    )
    assert again.exit_code == 2 and "3 of 6 draws done" in again.output
    ran: list[int] = []
    sim.decide(
        scenario_file, draws=DRAWS, replications=REPLICATIONS, jobs=1, out=out, resume=True,
        progress=lambda done, failed, todo: ran.append(todo),
    )  # fmt: skip
    assert ran[0] == DRAWS - 3
    assert _bytes(out) == _bytes(reference)


def test_the_command_prints_the_decision_and_uses_the_shipped_priors(layout) -> None:
    scenario, results = layout
    out = results / "decision"
    result = invoke("run", scenario, "--draws", "4", "--out", out)
    assert result.exit_code == 0, result.output
    assert "has no uncertain: block; drawing the shipped priors" in result.output
    for label in ("P(best)", "P(> silent)", "expected loss", "EVPI"):
        assert label in result.output
    assert "needs 2 or more replications" in result.output
    manifest = json.loads((out / MANIFEST).read_text())
    # The EVPPI noise level is printed as measured: a level, or that it is 0.
    noise = "EVPPI up to" if manifest["evppi_noise"] > 0 else "get an EVPPI of 0"
    assert noise in result.output
    assert manifest["priors"] == DEFAULT_PRIORS.name
    shipped = with_default_priors(sim.load_scenario(scenario)).uncertain
    assert manifest["uncertain"] == list(shipped.parameters)
    assert len(manifest["uncertain"]) > 40


def test_the_shipped_priors_leave_out_what_a_scenario_does_not_hold() -> None:
    sc = sim.scenario_from_dict(cli_data())
    held = sc.holding({**with_default_priors(sc).uncertain.parameters})
    prior = next(iter(held.values()))
    assert "channels.fax.open" not in sc.holding({**held, "channels.fax.open": prior})
    assert "behaviour.fatigue.half_life_days" in held


def test_a_draw_the_scenario_cannot_take_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    """A prior that reaches values the scenario cannot take is refused as the scenario is
    read, named with what it reaches; values from a draws file, which no prior bounds, are
    checked draw by draw before any runs."""
    bad = {"behaviour.lapse.winback_per_open": {"dist": "normal", "mean": 0.0, "sd": 1.0}}
    scenario = write(tmp_path, {**cli_data(), "uncertain": bad})
    out = tmp_path / "out"
    result = invoke("run", scenario, "--draws", "8", "--out", out)
    assert result.exit_code == 2
    assert "uncertain[behaviour.lapse.winback_per_open]: its draws reach -5.998" in result.output
    assert not out.exists()
    (tmp_path / "posterior.csv").write_text("behaviour.lapse.winback_per_open,weight\n1.5,1\n")
    scenario = write(tmp_path, {**cli_data(), "uncertain": {"from": "posterior.csv"}})
    result = invoke("run", scenario, "--draws", "8", "--out", out)
    assert result.exit_code == 2
    draws = tmp_path / "posterior.csv"
    assert f"{draws}: draw 0: behaviour.lapse.winback_per_open" in result.output
    assert not out.exists()


def test_the_scenarios_draws_key_runs_the_same_decision(
    scenario_file: Path, reference: Path, tmp_path: Path
) -> None:
    """``draws: K`` in the file is ``--draws K``: the same decision files, byte for byte; and
    ``--set draws=null`` turns it back into a single run."""
    data = {**cli_data(), "uncertain": UNCERTAIN, "draws": DRAWS}
    keyed = write(tmp_path, data)
    out = tmp_path / "keyed"
    result = invoke("run", keyed, "--replications", REPLICATIONS, "--jobs", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert _bytes(out) == _bytes(reference)
    single = tmp_path / "single"
    result = invoke("run", keyed, "--set", "draws=null", "--replications", 1, "--out", single)
    assert result.exit_code == 0, result.output
    assert not (single / DECISION_CSV).exists() and (single / "summary.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--draws", "0"), "--draws 0: draws"),
        (("--draws", "2", "--replications", "0"), "--replications 0: replications"),
        (("--draws", "2", "--shards", "2"), "runs the vector engine unsharded"),
        (("--resume",), "--dask and --resume go with --draws"),
    ],
)
def test_bad_draws_options_exit_2(layout, args: tuple[str, ...], message: str) -> None:
    scenario, results = layout
    result = invoke("run", scenario, *args, "--out", results / "x")
    assert result.exit_code == 2 and message in result.output
    assert entries(results) == []


def test_draws_from_a_posterior_file_follow_its_weights(tmp_path: Path) -> None:
    """All the weight on one row: every draw takes that row's values."""
    posterior = pd.DataFrame(
        {"behaviour.fatigue.half_life_days": [4.0, 9.0, 16.0], "weight": [0.0, 1.0, 0.0]}
    )
    posterior.to_csv(tmp_path / "posterior.csv", index=False)
    scenario = write(tmp_path, {**cli_data(), "uncertain": {"from": "posterior.csv"}})
    decision = sim.decide(scenario, draws=3, replications=1, jobs=1)
    assert set(decision.draws["behaviour.fatigue.half_life_days"]) == {9.0}


def test_evppi_between_two_strategies_is_that_of_their_own_choice(reference: Path) -> None:
    """The choice between two strategies alone: its EVPPI is evppi_table on their two
    columns, each within that choice's EVPI."""
    decision = sim.api.read_decision(reference)
    pair = ["weekly", "busy"]
    table = decision.evppi_between(pair, kpi="revenue").set_index("parameter")
    values = decision.values("revenue")[pair]
    drawn = decision.draws.drop_duplicates("draw").set_index("draw")[list(UNCERTAIN)]
    for path in UNCERTAIN:
        assert table.loc[path, "evppi"] == pytest.approx(evppi(values, drawn[path].to_numpy()))
        assert 0.0 <= table.loc[path, "evppi"] <= evpi(values) + 1e-9


def test_an_oracle_is_no_choice(tmp_path: Path) -> None:
    """An oracle policy (an upper bound no marketer can run) runs in every draw but is left
    out of the decision: P(best) is shared among the real strategies only."""
    data = cli_data()
    data["strategies"]["oracle"] = {"extends": "busy", "policy": {"kind": "oracle"}}
    scenario = write(tmp_path, {**data, "uncertain": UNCERTAIN})
    decision = sim.decide(scenario, draws=3, replications=1, jobs=1)
    assert "oracle" not in set(decision.decision["strategy"])
    assert decision.decision["p_best"].sum() == pytest.approx(1.0)
    assert "oracle" in set(decision.draws["strategy"])
    assert decision.manifest["not_choices"] == ["oracle"]
    assert "oracle" not in decision.report()
