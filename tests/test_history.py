"""history: {strategy: NAME}: fitted purchase rates normalised for the plan that produced the
data (sim.model.history, sim.engine.history), and the purchase log (sim.engine.events).

The acceptance test is a closed loop: simulate the history plan on a population of known
BG/NBD parameters, export the starting members' transactions, fit them with the calibration
code, and recover the parameters; without the normalisation the fitted rate comes out high.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import CORE_BEHAVIOUR, invoke, scenario, segment, write

import sim
from sim.calibration import calibrate, synthetic
from sim.engine.events import PurchaseLog
from sim.engine.history import HistoryFactors, history_factors
from sim.engine.replication import build_context, simulate
from sim.engine.rng import Streams
from sim.errors import SimInputError
from sim.io.loader import scenario_from_dict
from sim.model import history
from sim.world.population import sample_members

# --- the maths -----------------------------------------------------------------------------------


def test_normalising_keeps_the_daily_lapse_probability() -> None:
    rate = np.array([0.01, 0.2, 1.5])
    dropout = np.array([0.05, 0.3, 0.6])
    for m in (0.8, 1.0, 1.3, 1.6):
        new_rate, new_dropout = history.normalise(rate, dropout, m)
        np.testing.assert_allclose(new_rate, rate / m, rtol=1e-15)
        np.testing.assert_allclose(
            history.daily_lapse(new_rate, new_dropout), history.daily_lapse(rate, dropout)
        )
    # Where p m > 1 the dropout stays a probability and the member lapses at rate lambda / m.
    new_rate, new_dropout = history.normalise(rate, dropout, 2.0)
    assert new_dropout.tolist() == [0.1, 0.6, 1.0]
    assert history.daily_lapse(new_rate, new_dropout)[2] == pytest.approx(1 - math.exp(-0.75))


def test_daily_lapse_is_the_geometric_dropout_over_a_poisson_day() -> None:
    # 1 - E[(1 - p)^B], B ~ Poisson(rate), summed term by term.
    rate, p = 0.7, 0.2
    b = np.arange(40)
    pmf = np.exp(-rate + b * math.log(rate) - np.array([math.lgamma(k + 1) for k in b]))
    assert history.daily_lapse(rate, p) == pytest.approx(1 - np.sum(pmf * (1 - p) ** b))


def test_factors_and_their_standard_errors() -> None:
    group = np.array([0, 0, 0, 1, 1])
    hist = np.array([3.0, 1.0, 2.0, 4.0, 0.0])
    base = np.array([2.0, 1.0, 2.0, 2.0, 0.0])
    np.testing.assert_allclose(history.factor([6.0, 4.0, 0.0], [5.0, 2.0, 0.0]), [1.2, 2.0, 1.0])
    se = history.factor_se(hist, base, group, 3)
    # Group 0: m = 6/5, residuals 0.6, -0.2, -0.4; n/(n-1) = 3/2.
    assert se[0] == pytest.approx(math.sqrt(1.5 * (0.36 + 0.04 + 0.16)) / 5)
    assert se[1] == pytest.approx(0.0)  # both members at the group's ratio
    assert math.isnan(se[2])  # no member


# --- the scenario key ----------------------------------------------------------------------------

OPT_IN = {"email": 0.8, "push": 0.5}
PLAN = {
    "campaigns": {
        "news": {"channel": "email", "weekdays": ["tue", "fri"], "relevance": 0.6},
        "app": {"channel": "push", "weekdays": ["sat"], "relevance": 0.6},
    }
}


def small(**changes: Any) -> dict[str, Any]:
    """Two segments, 400 members for 8 weeks, a plan of two emails and a push a week."""
    segments = {
        "loyal": segment(1.0, 10.0, 0.8, 6.0, v=150.0, opt_in=OPT_IN, share=0.5),
        "casual": segment(0.8, 25.0, 0.8, 6.0, v=150.0, opt_in=OPT_IN, share=0.5),
    }
    data = {
        "name": "history",
        "horizon_days": 56,
        "seed": 3,
        "replications": 1,
        "population": {"size": 400, "segments": segments},
        "behaviour": {"lift": {"on_open": 0.5}},
        "strategies": {"plan": PLAN},
    }
    return data | changes


def test_an_unknown_history_strategy_is_exit_2_with_its_field_path(tmp_path: Path) -> None:
    with pytest.raises(SimInputError, match=r"history\.strategy: unknown strategy 'plna'"):
        scenario_from_dict(small(history={"strategy": "plna"}))
    result = invoke("validate", write(tmp_path, small(history={"strategy": "plna"})))
    assert result.exit_code == 2
    assert "history.strategy: unknown strategy 'plna'" in result.output
    assert "did you mean 'plan'?" in result.output
    # silent is always a strategy, so it may be the history plan.
    assert scenario_from_dict(small(history={"strategy": "silent"})).history is not None


def test_normalisation_scales_rate_and_dropout_and_moves_no_draw() -> None:
    plain = scenario_from_dict(small())
    normalised = scenario_from_dict(small(history={"strategy": "plan"}))
    factors = history_factors(normalised, normalised.seed)
    assert factors.passes >= 1 and np.all(factors.factor > 1.0)
    assert history_factors(normalised, normalised.seed) is factors  # estimated once
    streams = Streams(plain.seed, 0)
    drawn = sample_members(plain.population, 56, streams.population, streams.acquisition)
    before = build_context(plain, 0, plain.seed).state.members
    after = build_context(normalised, 0, normalised.seed).state.members
    for name in ("segment", "spend_mean", "tolerance", "opt_in", "progress", "join_day"):
        assert np.array_equal(getattr(after, name), getattr(before, name))
    assert np.array_equal(before.rate, drawn.rate)  # without history: the sampled members
    m = factors.factor[after.segment]
    np.testing.assert_allclose(after.rate, before.rate / m, rtol=1e-6)
    np.testing.assert_allclose(after.dropout, np.minimum(1.0, before.dropout * m))


def test_the_purchase_log_holds_every_purchase_and_changes_nothing() -> None:
    sc = scenario_from_dict(small())
    plain = build_context(sc, 0, sc.seed)
    simulate(plain)
    log = PurchaseLog(sc.strategy_names)
    logged = build_context(sc, 0, sc.seed, sink=log)
    simulate(logged)
    for s, name in enumerate(sc.strategy_names):
        for kpi in ("purchases", "revenue", "clv_margin"):
            assert logged.tally.total[kpi][s] == plain.tally.total[kpi][s]
        tx = log.transactions(name)
        assert list(tx.columns) == ["member_id", "day", "amount"]
        assert len(tx) == plain.tally.total["purchases"][s]
        assert tx["amount"].sum() == pytest.approx(plain.tally.total["revenue"][s], rel=1e-9)
        assert tx["day"].is_monotonic_increasing and tx["day"].between(0, 55).all()


def test_the_run_records_the_factors_and_refuses_shards(tmp_path: Path) -> None:
    data = small(history={"strategy": "plan"})
    result = invoke("run", write(tmp_path, data), "--jobs", "1", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "out" / "manifest.json").read_text())["history"]
    sc = scenario_from_dict(data)
    factors = history_factors(sc, sc.seed)
    assert recorded["strategy"] == "plan"
    assert recorded["history_factor"] == {
        "loyal": round(float(factors.factor[0]), 6),
        "casual": round(float(factors.factor[1]), 6),
    }
    assert f"purchase rates divided by loyal {factors.factor[0]:.4f}" in result.output
    with pytest.raises(SimInputError, match="--shards"):
        sim.run(sc, jobs=1, shards=2)


def _member_purchases(sc: Any) -> tuple[np.ndarray, ...]:
    """Purchases of each member over the run, under each strategy of the scenario."""
    log = PurchaseLog(sc.strategy_names)
    ctx = build_context(sc, 0, sc.seed, sink=log)
    simulate(ctx)
    n = ctx.state.members.size
    return tuple(
        np.bincount(log.transactions(name)["member_id"], minlength=n) for name in sc.strategy_names
    )


def test_the_history_plan_buys_what_silent_bought_before() -> None:
    """Direction: with the normalisation, silent buys less than before by the factor, and the
    history plan buys what silent bought without it (the fitted behaviour). No points, so
    silent's multiplier is exactly 1 and its purchases are the baseline's."""
    # The core model: win-back, contact lapse and pull-forward move purchases between members
    # and over time, which a scaling of the rates does not undo (as leaving and points below).
    data = small(
        program={"points_per_currency": 0.0},
        horizon_days=182,
        behaviour={**CORE_BEHAVIOUR, "lift": {"on_open": 0.5, "pull_forward": 0.0}},
    )
    data["population"]["segments"] = {
        "all": segment(1.0, 10.0, 0.8, 6.0, v=150.0, opt_in=OPT_IN),
    }
    raw = scenario_from_dict(data)
    normalised = scenario_from_dict(data | {"history": {"strategy": "plan"}})
    factors = history_factors(normalised, normalised.seed)
    (m,), (se,) = factors.factor, factors.se
    silent_before, plan_before = _member_purchases(raw)
    silent_after, plan_after = _member_purchases(normalised)
    assert plan_after.sum() < plan_before.sum() and silent_after.sum() < silent_before.sum()
    # Both runs hold the same members (one population draw), so each ratio of totals below is
    # a ratio estimator over members, with the linearised standard error of sim.model.history;
    # the pilot's factor adds its own error. Each is within 3 combined standard errors.
    one = np.zeros(silent_before.size, dtype=np.int64)
    se_plan = history.factor_se(plan_after, silent_before, one, 1)[0]
    assert abs(plan_after.sum() / silent_before.sum() - 1) < 3 * math.hypot(se_plan, se)
    se_silent = history.factor_se(silent_before, silent_after, one, 1)[0]
    assert abs(silent_before.sum() / silent_after.sum() - m) < 3 * math.hypot(se_silent, se)
    assert m - 1 > 10 * se  # the plan's lift is large against the pilot's precision


# --- the closed loop -----------------------------------------------------------------------------

# Slow buyers (a purchase in 100 days on average, dropout after about 7): at these rates under
# 1% of purchases fall on a day with another, so fitting whole days costs the fit a fraction of
# a standard error (docs/calibration.md, Limits).
TRUTH = {"r": 1.0, "alpha": 100.0, "a": 1.0, "b": 6.0}
CLOSED_MEMBERS = 2000
CLOSED_DAYS = 730
# Nobody leaves and no points, as in the calibration's own round trip (test_calibration.py):
# leaving ends transactions as dropout does, and the reward mechanics vary a member's rate over
# time; both change the shape of the process a fit sees, which no scaling of the rates can
# undo (docs/model.md, section 11). So do win-back, contact lapse and pull-forward: the loop
# runs the core model. The normalisation is tested on its own.
CLOSED_LOOP = {
    "behaviour": {
        **CORE_BEHAVIOUR,
        "lift": {"on_open": 0.8, "pull_forward": 0.0},
        "leave_per_year": 0.0,
    },
    "program": {"points_per_currency": 0.0},
}


def closed_loop(tmp_path: Path, normalised: bool) -> Any:
    """Fit of the starting members' transactions under the plan (BG/NBD, time unit day)."""
    fields = {"history": {"strategy": "plan"}} if normalised else {}
    sc = scenario(
        {"plan": PLAN},
        name="closed_loop",
        segments={"all": segment(**TRUTH, v=150.0, opt_in=OPT_IN)},
        size=CLOSED_MEMBERS,
        horizon=CLOSED_DAYS,
        seed=5,
        **CLOSED_LOOP,
        **fields,
    )
    log = PurchaseLog(["plan"])
    ctx = build_context(sc, 0, sc.seed, ["plan"], sink=log)
    simulate(ctx)
    tx = synthetic.from_simulation(
        log.transactions("plan"), ctx.state.members.join_day, CLOSED_MEMBERS
    )
    path = tmp_path / ("normalised.csv" if normalised else "raw.csv")
    tx.to_csv(path, index=False)
    return calibrate(path).fits["all"].purchase


def mean_rate_z(fit: Any) -> float:
    """(log r/alpha fitted - true) over its standard error (delta method in log space)."""
    cov = fit.cov_log
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    fitted = math.log(fit.params["r"] / fit.params["alpha"])
    return (fitted - math.log(TRUTH["r"] / TRUTH["alpha"])) / se


def test_closed_loop_recovers_the_fitted_parameters(tmp_path: Path) -> None:
    """Each of r, alpha, a, b within 3 of its standard errors: for four estimates about a 1%
    chance of a false alarm if the fit is unbiased, while whole-day data biases it by a small
    part of one (see TRUTH). Without the normalisation the plan's purchases carry its lift
    twice (factor about 1.2): the fitted mean rate r / alpha is more than 2 standard errors
    above the truth (a one-sided 2.3% chance if it were not biased; expected about 5). On the
    same members and uniforms the sampling error of the two fits is common, so their shift,
    about log(factor) / se, is compared too."""
    fit = closed_loop(tmp_path, normalised=True)
    assert fit.converged, fit.message
    for name, value, se in zip(fit.names, fit.estimate, fit.se, strict=True):
        assert abs(value - TRUTH[name]) < 3 * se, (name, value, se)
    assert abs(mean_rate_z(fit)) < 3
    raw = closed_loop(tmp_path, normalised=False)
    assert raw.converged, raw.message
    assert mean_rate_z(raw) > 2
    assert mean_rate_z(raw) - mean_rate_z(fit) > 2
    assert raw.params["r"] / raw.params["alpha"] > fit.params["r"] / fit.params["alpha"]


def test_a_factor_without_a_standard_error_is_recorded_as_null() -> None:
    """A segment with a single member (or no purchase) has no standard error: the manifest,
    which is JSON, records null instead of NaN."""
    factors = HistoryFactors(
        strategy="plan",
        segments=("loyal", "rare"),
        factor=np.array([1.2, 1.0]),
        se=np.array([0.01, np.nan]),
        history_purchases=np.array([120.0, 0.0]),
        baseline_purchases=np.array([100.0, 0.0]),
        members=101,
        passes=1,
    )
    entry = factors.manifest()
    assert entry["history_factor_se"] == {"loyal": 0.01, "rare": None}
    json.dumps(entry, allow_nan=False)
