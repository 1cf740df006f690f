"""``loyaltysim fit`` on logs the simulator wrote (synthetic truth): the parameters come back,
the lift only from the holdout, weak data is called weak, and the files work as a scenario's
include and posterior."""

from __future__ import annotations

import dataclasses
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import QUICK, company_events
from click.testing import CliRunner
from scipy import optimize, stats

import sim
from sim.api import fit_files
from sim.cli.main import main
from sim.fitting import engagement, optimiser, responses
from sim.fitting.engagement import (
    COVERAGE_HOLDS,
    LIFT_PATHS,
    SCENARIO_RANGE,
    EngagementFit,
    _graded_against,
    _lift,
    _no_lift,
    _priors,
    _row,
    coverage_note,
    fit_events,
)
from sim.fitting.lift import BOOTSTRAP, MIN_ARM
from sim.fitting.likelihood import Messages
from sim.fitting.responses import fit_responses, messages, start
from sim.fitting.writer import fitted_yaml, report
from sim.io.eventlog import read_event_log
from sim.io.loader import load_scenario
from sim.spec.uncertain import UniformPrior
from sim.sweeps.draws import weighted_draws

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fit"


@pytest.mark.slow
def test_recovery(tmp_path: Path, fit_base: sim.Scenario) -> None:
    """Fitted from the company's default-valued scenario, every parameter of the response
    model lands within its Bonferroni-adjusted interval (5% family-wise) of the values the
    log was simulated with. The two set below the defaults (half-life 4 days, not 7;
    tolerance median 6, not 8) are never placed wholly above them: where the data move a
    parameter off its default, they move it the right way."""
    log = read_event_log(company_events(tmp_path, 1000, 120))
    fit = fit_responses(messages(log.sends), fit_base)
    assert fit.converged
    truth = start(fit.layout, load_scenario(EXAMPLE / "company.yaml"))
    z = (fit.x - truth) / np.sqrt(np.diag(fit.covariance))
    critical = stats.norm.ppf(1 - 0.05 / (2 * z.size))
    misses = {n: round(v, 2) for n, v in zip(fit.layout.names, z, strict=True) if abs(v) > critical}
    assert not misses
    lows = fit.draws(2000, seed=1).quantile(0.025)
    assert lows["behaviour.fatigue.half_life_days"] < 7.0
    assert lows["population.segments.light.tolerance.median"] < 8.0


@pytest.mark.slow
def test_lift_from_the_holdout(tmp_path: Path, fit_base: sim.Scenario) -> None:
    """The company's lift is 1.5 times the defaults the base scenario holds: the holdout
    estimate's interval holds 1.5 and excludes no lift at all."""
    log = read_event_log(company_events(tmp_path, 30000, 120, "program.control_group=0.5"))
    lift = _lift(log, fit_base, seed=0)
    assert lift is not None
    low, high = lift.interval()
    assert low <= 1.5 <= high
    assert low > 0


def test_a_holdout_too_small_to_bootstrap_leaves_the_lift_unidentified(
    small_log: Path, fit_base: sim.Scenario
) -> None:
    """Each arm needs MIN_ARM members, the fewest whose resamples outnumber the bootstrap's
    replicates: with one fewer in the holdout the lift is not identified and the note says
    why; with MIN_ARM it is estimated. (A holdout of one member has a single resample, and
    its interval would be one value, read as certainty.)"""
    log = read_event_log(small_log)

    def holdout(k: int) -> object:
        control = np.arange(len(log.members)) < k
        return dataclasses.replace(log, members=log.members.assign(control=control))

    assert (
        math.comb(2 * MIN_ARM - 1, MIN_ARM) >= BOOTSTRAP > math.comb(2 * MIN_ARM - 3, MIN_ARM - 1)
    )
    assert _lift(holdout(MIN_ARM - 1), fit_base, seed=0) is None  # type: ignore[arg-type]
    small = np.arange(len(log.members)) < MIN_ARM - 1
    assert _no_lift(small).startswith(f"a holdout of {MIN_ARM - 1} members against 145")
    assert "not identified" in _no_lift(np.zeros(len(log.members), bool))
    assert _lift(holdout(MIN_ARM), fit_base, seed=0) is not None  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small_fit(small_log: Path, fit_base: sim.Scenario) -> EngagementFit:
    """The fit of the small log, whose push exit rate the log hardly informs; made with
    RuntimeWarnings as errors: a far draw of such a value must not overflow on the way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return fit_events(read_event_log(small_log), fit_base, QUICK, draws=200)


def test_without_a_holdout_the_lift_keeps_its_prior(
    small_fit: EngagementFit, fit_base: sim.Scenario
) -> None:
    fit = small_fit
    rows = fit.estimates.set_index("parameter").loc[list(LIFT_PATHS)]
    assert (rows["strength"] == "none").all() and not rows["identified"].any()
    assert rows.loc["behaviour.lift.on_open", "estimate"] == fit_base.behaviour.lift.on_open
    # The prior's central 95%: uniform 0.04-0.16 (sim/io/priors.yaml).
    assert rows.loc["behaviour.lift.on_open", "low"] == pytest.approx(0.04 + 0.025 * 0.12)
    assert any("lift is not identified" in note for note in fit.notes)
    assert fit.posterior["behaviour.lift.on_open"].between(0.04, 0.16).all()


def test_intervals_stay_in_the_range_a_scenario_allows(small_fit: EngagementFit) -> None:
    """Every interval and posterior draw of a value with a bounded range (slopes, exit and
    complaint rates) lies in it, the intervals are the posterior draws' quantiles, and a
    value without a prior whose interval covers over half its range is weak."""
    rows = small_fit.estimates.set_index("parameter")
    priors = _priors(load_scenario(EXAMPLE / "base.yaml"))
    for path, (low, high) in SCENARIO_RANGE.items():
        if path not in small_fit.posterior:
            continue
        draws, row = small_fit.posterior[path], rows.loc[path]
        assert draws.between(low, high).all() and low <= row["low"] <= row["high"] <= high
        assert row["low"] == pytest.approx(draws.quantile(0.025))
        assert row["high"] == pytest.approx(draws.quantile(0.975))
        if path not in priors and row["high"] - row["low"] > 0.5 * (high - low):
            assert row["strength"] == "weak" and not row["identified"]


def test_intervals_beyond_the_measured_coverage_are_flagged(small_fit: EngagementFit) -> None:
    """A fit on more members than the coverage measurements support says its fatigue
    intervals are too narrow; the small log's fit (150 members) does not."""
    assert coverage_note(COVERAGE_HOLDS) is None
    assert "1,000 members, read them as too narrow" in coverage_note(1000)
    assert f"(--subset {COVERAGE_HOLDS})" in coverage_note(1000)
    assert small_fit.responses.members <= COVERAGE_HOLDS
    assert not any("too narrow" in note for note in small_fit.notes)


def test_a_value_without_a_prior_is_judged_against_its_range() -> None:
    """An exit rate without a prior whose draws spread over more than half of 0-1 is weak
    and not identified; over less, strong; a value with a prior is judged against the
    prior's central 95% instead."""
    spread = np.linspace(0.0, 0.8, 201)
    assert _row("channels.sms.exit", 0.02, spread, None)["strength"] == "weak"
    assert not _row("channels.sms.exit", 0.02, spread, None)["identified"]
    assert _row("channels.sms.exit", 0.02, spread / 2, None)["strength"] == "strong"
    narrow = UniformPrior(dist="uniform", low=0.0, high=0.5)
    assert _row("channels.sms.exit", 0.02, spread / 2, narrow)["strength"] == "weak"


def test_draws_piled_at_an_edge_do_not_make_a_value_strong() -> None:
    """An engagement slope whose draws all fell beyond its range's edge of 5 has, clipped,
    an interval of zero width there; graded on the draws as they fell it is weak (graded on
    the clipped ones it would be strong). Draws that overflowed cannot be strong either, and
    the estimate is given within the range, as the include holds it."""
    fell = np.linspace(6.0, 600.0, 201)
    clipped = np.clip(fell, 0.0, 5.0)
    row = _row("behaviour.engagement.open_slope", -0.3, clipped, None, fell)
    assert (row["low"], row["high"], row["estimate"]) == (5.0, 5.0, 0.0)
    assert row["strength"] == "weak" and not row["identified"]
    assert _row("behaviour.engagement.open_slope", 0.01, clipped, None)["strength"] == "strong"
    overflowed = np.r_[np.full(200, 0.01), np.inf, np.inf, np.inf, np.inf, np.inf, np.inf]
    assert _row("channels.sms.exit", 0.01, np.full(206, 0.01), None, overflowed)["strength"] == (
        "weak"
    )


def test_values_a_scenario_s_block_leaves_out_are_graded_against_the_shipped_priors(
    fit_base: sim.Scenario,
) -> None:
    """A block naming only the half-life grades the half-life against its own prior and the
    open fatigue slope against the shipped one (ungraded, it would read as strong); the
    block's own prior wins where both exist."""
    own = {"behaviour.fatigue.half_life_days": {"dist": "uniform", "low": 2.0, "high": 3.0}}
    scenario = fit_base.with_overrides({"uncertain": own}, "test")
    graded = _graded_against(scenario)
    assert graded["behaviour.fatigue.half_life_days"].high == 3.0
    assert "behaviour.fatigue.open_slope" in graded
    assert "behaviour.fatigue.open_slope" not in _priors(scenario)
    wide = np.linspace(0.0, 5.0, 201)
    slope = _row("behaviour.fatigue.open_slope", 1.0, wide, graded["behaviour.fatigue.open_slope"])
    assert slope["strength"] == "weak"
    assert _row("behaviour.fatigue.open_slope", 1.0, wide, None)["strength"] == "strong"


def test_a_tolerance_law_without_a_prior_is_judged_on_the_log_scale() -> None:
    """Without a prior, the tolerance median is judged against the fit's range (1-200) on the
    log scale it is fitted on: 1.8-15.5 (the recovery example's interval) is strong, 1-100
    weak, though on the linear scale 1-100 is under half of 1-200."""
    path = "population.segments.light.tolerance.median"
    assert _row(path, 5.0, np.geomspace(1.8, 15.5, 201), None)["strength"] == "strong"
    assert _row(path, 5.0, np.geomspace(1.0, 100.0, 201), None)["strength"] == "weak"


def test_one_send_frequency_leaves_fatigue_weak(tmp_path: Path, fit_base: sim.Scenario) -> None:
    """A weekly newsletter and nothing else gives every member the same pressure: the data
    cannot tell the fatigue slopes from the base rates, and the fit says so."""
    plan = {
        "description": "One weekly email.",
        "campaigns": {
            "newsletter": {"channel": "email", "kind": "newsletter", "weekdays": ["thu"],
                           "hour": 9, "relevance": 0.4},
        },
    }  # fmt: skip
    data = yaml.safe_load((EXAMPLE / "company.yaml").read_text())
    data["strategies"] = {"plan": plan}
    data["population"]["size"], data["horizon_days"] = 300, 90
    scenario = tmp_path / "weekly.yaml"
    scenario.write_text(yaml.safe_dump(data))
    sim.run(scenario, jobs=1, events=tmp_path / "events")
    fit = fit_events(read_event_log(tmp_path / "events" / "plan" / "0"), fit_base, QUICK, draws=200)
    strength = fit.estimates.set_index("parameter")["strength"]
    assert strength["behaviour.fatigue.open_slope"] == "weak"
    assert strength["channels.email.open"] == "strong"


def test_a_log_without_a_delivered_message_is_refused(tmp_path: Path) -> None:
    """Sends with none delivered leave nothing to fit: exit 2, the log named, nothing written."""
    log = tmp_path / "log"
    shutil.copytree(EXAMPLE.parent / "events", log)
    sends = pd.read_csv(log / "sends.csv")
    sends.assign(delivered=False, opened=False, clicked=False).to_csv(
        log / "sends.csv", index=False
    )
    out = tmp_path / "fitted.yaml"
    args = ["fit", str(log), "--scenario", str(EXAMPLE / "base.yaml"), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"{log}: sends: no row with delivered true" in result.output
    assert list(tmp_path.iterdir()) == [log]


def test_command_writes_an_include_and_a_posterior(
    small_log: Path, tmp_path: Path, fit_base: sim.Scenario
) -> None:
    out = tmp_path / "fitted.yaml"
    args = ["fit", str(small_log), "--scenario", str(EXAMPLE / "base.yaml"), "--out", str(out),
            "--draws", "50"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    # Progress on stderr: the levels' stage, then every round of adaptation from the start.
    lines = result.stderr.splitlines()
    assert lines[0].startswith("response levels: log-likelihood -")
    assert lines[1].startswith("start x1, round 1: log-likelihood -")
    assert all(line.endswith(" s)") for line in lines)
    assert "round 1" not in result.stdout
    # The report names the quadrature: 17 tolerance nodes for a log of under 1,000 members.
    assert "quadrature nodes 17 x 5 x " in result.stdout.splitlines()[0]
    files = fit_files(out)
    estimates = pd.read_csv(files["estimates"])
    assert list(estimates.columns[:5]) == ["parameter", "estimate", "low", "high", "identified"]
    # The include sets the fitted values in a scenario that leaves them out.
    fitted = yaml.safe_load(out.read_text())
    scenario = tmp_path / "decide.yaml"
    data = yaml.safe_load((EXAMPLE / "base.yaml").read_text())
    scenario.write_text(yaml.safe_dump({"include": out.name, **data}))
    loaded = load_scenario(scenario)
    assert loaded.channels.email.open == pytest.approx(fitted["channels"]["email"]["open"])
    expected = estimates.set_index("parameter").loc["behaviour.fatigue.half_life_days", "estimate"]
    assert loaded.behaviour.fatigue.half_life_days == pytest.approx(expected, rel=1e-5)
    # The posterior is a draws file an uncertain block reads.
    draws = weighted_draws(files["posterior"], 20, seed=1)
    assert "behaviour.fatigue.half_life_days" in draws.columns
    # The diagnostics set observed against fitted rates by channel, by contact frequency
    # and by felt pressure: each grouping holds every delivered message once.
    diagnostics = pd.read_csv(files["diagnostics"])
    delivered = int(read_event_log(small_log).sends["delivered"].sum())
    assert diagnostics.groupby("by")["messages"].sum().to_dict() == {
        "per_week": delivered,
        "pressure": delivered,
    }
    assert files["figure"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A second run refuses to replace the files.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "exists" in again.output


def test_a_log_that_is_not_a_log_writes_nothing(small_log: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for table in ("members", "purchases"):
        (broken / f"{table}.parquet").write_bytes((small_log / f"{table}.parquet").read_bytes())
    sends = pd.read_parquet(small_log / "sends.parquet").drop(columns="opened")
    sends.to_parquet(broken / "sends.parquet")
    out = tmp_path / "fitted.yaml"
    result = CliRunner().invoke(
        main, ["fit", str(broken), "--scenario", str(EXAMPLE / "base.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "sends.parquet" in result.output and "opened" in result.output
    assert not any(p.exists() for p in fit_files(out).values())


@pytest.mark.slow  # eight rounds of fitting, about a minute
def test_more_starts_keep_the_highest_of_their_maxima(
    small_log: Path, fit_base: sim.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three starts (the scenario's values, then half-life and tolerance median halved and
    doubled) keep the best of what each extra start finds beside the default one, and when the
    default start's maximum is kept, it is that fit exactly: its values, its covariance and
    the fitted probabilities of its own nodes."""
    m = messages(read_event_log(small_log).sends)
    one = fit_responses(m, fit_base, QUICK)
    with monkeypatch.context() as patch:
        patch.setattr(responses, "START_SCALES", (0.5,))
        halved = fit_responses(m, fit_base, QUICK, starts=2)
        patch.setattr(responses, "START_SCALES", (2.0,))
        doubled = fit_responses(m, fit_base, QUICK, starts=2)
    three = fit_responses(m, fit_base, QUICK, starts=3)
    fits = (one, halved, doubled)
    assert three.log_likelihood == max(f.log_likelihood for f in fits)
    k = next(i for i, f in enumerate(fits) if f.log_likelihood == three.log_likelihood)
    kept = fits[k]
    np.testing.assert_array_equal(three.x, kept.x)
    np.testing.assert_array_equal(three.covariance, kept.covariance)
    np.testing.assert_array_equal(three.predicted, kept.predicted)
    assert min(halved.log_likelihood, doubled.log_likelihood) >= one.log_likelihood
    assert three.start_scale == (1.0, 0.5, 2.0)[k]
    assert three.gain_over_first_start == three.log_likelihood - one.log_likelihood


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--starts", "0"], "--starts"), (["--starts", "2", "--reports", "r.csv", "--out", "o"],
                                       "--starts is for fits from an event log"),
     (["--subset", "0"], "--subset: 0 members"),
     (["--out", "no/such/folder/fitted.yaml"], "the folder no/such/folder does not exist"),
     (["--subset", "50", "--reports", "r.csv", "--out", "o"],
      "--subset is for fits from an event log")],
)  # fmt: skip
def test_bad_starts_and_subsets_are_refused(small_log: Path, args: list[str], message: str) -> None:
    source = [] if "--reports" in args else [str(small_log)]
    result = CliRunner().invoke(
        main, ["fit", *source, "--scenario", str(EXAMPLE / "base.yaml"), *args]
    )
    assert result.exit_code == 2 and message in result.output, result.output


class _Quadratic:
    """-log L = (x - a)' H (x - a) / 2 with a correlated, badly scaled H: a ridge like the
    fit's, and a known minimum on any box (a bounded least-squares problem)."""

    def __init__(self) -> None:
        rng = np.random.default_rng(3)
        q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
        self.h = q @ np.diag([1e4, 3e3, 10.0, 1.0, 0.3, 0.01]) @ q.T
        self.a = rng.normal(size=6)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        g = self.h @ (x - self.a)
        return 0.5 * float((x - self.a) @ g), g


@pytest.mark.parametrize("above, below", [(0.5, 0.2), (0.5, -0.2), (-0.5, 0.2), (-0.5, -0.2)])
def test_the_scaled_optimiser_finds_the_minimum_on_the_box(above: float, below: float) -> None:
    """The optimiser's scaled coordinates with a projection on the box (optimiser.minimise)
    find the box-constrained minimum of a quadratic, checked against scipy's bounded least
    squares, with no bound, one or both holding; inside the box the scaling takes fewer
    iterations than none."""
    f = _Quadratic()
    bounds = [(None, None)] * 6
    bounds[0] = (f.a[0] + above, None)
    bounds[2] = (None, f.a[2] + below)
    low, high = optimiser.box(bounds)
    root = np.linalg.cholesky(f.h).T  # H = R'R: the objective is |R (x - a)|^2 / 2
    truth = optimize.lsq_linear(root, root @ f.a, bounds=(low, high), tol=1e-12)
    x0 = np.clip(np.zeros(6), low, high)
    w, v = np.linalg.eigh(np.linalg.inv(f.h))
    spread = (v * np.sqrt(w)) @ v.T
    scaled = optimiser.minimise(f, x0, bounds, 1e-15, spread)
    assert np.all((scaled.x >= low) & (scaled.x <= high))
    np.testing.assert_allclose(scaled.x, truth.x, atol=1e-4)
    assert scaled.fun == pytest.approx(f(scaled.x)[0], abs=1e-9)
    if not truth.active_mask.any():
        assert scaled.nit < optimiser.minimise(f, x0, bounds, 1e-15, np.eye(6)).nit


class _Creeping:
    """-log L = curvature (x - 10)^2 / 2 in one parameter, whatever the nodes: with a
    covariance of 1 (standard errors ten times the likelihood's own), each settling round
    moves x by its trust region's radius, 1, and gains curvature (10.5 - x) units, known."""

    curvature = 0.1

    def __init__(self) -> None:
        self.placed: list[float] = []

    def adapt(self, x: np.ndarray) -> None:
        self.placed.append(float(x[0]))

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return 0.5 * self.curvature * float(x[0] - 10.0) ** 2, self.curvature * (x - 10.0)


def test_settling_ends_when_a_round_gains_less_than_a_standard_error_costs() -> None:
    """Rounds from 0 gain 0.95, 0.85, 0.75, 0.65, 0.55 and then 0.45 units: the settling stops
    at x = 6, the first point a round reached with a gain under SETTLE_GAIN (0.5), keeps it
    with its nodes placed there, and never goes on to the maximum at 10 it would creep to."""
    lik = _Creeping()
    log_l, x = optimiser.settle(
        lik, np.zeros(1), [(None, None)], 1e-12, np.eye(1), np.ones(1, bool)
    )
    assert x[0] == pytest.approx(6.0, abs=1e-6)
    assert log_l == pytest.approx(-0.5 * lik.curvature * 16.0)
    assert lik.placed[-1] == pytest.approx(6.0, abs=1e-6)
    assert len(lik.placed) == 7  # rounds placed at 0, 1, ..., 6


def test_a_subset_is_whole_members_drawn_by_the_seed() -> None:
    """--subset keeps N members, each with exactly its own messages in order; the same seed
    draws the same members, another seed others; asking for every member keeps the log."""
    counts = np.random.default_rng(1).integers(1, 6, size=100)
    starts = np.cumsum(counts) - counts
    member = np.repeat(np.arange(100), counts)
    k = np.arange(counts.sum()) - np.repeat(starts, counts)
    flags = np.zeros(member.size, dtype=bool)
    m = Messages(starts, counts, member + k / 10, k % 3, k / 10, flags, flags, flags, flags)
    part = responses.subset(m, 40, seed=5)
    assert part.members == 40 and part.time.size == part.counts.sum()
    np.testing.assert_array_equal(part.starts, np.cumsum(part.counts) - part.counts)
    kept = np.floor(part.time[part.starts]).astype(int)  # the time's whole part is the member
    assert np.all(np.diff(kept) > 0)  # distinct members, in the log's order
    for a, c, who in zip(part.starts, part.counts, kept, strict=True):
        np.testing.assert_array_equal(part.time[a : a + c], m.time[member == who])
        np.testing.assert_array_equal(part.channel[a : a + c], m.channel[member == who])
    np.testing.assert_array_equal(responses.subset(m, 40, seed=5).time, part.time)
    assert not np.array_equal(responses.subset(m, 40, seed=6).time, part.time)
    assert responses.subset(m, 100, seed=5) is m


def test_a_fit_on_a_subset_says_so(
    small_log: Path, fit_base: sim.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fit_events(subset=N) fits the response model on N members and says how much wider
    its intervals are than the whole log's; the lift is not subset. The note on the fatigue
    intervals counts the members fitted (here set to be beyond where coverage was measured)."""
    log = read_event_log(small_log)
    whole = messages(log.sends).members
    monkeypatch.setattr(engagement, "COVERAGE_HOLDS", 59)
    fit = fit_events(log, fit_base, QUICK, draws=50, seed=3, subset=60)
    assert fit.responses.members == 60
    assert any("on 60 members, read them as too narrow" in n for n in fit.notes)
    note = next(n for n in fit.notes if "--subset" in n)
    assert f"random 60 of the {whole:,} members" in note
    assert f"about {np.sqrt(whole / 60):.1f} times as wide" in note
    assert fit.fitted_on() == f"a random 60 of {whole:,} members (--subset)"
    assert report(fit).startswith(f"a random 60 of {whole:,} members (--subset), ")
    assert f"from log: a random 60 of {whole:,} members" in fitted_yaml(fit, "log", "p.csv")
