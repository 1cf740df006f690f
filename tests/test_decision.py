"""Decision outputs against closed forms: two options with a normal net-benefit difference, and
three with independent normal ones."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from builders import cli_data
from scipy import stats
from scipy.stats import qmc

import sim
from sim.analysis.decision import (
    decision_table,
    evpi,
    evppi,
    evppi_noise,
    evppi_table,
    pairwise,
    variance_parts,
)

MU, SIGMA, K = 0.5, 1.0, 2000


def _theta(seed: int, d: int = 1) -> np.ndarray:
    """K Latin-hypercube draws of d independent N(MU, SIGMA) parameters."""
    u = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(K)
    return stats.norm(MU, SIGMA).ppf(u)


def _closed_forms(sigma: float = SIGMA) -> dict[str, float]:
    """Net benefit 0 (silent) against theta ~ N(MU, sigma): E[max(theta, 0)] and the rest."""
    z = MU / sigma
    positive = MU * stats.norm.cdf(z) + sigma * stats.norm.pdf(z)  # E[max(theta, 0)]
    return {
        "p_best": stats.norm.cdf(z),
        "evpi": positive - max(MU, 0.0),
        "loss_plan": positive - MU,  # E[max(theta, 0) - theta] = E[max(-theta, 0)]
        "loss_silent": positive,
    }


def _se(x: np.ndarray) -> float:
    """Standard error of a mean of K draws as if independent: a bound for a Latin hypercube,
    whose variance is at most K / (K - 1) times that of independent draws."""
    return float(np.std(x, ddof=1) / math.sqrt(K) * math.sqrt(K / (K - 1)))


def test_two_options_with_a_normal_difference() -> None:
    theta = _theta(1)[:, 0]
    values = pd.DataFrame({"silent": np.zeros(K), "plan": theta})
    table = decision_table(values).set_index("strategy")
    exact = _closed_forms()
    best = np.maximum(theta, 0.0)
    assert table.loc["plan", "p_best"] == pytest.approx(
        exact["p_best"], abs=4 * math.sqrt(exact["p_best"] * (1 - exact["p_best"]) / K)
    )
    assert evpi(values) == pytest.approx(exact["evpi"], abs=4 * _se(best))
    assert table.loc["plan", "expected_loss"] == pytest.approx(
        exact["loss_plan"], abs=4 * _se(best - theta)
    )
    assert table.loc["silent", "expected_loss"] == pytest.approx(
        exact["loss_silent"], abs=4 * _se(best)
    )
    assert table.loc["plan", "p_beats_silent"] == table.loc["plan", "p_best"]
    assert list(table.index) == ["plan", "silent"]  # by expected value, MU > 0


def test_evppi_removes_noise_and_ignores_an_irrelevant_parameter() -> None:
    """With Monte Carlo noise N(0, SIGMA) on the plan's value, EVPPI of theta is the
    noise-free EVPI (the regression averages the noise out), while EVPI of the noisy values is
    that of N(MU, sqrt(2) SIGMA), 0.15 larger; EVPPI of a parameter the values do not depend
    on is near 0."""
    draws = _theta(2, d=2)
    theta, irrelevant = draws[:, 0], draws[:, 1]
    noise = np.random.default_rng(3).normal(0.0, SIGMA, K)
    values = pd.DataFrame({"silent": np.zeros(K), "plan": theta + noise})
    exact = _closed_forms()["evpi"]
    bound = 4 * _se(np.maximum(theta, 0.0))
    assert evppi(values, theta) == pytest.approx(exact, abs=bound)
    noisy = _closed_forms(math.sqrt(2) * SIGMA)["evpi"]
    assert evpi(values) == pytest.approx(noisy, abs=4 * _se(np.maximum(theta + noise, 0.0)))
    assert noisy - exact > 2 * bound  # the two differ by more than the tolerances
    assert evppi(values, irrelevant) < bound
    table = evppi_table(values, pd.DataFrame({"theta": theta, "irrelevant": irrelevant}))
    assert list(table["parameter"]) == ["theta", "irrelevant"]


def test_p_best_of_three_independent_options() -> None:
    """Silent (0) against two independent N(0, 1) plans: silent is best when both are
    negative (1/4), each plan in 3/8 of draws."""
    theta = stats.norm.ppf(qmc.LatinHypercube(d=2, rng=np.random.default_rng(4)).random(K))
    values = pd.DataFrame({"silent": np.zeros(K), "a": theta[:, 0], "b": theta[:, 1]})
    table = decision_table(values).set_index("strategy")
    for name, p in (("silent", 0.25), ("a", 0.375), ("b", 0.375)):
        assert table.loc[name, "p_best"] == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / K))
    assert table["p_best"].sum() == pytest.approx(1.0)
    # Pairwise: each plan beats silent and the other plan half the time; a strict win, so
    # a pair's two shares add up to 1 (no ties among continuous values).
    pairs = pairwise(values)
    for a, b in (("a", "silent"), ("b", "silent"), ("a", "b")):
        assert pairs.loc[a, b] == pytest.approx(0.5, abs=4 * math.sqrt(0.25 / K))
        assert pairs.loc[a, b] + pairs.loc[b, a] == pytest.approx(1.0)
    assert pairs.loc["a", "a"] == 0.0


def test_a_choice_parameter_by_group_means() -> None:
    """A parameter with few values: E[value | theta] is the group mean, so a parameter that
    decides the choice outright has EVPPI = EVPI."""
    theta = np.tile([0.0, 1.0], K // 2)
    values = pd.DataFrame({"silent": np.zeros(K), "plan": np.where(theta == 1.0, 1.0, -2.0)})
    assert evppi(values, theta) == pytest.approx(evpi(values))
    assert evpi(values) == pytest.approx(0.5 * 1.0 - max(-0.5, 0.0))


# --- on a scenario -------------------------------------------------------------------------------


def _uncertain_scenario(**fields: object) -> sim.Scenario:
    data = {
        **cli_data(),
        **fields,
        "uncertain": {
            "behaviour.lapse.winback_per_open": {"dist": "uniform", "low": 0.0, "high": 0.1},
            "behaviour.fatigue.half_life_days": {"dist": "loguniform", "low": 3.0, "high": 21.0},
        },
    }
    return sim.scenario_from_dict(data, "uncertain.yaml")


def test_decide_is_the_same_whatever_the_jobs() -> None:
    sc = _uncertain_scenario()
    one, two = (sim.decide(sc, draws=6, replications=2, jobs=j) for j in (1, 2))
    pd.testing.assert_frame_equal(one.decision, two.decision)
    pd.testing.assert_frame_equal(one.draws, two.draws)
    assert one.decision["p_best"].sum() == pytest.approx(1.0)
    assert set(one.decision["strategy"]) == set(sc.strategy_names)
    assert len(one.draws) == 6 * len(sc.strategy_names)
    assert list(one.evppi["parameter"]) == sorted(
        sc.uncertain.parameters, key=lambda p: -one.evppi.set_index("parameter").loc[p, "evppi"]
    )


def test_decide_on_a_minimised_objective_reports_the_kpi_itself() -> None:
    """Minimising sends per member: silent (no sends) is best in every draw, and the table's
    expected values are the KPI's own (0 for silent, positive for the others)."""
    sc = _uncertain_scenario(objective={"kpi": "message_cost", "sense": "min"})
    table = sim.decide(sc, draws=4, replications=1, jobs=1).decision.set_index("strategy")
    assert table.loc["silent", "p_best"] == 1.0
    assert table.loc["silent", "expected"] == 0.0
    assert (table.drop(index="silent")["expected"] > 0).all()
    assert (table["low"] <= table["high"]).all()


def test_variance_parts_recover_the_parameter_and_noise_spreads() -> None:
    """d(k, r) = theta_k + e_kr with sd(theta) = 2 and sd(e) = 3, R = 4: a draw mean's spread
    is 2 from the parameters and 3 / sqrt(4) = 1.5 from the noise. Tolerances are 4 standard
    errors of the variance estimates (chi-square with K - 1 and K (R - 1) degrees of freedom),
    carried to the standard deviations by the delta method."""
    k, r = 400, 4
    rng = np.random.default_rng(11)
    runs = rng.normal(0.0, 2.0, size=(k, 1)) + rng.normal(0.0, 3.0, size=(k, r))
    parameters, noise = variance_parts(runs)
    between = 4.0 + 9.0 / r
    assert parameters == pytest.approx(2.0, abs=4 * between * math.sqrt(2 / (k - 1)) / (2 * 2.0))
    noise_var_se = 9.0 / r * math.sqrt(2 / (k * (r - 1)))
    assert noise == pytest.approx(1.5, abs=4 * noise_var_se / (2 * 1.5))
    assert all(math.isnan(x) for x in variance_parts(runs[:, :1]))


def test_the_decision_table_splits_the_difference_to_the_leader() -> None:
    """Two strategies: plan = silent + theta_k + e_kr. The difference's spread splits as in
    the case above; the leader's own difference has none."""
    k, r = 400, 4
    rng = np.random.default_rng(12)
    base = rng.normal(10.0, 5.0, size=(k, r))  # shared by both: common random numbers
    plan = base + 1.0 + rng.normal(0.0, 2.0, size=(k, 1)) + rng.normal(0.0, 3.0, size=(k, r))
    index = pd.MultiIndex.from_product([range(k), range(r)], names=["draw", "replication"])
    runs = pd.DataFrame({"silent": base.ravel(), "plan": plan.ravel()}, index=index)
    table = decision_table(runs.groupby(level="draw").mean(), runs=runs).set_index("strategy")
    assert table.loc["plan", ["sd_parameters", "sd_noise"]].tolist() == [0.0, 0.0]
    assert table.loc["silent", "sd_parameters"] == pytest.approx(2.0, abs=0.3)
    assert table.loc["silent", "sd_noise"] == pytest.approx(1.5, abs=0.1)


def test_the_evppi_noise_level_is_below_a_deciding_parameter() -> None:
    """The plan's net benefit is theta plus noise: theta's EVPPI stands far above what made-up
    parameters get, and a parameter the benefit ignores stays near them."""
    k = 256
    rng = np.random.default_rng(5)
    theta, other = rng.normal(MU, SIGMA, size=k), rng.random(k)
    values = pd.DataFrame({"silent": np.zeros(k), "plan": theta + rng.normal(0, 1, size=k)})
    noise = evppi_noise(values, seed=1)
    assert 0.0 < noise < 0.5 * evppi(values, theta)
    assert evppi(values, other) < 2 * noise


def test_evppi_of_draws_over_many_orders_of_magnitude() -> None:
    """Values spread over 16 orders of magnitude: a spline on them would be numerically
    singular, and EVPPI smooths on the draws' ranks, so the values and their ranks give one
    estimate (it does not depend on how the parameter is scaled)."""
    rng = np.random.default_rng(5)
    theta = 10 ** rng.uniform(-8, 8, 64)
    values = pd.DataFrame(
        {"a": rng.normal(size=64), "b": rng.normal(size=64) + 2.0 * (theta > 1) - 1.0}
    )
    ranks = stats.rankdata(theta)
    assert evppi(values, theta) == pytest.approx(evppi(values, ranks))
    assert evppi(values, theta) > 0


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_evppi_does_not_depend_on_the_parameter_s_unit(scale: float) -> None:
    """An exit rate of order 1e-3 and the same draws in other units give one EVPPI, and no
    EVPPI exceeds the EVPI (the regression cannot know more than perfect information): on raw
    values of order 1e-3 the spline's smoothing once overshot the data tenfold."""
    rng = np.random.default_rng(11)
    theta = rng.uniform(1.1, 2.1, 32)
    values = pd.DataFrame(
        {
            "plan": rng.normal(0.0, 50.0, 32),
            "silent": 300.0 * (theta - 1.6) + rng.normal(0.0, 400.0, 32),
            "capped": 40.0 + rng.normal(0.0, 50.0, 32),
        }
    )
    reference = evppi(values, theta)
    assert evppi(values, theta * scale) == pytest.approx(reference, rel=1e-6)
    assert evppi(values, theta * scale) <= evpi(values)
