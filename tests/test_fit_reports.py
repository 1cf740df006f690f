"""The fit from campaign reports (sim.fitting.summaries, sampler, reports; ``fit --reports``):
statistics by hand, the sampler against a closed-form posterior and its independence of the
workers, resuming, the command's files and its refusals. Recovery on a synthetic company is
the slow test at the end; calibration over many datasets is benchmarks/fit_reports.py's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import cli_data, invoke, write

pyabc = pytest.importorskip("pyabc")

from sim.engine.executors import local_executor  # noqa: E402
from sim.errors import SimInputError  # noqa: E402
from sim.fitting.reports import ReportSimulator, fit_reports, fit_scenario  # noqa: E402
from sim.fitting.sampler import OrderedSampler  # noqa: E402
from sim.fitting.summaries import LIFT, Observed, Statistics  # noqa: E402
from sim.io.loader import scenario_from_dict  # noqa: E402
from sim.spec.fields import CHANNELS, REPORT_COUNTS  # noqa: E402
from sim.sweeps.draws import weighted_draws  # noqa: E402

EMAIL, SMS = CHANNELS.index("email"), CHANNELS.index("sms")
TRUTH = {"channels.email.open": 0.22, "behaviour.fatigue.half_life_days": 7.0}
PRIORS = {
    "channels.email.open": {"dist": "uniform", "low": 0.05, "high": 0.5},
    "behaviour.fatigue.half_life_days": {"dist": "loguniform", "low": 1.5, "high": 30},
}


def _row(campaign: str, channel: int, day: int, *counts: int) -> dict:
    counted = dict(zip(REPORT_COUNTS, counts, strict=True))
    return {"campaign": campaign, "channel": channel, "day": day, **counted}


def test_statistics_are_the_rates_and_reach_by_hand() -> None:
    report = pd.DataFrame(
        [
            _row("news", EMAIL, 0, 100, 90, 30, 9, 2, 1),
            _row("news", EMAIL, 7, 100, 90, 15, 0, 1, 0),
            _row("news", EMAIL, 28, 80, 80, 20, 4, 0, 0),
            _row("sms", SMS, 3, 50, 50, 45, 5, 5, 0),
            _row("sms", SMS, 31, 40, 40, 36, 2, 0, 0),
        ]
    )
    observed = Observed(report, cells=(120.0, 100.0))
    stats = Statistics.of(observed, horizon_days=42, block_days=28)
    values = dict(zip(stats.names, stats.values(observed), strict=True))
    assert values["email.open.w1-4"] == pytest.approx(45 / 180)
    assert values["email.click.w1-4"] == pytest.approx(9 / 180)
    assert values["email.exit.w1-4"] == pytest.approx(3 / 180)
    assert values["email.complaint.w1-4"] == pytest.approx(1 / 180)
    assert values["email.delivery.w1-4"] == pytest.approx(180 / 200)
    assert values["email.open.w5-6"] == pytest.approx(20 / 80)  # the horizon ends in week 6
    # Reach: 80 sent against the 100 a send of news reached in the first block.
    assert values["email.reach.w5-6"] == pytest.approx(0.8)
    assert values["sms.reach.w5-6"] == pytest.approx(40 / 50)
    assert values["sms.open.w1-4"] == pytest.approx(0.9)
    assert values["news.open"] == pytest.approx(65 / 260)
    assert values["sms.exit"] == pytest.approx(5 / 90)
    assert "sms.complaint.w1-4" not in values  # complaints are email's
    assert values[LIFT] == pytest.approx(0.2)  # 120 per treated member against 100
    # A report without a statistic's denominator gives 0 for it, under the same names.
    empty = Observed(report[report["channel"] == SMS])
    other = dict(zip(stats.names, stats.values(empty), strict=True))
    assert other["email.open.w1-4"] == 0.0 and other["sms.open.w1-4"] == pytest.approx(0.9)
    assert other[LIFT] == 0.0
    assert LIFT not in Statistics.of(Observed(report), horizon_days=42).names


def _toy(parameters: dict) -> dict:
    """n = 25 draws of Normal(mu, 1): their mean."""
    return {"mean": float(np.random.normal(parameters["mu"], 1.0, 25).mean())}


def _abc(tmp_path: Path, sampler: OrderedSampler, generations: int) -> tuple:
    logging.getLogger("ABC").setLevel(logging.WARNING)
    abc = pyabc.ABCSMC(
        _toy,
        pyabc.Distribution(mu=pyabc.RV("uniform", -4, 8)),
        pyabc.PNormDistance(p=1),
        population_size=400,
        sampler=sampler,
        eps=pyabc.MedianEpsilon(),
    )
    abc.new(f"sqlite:///{tmp_path / 'toy.db'}", {"mean": 0.7})
    history = abc.run(max_nr_populations=generations)
    frame, w = history.get_distribution(m=0, t=history.max_t)
    eps = float(history.get_all_populations()["epsilon"].iloc[-1])
    return frame["mu"].to_numpy(), w / w.sum(), eps


def test_the_sampler_finds_the_closed_form_posterior(tmp_path: Path) -> None:
    """Normal mean, known variance, flat prior: the posterior is Normal(0.7, 1/25). The ABC
    posterior given |mean - 0.7| < eps is that convolved with a uniform of half-width eps,
    so its variance is 1/25 + eps^2/3 (the prior's edges are 23 sd away)."""
    mu, w, eps = _abc(tmp_path, OrderedSampler(seed=5), generations=6)
    mean = float(np.sum(w * mu))
    sd = float(np.sqrt(np.sum(w * (mu - mean) ** 2)))
    ess = 1.0 / np.sum(w**2)
    expected_sd = np.sqrt(1 / 25 + eps**2 / 3)
    assert eps < 0.1  # six generations of median thresholds have narrowed it
    # Monte Carlo error of a weighted mean and sd from ESS particles: 4 standard errors.
    assert abs(mean - 0.7) < 4 * expected_sd / np.sqrt(ess)
    assert abs(sd / expected_sd - 1) < 4 / np.sqrt(2 * ess)


def test_particles_do_not_depend_on_the_workers(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    alone = _abc(tmp_path / "a", OrderedSampler(seed=9), generations=2)
    with local_executor(2) as pool:
        shared = _abc(tmp_path / "b", OrderedSampler(seed=9, executor=pool, workers=2), 2)
    np.testing.assert_array_equal(alone[0], shared[0])
    np.testing.assert_array_equal(alone[1], shared[1])
    other = _abc(tmp_path / "a" / "..", OrderedSampler(seed=10), generations=1)
    assert not np.array_equal(alone[0][:50], other[0][:50])


def _company(tmp_path: Path, **changes) -> tuple[Path, dict]:
    """The command-line scenario with the busy plan as its history and two priors."""
    data = cli_data()
    data["history"] = {"strategy": "busy"}
    data["uncertain"] = dict(PRIORS)
    data.update(changes)
    return write(tmp_path, data, "company.yaml"), data


def _observed(data: dict, members: int, seed: int) -> Observed:
    """The busy plan's report at the true values, ``members`` members."""
    truth = scenario_from_dict(data).with_overrides(TRUTH, "truth")
    return ReportSimulator(fit_scenario(truth, members), (), None).report({}, seed)  # type: ignore[arg-type]


def _dated(observed: Observed | pd.DataFrame, path: Path) -> Path:
    """The report as a platform's CSV (day 0 on Monday 2024-01-01)."""
    report = observed.report if isinstance(observed, Observed) else observed
    out = report.copy()
    out.insert(2, "date", (pd.Timestamp("2024-01-01") + pd.to_timedelta(out["day"], "D")).dt.date)
    out["channel"] = [CHANNELS[c] for c in out["channel"]]
    out.drop(columns=["day"]).to_csv(path, index=False)
    return path


def test_a_fit_goes_on_from_its_stored_generations(tmp_path: Path) -> None:
    _, data = _company(tmp_path)
    scenario = scenario_from_dict(data)
    observed = _observed(data, 300, 1)
    stats = Statistics.of(observed, scenario.horizon_days)
    database = tmp_path / "fit.db"
    settings = {"statistics": stats, "members": 200, "particles": 20, "seed": 4}

    def stop_in_the_second(line: str) -> None:
        if line.startswith("generation 2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_reports(
            scenario, observed, database, generations=2, progress=stop_in_the_second, **settings
        )
    assert database.exists()
    went_on = fit_reports(scenario, observed, database, generations=2, **settings)
    assert any("went on from generation 1" in n for n in went_on.notes)
    assert list(went_on.generations["generation"]) == [1, 2]
    # The first generation is the interrupted fit's, as stored.
    fresh = fit_reports(scenario, observed, tmp_path / "fresh.db", generations=1, **settings)
    assert went_on.generations["epsilon"].iloc[0] == fresh.generations["epsilon"].iloc[0]


FILES = ("posterior.csv", "parameters.csv", "statistics.csv", "generations.csv")
SMALL = ("--particles", "20", "--generations", "2", "--members", "200", "--seed", "1")


@pytest.fixture(scope="module")
def one_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    """The small fit of the company's report on one process: its folder, the scenario, the
    report and the command's output (the fit the executor tests compare with)."""
    tmp_path = tmp_path_factory.mktemp("one_job")
    scenario_path, data = _company(tmp_path)
    report = _dated(_observed(data, 600, 2), tmp_path / "campaigns.csv")
    out = tmp_path / "fit"
    command = ("fit", "--reports", report, "--scenario", scenario_path, "--out", out)
    result = invoke(*command, "--jobs", "1", *SMALL)
    assert result.exit_code == 0, result.output
    return out, scenario_path, report, result.output


def _same_fit(one_job: tuple[Path, Path, Path, str], tmp_path: Path, *options: str) -> None:
    """The small fit with ``options`` writes the same bytes as on one process."""
    first, scenario_path, report, _ = one_job
    out = tmp_path / "fit"
    command = ("fit", "--reports", report, "--scenario", scenario_path, "--out", out)
    result = invoke(*command, *options, *SMALL)
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (first / name).read_bytes() == (out / name).read_bytes(), name


def test_fit_reports_writes_its_folder_the_same_whatever_the_jobs(
    one_job: tuple[Path, Path, Path, str], tmp_path: Path
) -> None:
    _same_fit(one_job, tmp_path, "--jobs", "2")
    out, scenario_path, report, output = one_job
    assert {*FILES, "predictive.png", "manifest.json"} == {p.name for p in out.iterdir()}
    assert not list(out.parent.glob(".fit*.db")), "the finished fit's database is removed"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["members"] == 200 and manifest["history_strategy"] == "busy"
    # What uncertain: {from: ...} reads.
    draws = weighted_draws(out / "posterior.csv", 5, 0)
    assert list(draws.columns) == list(PRIORS)
    assert "pinned down" in output
    again = invoke("fit", "--reports", report, "--scenario", scenario_path, "--out", out, *SMALL)
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_a_dask_cluster_gives_the_same_fit_as_this_process(
    one_job: tuple[Path, Path, Path, str], tmp_path: Path, dask_scheduler: str
) -> None:
    _same_fit(one_job, tmp_path, "--dask", dask_scheduler)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"history": None}, "history: the scenario must name the plan"),
        ({"uncertain": None}, "uncertain: name the values to fit"),
        (
            {"uncertain": {"channels.email.open": {"dist": "choice", "values": [0.1, 0.2]}}},
            "a fit takes continuous priors, not choice",
        ),
        (
            {"uncertain": {"channels.email.open": {"dist": "uniform", "low": 0.5, "high": 1.5}}},
            "uncertain[channels.email.open]: its draws reach 1.5",
        ),
    ],
)
def test_scenarios_a_fit_cannot_take_are_refused(
    tmp_path: Path, change: dict, message: str
) -> None:
    data = cli_data()
    data["history"] = {"strategy": "busy"}
    data["uncertain"] = dict(PRIORS)
    data.update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        data.pop(key)
    path = write(tmp_path, data, "company.yaml")
    report = _dated(
        _observed({**cli_data(), "history": {"strategy": "busy"}}, 100, 1), tmp_path / "r.csv"
    )
    result = invoke("fit", "--reports", report, "--scenario", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_reports_the_plan_could_not_have_made_are_refused(tmp_path: Path) -> None:
    scenario_path, data = _company(tmp_path)
    rows = _observed(data, 100, 1).report
    rows.loc[3, "campaign"] = "spring_sale"
    rows.loc[5, "day"] = 60  # the horizon is 42 days
    report = _dated(rows, tmp_path / "r.csv")
    result = invoke(
        "fit", "--reports", report, "--scenario", scenario_path, "--out", tmp_path / "o"
    )
    assert result.exit_code == 2
    assert "campaigns the plan does not send" in result.output and "data row 4" in result.output
    assert "dates outside the period 2024-01-01 to 2024-02-11" in result.output
    both = invoke("fit", "x", "--reports", report, "--scenario", scenario_path, "--out", "o")
    assert both.exit_code == 2 and "not both" in both.output
    no_out = invoke("fit", "--reports", report, "--scenario", scenario_path)
    assert no_out.exit_code == 2 and "--out" in no_out.output
    not_monday = invoke(
        "fit",
        "--reports",
        report,
        "--scenario",
        scenario_path,
        "--out",
        tmp_path / "o",
        "--start",
        "2024-01-02",
    )
    assert not_monday.exit_code == 2 and "Monday" in not_monday.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_recovery_on_a_synthetic_company(tmp_path: Path) -> None:
    """A program of 3,000 members, its report fitted with particles of 1,000: the posterior
    of both values moves onto the truth and at least halves the prior's spread. (With 100
    particles, fit seeds 2 and 3 put both means 0.04-0.25 posterior sd from the truth and
    shrank the spread by 0.73-0.89; 150 particles cost half as much again.)"""
    _, data = _company(tmp_path, horizon_days=84)
    scenario = scenario_from_dict(data)
    observed = _observed(data, 3000, 11)
    stats = Statistics.of(observed, scenario.horizon_days)
    with local_executor(2) as pool:
        fit = fit_reports(
            scenario,
            observed,
            tmp_path / "fit.db",
            statistics=stats,
            members=1000,
            particles=100,
            generations=5,
            seed=2,
            executor=pool,
            workers=2,
        )
    table = fit.parameters.set_index("parameter")
    for path, truth in TRUTH.items():
        row = table.loc[path]
        assert abs(row["posterior_mean"] - truth) < 3 * row["posterior_sd"], row
        assert row["shrinkage"] >= 0.5, row


def test_a_holdout_s_revenue_lift_grows_with_the_messages_lift(tmp_path: Path) -> None:
    """The same members and draws, messages that lift purchases more: the treated members'
    revenue per member rises against the holdout's, which no message reaches."""
    data = {**cli_data(), "history": {"strategy": "busy"}}
    data["program"] = {"control_group": 0.3}
    base = fit_scenario(scenario_from_dict(data), 2000)
    lifts = []
    for on_open in (0.0, 0.5, 2.0):
        values = {"behaviour.lift.on_open": on_open, "behaviour.lift.on_click": on_open}
        observed = ReportSimulator(base, (), None).report(values, 5)  # type: ignore[arg-type]
        assert observed.cells is not None
        treated, holdout = observed.cells
        lifts.append(treated / holdout - 1)
    assert lifts[0] < lifts[1] < lifts[2]


def test_a_test_result_is_read_and_checked(tmp_path: Path) -> None:
    from sim.io.reports import read_test_result

    good = tmp_path / "test.csv"
    good.write_text("cell,members,revenue_per_member\nTreated,900,412.5\nholdout,100,398\n")
    assert read_test_result(good) == (412.5, 398.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("cell,members,revenue_per_member\ntreated,0,10\ncontrol,5,-1\ntreated,3,4\n")
    with pytest.raises(SimInputError) as caught:
        read_test_result(bad)
    message = str(caught.value)
    assert "cells other than treated and holdout in data row 2" in message
    assert "a cell given twice in data row 3" in message
    assert "no row for the holdout cell" in message
    assert "member counts that are not whole numbers >= 1 in data row 1" in message
    assert "negative revenue in data row 2" in message
    # The command refuses a test for a scenario that holds no one back.
    scenario_path, data = _company(tmp_path)
    report = _dated(_observed(data, 100, 1), tmp_path / "r.csv")
    result = invoke(
        "fit",
        "--reports",
        report,
        "--tests",
        good,
        "--scenario",
        scenario_path,
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 2 and "program.control_group is 0" in result.output
    alone = invoke("fit", "--tests", good, "--scenario", scenario_path, "--out", tmp_path / "o")
    assert alone.exit_code == 2 and "--tests and --program go with --reports" in alone.output


def test_program_figures_of_the_whole_period_are_the_run_s_totals() -> None:
    """ProgramFigures over one 'month' spanning the horizon: its points, members and buyers
    are those of the same replication run as `loyaltysim run` runs it."""
    from sim.engine.events import PurchaseLog
    from sim.engine.history import history_factors
    from sim.engine.replication import run_replication

    data = {**cli_data(), "history": {"strategy": "busy"}}
    data["program"] = {"redemption_threshold": 200}  # so that some points are redeemed
    scenario = scenario_from_dict(data)
    seed, horizon = scenario.seed, scenario.horizon_days
    log = PurchaseLog(["busy"])
    summary = run_replication(scenario, 0, seed, strategies=["busy"], sink=log).summary.iloc[0]
    factor = history_factors(scenario, seed).factor
    model = ReportSimulator(scenario, (), None, factor, ((0, horizon - 1),))  # type: ignore[arg-type]
    month = model.report({}, seed).program.iloc[0]  # type: ignore[union-attr]
    assert month["points_issued"] == summary["points_issued"] > 0
    assert month["points_redeemed"] == summary["points_redeemed"] > 0
    assert month["members"] == summary["members_end"]
    assert month["active_members"] == log.transactions("busy")["member_id"].nunique() > 0


def test_program_figures_are_read_checked_and_cut_to_whole_months(tmp_path: Path) -> None:
    from datetime import date

    from sim.io.reports import read_program_figures

    path = tmp_path / "program.csv"
    path.write_text(
        "month,members,active_members,points_issued,points_redeemed\n"
        "2024-01-01,1000,400,90000,20000\n"
        "2024-02-15,990,380,85000,30000\n"
        "2024-03-01,985,390,88000,25000\n"
    )
    # The period: 60 days from Monday 2024-01-01, to 2024-02-29: January and February whole.
    months = read_program_figures(path, start=date(2024, 1, 1), days=60)
    assert list(months["first_day"]) == [0, 31] and list(months["last_day"]) == [30, 59]
    assert list(months["active_members"]) == [400, 380]
    no_sends = pd.DataFrame(columns=list(_row("x", EMAIL, 0, *[0] * len(REPORT_COUNTS))))
    observed = Observed(no_sends, None, months)
    statistics = Statistics.of(observed, 60)
    values = dict(zip(statistics.names, statistics.values(observed), strict=True))
    assert values["program.active.d0-30"] == pytest.approx(0.4)
    assert values["program.redeemed.d31-59"] == pytest.approx(30000 / 990)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "month,members,active_members,points_issued,points_redeemed\n"
        "2024-01-01,100,120,5,1.5\n"
        "2024-01-20,100,10,5,1\n"
    )
    with pytest.raises(SimInputError) as caught:
        read_program_figures(bad, start=date(2024, 1, 1), days=60)
    message = str(caught.value)
    assert "more active members than members in data row 1" in message
    assert "counts that are not whole numbers >= 0 in data row 1" in message
    assert "a month given twice in data row 2" in message
    with pytest.raises(SimInputError, match="no month lies whole within the period"):
        read_program_figures(path, start=date(2024, 1, 8), days=20)


def test_the_command_fits_program_figures_too(tmp_path: Path) -> None:
    scenario_path, data = _company(tmp_path)
    report = _dated(_observed(data, 300, 2), tmp_path / "campaigns.csv")
    program = tmp_path / "program.csv"
    program.write_text(
        "month,members,active_members,points_issued,points_redeemed\n"
        "2024-01-01,300,150,60000,0\n2024-02-01,300,140,50000,0\n"
    )
    out = tmp_path / "fit"
    small = ("--particles", "20", "--generations", "1", "--members", "200")
    result = invoke(
        "fit", "--reports", report, "--program", program, "--scenario", scenario_path,
        "--out", out, *small,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    statistics = pd.read_csv(out / "statistics.csv")
    # January lies whole within the 42 days from Monday 2024-01-01; February does not.
    program_rows = statistics[statistics["statistic"].str.startswith("program.")]
    assert list(program_rows["statistic"]) == [
        "program.active.d0-30", "program.issued.d0-30", "program.redeemed.d0-30"
    ]  # fmt: skip
    assert program_rows["observed"].iloc[0] == pytest.approx(0.5)
