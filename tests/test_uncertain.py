"""The uncertain block: its validation, and draws with the stated marginals and copula."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import ROOT, cli_data, invoke, valid_data, write
from scipy import stats

from sim.errors import SimInputError
from sim.io.loader import load_scenario, scenario_from_dict
from sim.spec.scenario import MAX_MEMBERS, Scenario
from sim.spec.uncertain import TAIL, Uncertain, marginal, reach
from sim.sweeps.draws import parameter_draws, scenario_with

WINBACK = "behaviour.lapse.winback_per_open"
HALF_LIFE = "behaviour.fatigue.half_life_days"
SLOPE = "behaviour.satisfaction.purchase_slope"
LEAVE = "behaviour.leave_per_year"

# One of each continuous distribution, with its scipy counterpart's parameters stated apart.
PRIORS: dict[str, tuple[dict[str, Any], Any]] = {
    WINBACK: ({"dist": "uniform", "low": 0.0, "high": 0.1}, stats.uniform(0.0, 0.1)),
    HALF_LIFE: ({"dist": "loguniform", "low": 3.0, "high": 14.0}, stats.loguniform(3.0, 14.0)),
    SLOPE: (
        {"dist": "normal", "mean": 0.1, "sd": 0.05, "low": 0.0},
        stats.truncnorm(-2.0, np.inf, loc=0.1, scale=0.05),
    ),
    "behaviour.lapse.contact_hazard": (
        {"dist": "lognormal", "median": 0.0005, "sigma": 0.7},
        stats.lognorm(0.7, scale=0.0005),
    ),
    LEAVE: ({"dist": "beta", "a": 2.0, "b": 40.0}, stats.beta(2.0, 40.0)),
    "behaviour.lapse.winback_per_click": (
        {"dist": "triangular", "low": 0.0, "mode": 0.05, "high": 0.2},
        stats.triang(0.25, loc=0.0, scale=0.2),
    ),
}


def _scenario(uncertain: dict[str, Any]) -> Scenario:
    return scenario_from_dict({**valid_data(), "uncertain": uncertain}, "test.yaml")


def _problems(uncertain: dict[str, Any]) -> str:
    with pytest.raises(SimInputError) as info:
        _scenario(uncertain)
    return str(info.value)


def test_each_marginal_is_its_distribution() -> None:
    """A Latin hypercube puts one draw in each 1/K stratum of every value's uniform, so the
    empirical CDF of K draws is within 1/K of the distribution's CDF everywhere: the
    Kolmogorov-Smirnov statistic is at most 1/K."""
    sc = _scenario({path: spec for path, (spec, _) in PRIORS.items()})
    k = 2000
    draws = parameter_draws(sc.uncertain, k, seed=3)
    assert list(draws.columns) == list(PRIORS)
    for path, (_, expected) in PRIORS.items():
        assert stats.kstest(draws[path], expected.cdf).statistic <= 1 / k + 1e-9, path
        assert marginal(sc.uncertain.parameters[path]).mean() == pytest.approx(expected.mean())


def test_truncation_and_choice_shares() -> None:
    k = 999
    sc = _scenario(
        {
            SLOPE: {"dist": "normal", "mean": 0.1, "sd": 0.5, "low": 0.0, "high": 0.3},
            "behaviour.engagement.correlation": {"dist": "choice", "values": [0.0, 0.3, 0.6]},
        }
    )
    draws = parameter_draws(sc.uncertain, k, seed=1)
    assert draws[SLOPE].between(0.0, 0.3).all()
    # One draw per stratum of 1/K: each of three values takes exactly a third.
    assert draws["behaviour.engagement.correlation"].value_counts().to_dict() == {
        0.0: 333,
        0.3: 333,
        0.6: 333,
    }


def test_gaussian_copula_gives_its_rank_correlation() -> None:
    """Spearman's rho of a Gaussian copula with correlation r is (6 / pi) arcsin(r / 2); the
    sample's lies within 4 standard errors (1 - rho_s^2) / sqrt(K) of it, and the marginals
    stay as stated."""
    r, k = 0.6, 4000
    sc = _scenario(
        {
            WINBACK: PRIORS[WINBACK][0],
            HALF_LIFE: PRIORS[HALF_LIFE][0],
            "correlation": [{"between": [WINBACK, HALF_LIFE], "rho": r}],
        }
    )
    draws = parameter_draws(sc.uncertain, k, seed=5)
    expected = 6 / math.pi * math.asin(r / 2)
    sample = stats.spearmanr(draws[WINBACK], draws[HALF_LIFE]).statistic
    assert abs(sample - expected) < 4 * (1 - expected**2) / math.sqrt(k)
    assert stats.kstest(draws[WINBACK], PRIORS[WINBACK][1].cdf).pvalue > 0.001


def test_draws_depend_on_the_seed_only() -> None:
    sc = _scenario({WINBACK: PRIORS[WINBACK][0], HALF_LIFE: PRIORS[HALF_LIFE][0]})
    first = parameter_draws(sc.uncertain, 16, seed=2)
    pd.testing.assert_frame_equal(first, parameter_draws(sc.uncertain, 16, seed=2))
    assert not first.equals(parameter_draws(sc.uncertain, 16, seed=3))


def test_weighted_draws_from_a_file(tmp_path: Path) -> None:
    """Rows are drawn in proportion to their weight: 3 to 1 here, within 4 binomial SEs."""
    pd.DataFrame({WINBACK: [0.01, 0.05], "weight": [1.0, 3.0]}).to_csv(
        tmp_path / "posterior.csv", index=False
    )
    sc = _scenario({"from": "posterior.csv"})
    k = 4000
    draws = parameter_draws(sc.uncertain, k, seed=1, base=tmp_path)
    share = float((draws[WINBACK] == 0.05).mean())
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / k)
    pd.DataFrame({WINBACK: [0.01], "weight": [-1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SimInputError, match=r"bad.csv: row 2: weight must be a number >= 0"):
        parameter_draws(_scenario({"from": "bad.csv"}).uncertain, 4, seed=1, base=tmp_path)


def test_a_draw_is_the_scenario_with_its_values() -> None:
    sc = _scenario({WINBACK: PRIORS[WINBACK][0], "population.size": PRIORS[HALF_LIFE][0]})
    drawn = scenario_with(sc, {WINBACK: 0.07, "population.size": 120.6}, "draw 3")
    assert drawn.behaviour.lapse.winback_per_open == 0.07
    assert drawn.population.size == 121  # an integer value takes the nearest integer
    assert drawn.uncertain is None
    with pytest.raises(SimInputError, match=r"draw 3: behaviour.lapse.winback_per_open"):
        scenario_with(sc, {WINBACK: -0.5}, "draw 3")


@pytest.mark.parametrize(
    ("uncertain", "message"),
    [
        (
            {"behaviour.lapse.winbak_per_open": PRIORS[WINBACK][0]},
            "uncertain[behaviour.lapse.winbak_per_open]: no value 'winbak_per_open' in "
            "behaviour.lapse",
        ),
        ({"behaviour.lapse": PRIORS[WINBACK][0]}, "names a block, not a value"),
        ({"seed": PRIORS[WINBACK][0]}, "uncertain[seed]: seed cannot be uncertain"),
        (
            {"strategies.weekly.description": PRIORS[WINBACK][0]},
            "a uniform draw is a number",
        ),
        (
            {WINBACK: {"dist": "uniform", "low": 0.1, "high": 0.1}},
            "low (0.1) must be below high (0.1)",
        ),
        ({WINBACK: {"dist": "gamma", "shape": 2.0}}, "uncertain[behaviour.lapse.winback_per_open]"),
        ({"from": "p.csv", WINBACK: PRIORS[WINBACK][0]}, "give no paths beside it"),
        (
            {
                WINBACK: PRIORS[WINBACK][0],
                "correlation": [{"between": [WINBACK, HALF_LIFE], "rho": 0.5}],
            },
            "is not an uncertain value of this block",
        ),
        (
            {
                WINBACK: PRIORS[WINBACK][0],
                HALF_LIFE: PRIORS[HALF_LIFE][0],
                SLOPE: PRIORS[SLOPE][0],
                "correlation": [
                    {"between": [WINBACK, HALF_LIFE], "rho": 0.9},
                    {"between": [WINBACK, SLOPE], "rho": 0.9},
                    {"between": [HALF_LIFE, SLOPE], "rho": -0.9},
                ],
            },
            "not positive definite",
        ),
    ],
)
def test_bad_blocks_are_named(uncertain: dict[str, Any], message: str) -> None:
    assert message in _problems(uncertain)


@pytest.mark.parametrize(
    ("uncertain", "message"),
    [
        (
            {WINBACK: {"dist": "lognormal", "median": 0.01, "sigma": 0.9}},
            f"uncertain[{WINBACK}]: its draws reach 2.21: {WINBACK}: "
            "Input should be less than or equal to 1",
        ),
        (
            {HALF_LIFE: {"dist": "uniform", "low": -1.0, "high": 3.0}},
            f"uncertain[{HALF_LIFE}]: its draws reach -1: {HALF_LIFE}: Input should be greater "
            "than 0",
        ),
        (
            {HALF_LIFE: {"dist": "choice", "values": [3, 0, 5]}},
            f"uncertain[{HALF_LIFE}]: it can draw 0: {HALF_LIFE}",
        ),
        (
            {
                "population.size": {"dist": "uniform", "low": 100, "high": 0.6 * MAX_MEMBERS},
                "population.acquisition_per_day": {
                    "dist": "uniform", "low": 0.0, "high": 0.6 * MAX_MEMBERS / 60,
                },
            },
            "uncertain: the values together at an end of their ranges: population: size + "
            "acquisition_per_day x horizon_days",
        ),
    ],
)  # fmt: skip
def test_priors_that_reach_values_the_scenario_cannot_take_are_named(
    uncertain: dict[str, Any], message: str
) -> None:
    """A prior is checked at the ends of its support, before any draw: a normal or log-normal
    without a bound where the value has one, a range past a bound, a choice of a bad value,
    and values each valid alone but not together at their ends (the size and the joiners of
    this 60-day scenario each reach 0.6 of the most members a scenario may have)."""
    assert message in _problems(uncertain)


@pytest.mark.parametrize(
    "prior",
    [
        *(prior for prior, _ in PRIORS.values()),
        {"dist": "normal", "mean": 0.5, "sd": 0.2, "low": 0.1, "high": 0.6},
        {"dist": "triangular", "low": 1.0, "mode": 1.0, "high": 4.0},
        {"dist": "triangular", "low": 1.0, "mode": 4.0, "high": 4.0},
    ],
)
def test_the_ends_checked_are_the_priors_tail_quantiles(prior: dict[str, Any]) -> None:
    """reach's closed forms give scipy's quantiles at TAIL and 1 - TAIL."""
    parsed = Uncertain.model_validate({"x.y": prior}).parameters["x.y"]
    assert reach(parsed) == pytest.approx(marginal(parsed).ppf([TAIL, 1 - TAIL]), rel=1e-9)


def test_a_prior_within_the_values_range_passes() -> None:
    """The same distributions, bounded within what the scenario takes, are valid."""
    assert _scenario({WINBACK: {"dist": "normal", "mean": 0.01, "sd": 0.01, "low": 0, "high": 1}})
    assert _scenario({HALF_LIFE: {"dist": "choice", "values": [3, 5]}})


def test_validate_exits_2_with_the_path(tmp_path: Path) -> None:
    data = {**valid_data(), "uncertain": {"behaviour.fatigue.half_lif_days": PRIORS[HALF_LIFE][0]}}
    result = invoke("validate", write(tmp_path, data))
    assert result.exit_code == 2
    assert "uncertain[behaviour.fatigue.half_lif_days]" in result.output
    assert "did you mean 'half_life_days'?" in result.output


def test_a_plain_run_says_it_did_not_draw(tmp_path: Path) -> None:
    data = {**cli_data(), "replications": 2, "uncertain": {WINBACK: PRIORS[WINBACK][0]}}
    result = invoke("run", write(tmp_path, data), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "uncertain: this run used the scenario's own values" in result.output


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if not p.stem.startswith("bench"))
)
def test_shipped_priors_fit_every_shipped_scenario(path: Path, tmp_path: Path) -> None:
    """scenarios/parts/priors.yaml applies to each shipped scenario, holds its defaults inside
    every prior's support, and every one of 64 draws is a valid scenario."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["uncertain"] = {"include": "parts/priors.yaml"}
    shutil.copytree(ROOT / "scenarios" / "parts", tmp_path / "parts")  # its includes, alike
    sc = load_scenario(write(tmp_path, data))
    resolved = sc.model_dump()
    for name, dist in sc.uncertain.parameters.items():
        value = resolved
        for part in name.split("."):
            value = value[part]
        support = marginal(dist).support()
        assert support[0] <= value <= support[1], (name, value, support)
    draws = parameter_draws(sc.uncertain, 64, seed=1)
    for k in range(len(draws)):
        scenario_with(sc, draws.iloc[k].to_dict(), f"draw {k}")
